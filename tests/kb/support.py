"""Shared fixtures for the KB, candidate and KB command-line tests: small source files and a fake encoder."""

import json
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ENTITIES = [
    {
        "entity_id": "Q90",
        "label": "Paris",
        "description": "capital of France",
        "entity_type": "LOC",
        "aliases": ["City of Light"],
        "popularity": 90,
        "url": "https://www.wikidata.org/wiki/Q90",
    },
    {
        "entity_id": "Q830149",
        "label": "Paris",
        "description": "city in Texas",
        "entity_type": ["LOC", "GPE"],
        "popularity": 10,
    },
    {
        "entity_id": "Q7259",
        "label": "Ada Lovelace",
        "description": "English mathematician",
        "entity_type": "PER",
        "aliases": ["Augusta Ada King"],
        "popularity": 50,
        "other_ids": ["enwiki:Ada_Lovelace"],
    },
    {
        "entity_id": "Q1",
        "label": "Universe",
        "description": "totality of space and time",
        "aliases": ["cosmos"],
        "popularity": 5,
    },
]

ALIAS_TABLE = "alias\tentity_id\tcount\nParis\tQ90\t30\nParis\tQ830149\t10\nAda\tQ7259\t4\nLutetia\tQ90\t2\n"


def write_entities(folder: Path, records: Sequence[dict] = ENTITIES, name: str = "entities.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def write_text(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return path


class TrigramEncoder:
    """A deterministic stand-in for a sentence encoder: L2-normalised bags of hashed character 3-grams."""

    name = "trigram-test-encoder"

    def __init__(self, width: int = 64) -> None:
        self.width = width
        self.calls = 0

    @property
    def dim(self) -> int:
        return self.width

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), self.width), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for start in range(len(padded) - 2):
                vectors[row, zlib.crc32(padded[start : start + 3].encode("utf-8")) % self.width] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if progress is not None:
            progress(len(texts))
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
