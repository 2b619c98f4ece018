"""Entity vectors and the approximate nearest-neighbour index over them (usearch HNSW, cosine)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from elkit.errors import KBError
from elkit.kb.index import KBIndex
from elkit.kb.layout import MANIFEST, file_entry, read_kb_manifest, write_kb_manifest

__all__ = ["TextEncoderLike", "attach_vectors", "embed_kb", "unit_texts"]

Units = Literal["entities", "aliases"]


class TextEncoderLike(Protocol):
    """Anything that turns texts into L2-normalised vectors."""

    @property
    def dim(self) -> int:
        """The vector width."""
        ...

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Return [len(texts), dim] float32 vectors."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def attach_vectors(
    index: KBIndex,
    entity_vectors: np.ndarray,
    unit_vectors: np.ndarray | None = None,
    unit_rows: np.ndarray | None = None,
    units: Units = "entities",
    connectivity: int = 16,
) -> None:
    """Give a compiled index its entity vectors and a usearch index for dense candidate search.

    Args:
        index: The index to extend (in memory; `save_index` writes the vectors with it).
        entity_vectors: [entity_count, dim] one vector per entity row.
        unit_vectors: [units, dim] the vectors to search, when they are not the entity vectors (one per
            alias, say); each belongs to the entity row in `unit_rows`.
        unit_rows: [units] the entity row of each unit vector.
        units: What the searched vectors stand for, recorded in the manifest.
        connectivity: The HNSW graph degree.
    """
    from usearch.index import Index

    if entity_vectors.ndim != 2 or entity_vectors.shape[0] != index.entity_count:
        raise KBError(f"expected [{index.entity_count}, dim] entity vectors, got {list(entity_vectors.shape)}")
    entity_vectors = _normalise(np.asarray(entity_vectors, dtype=np.float32))
    if unit_vectors is None:
        unit_vectors, unit_rows = entity_vectors, np.arange(index.entity_count, dtype=np.int64)
    else:
        unit_vectors = _normalise(np.asarray(unit_vectors, dtype=np.float32))
    assert unit_rows is not None
    dim = int(entity_vectors.shape[1])
    dense = Index(ndim=dim, metric="cos", dtype="f16", connectivity=connectivity, multi=units != "entities")
    dense.add(np.asarray(unit_rows, dtype=np.uint64), unit_vectors, log=False)
    index.vectors = entity_vectors.astype(np.float16)
    index.dense = dense
    index.manifest["dense"] = {
        "dim": dim,
        "metric": "cos",
        "units": units,
        "vectors": len(unit_rows),
        "vectors_per_entity": float(len(unit_rows)) / max(index.entity_count, 1),
    }


def unit_texts(index: KBIndex, units: Units) -> tuple[list[str], np.ndarray]:
    """Return the texts to embed and the entity row of each.

    ``entities``: one text per entity, its name and description. ``aliases``: that text plus every alias that
    names the entity, each embedded on its own (better for vocabularies of synonyms, such as MEDIC).
    """
    texts = [index.entity_at(row).text() for row in range(index.entity_count)]
    rows = list(range(index.entity_count))
    if units == "aliases":
        seen = {(row, text) for row, text in zip(rows, texts, strict=True)}
        for alias_id, alias in enumerate(index.iter_aliases()):
            for row in index.alias_entries(alias_id)[0]:
                if (row, alias) not in seen:
                    seen.add((row, alias))
                    texts.append(alias)
                    rows.append(row)
    return texts, np.asarray(rows, dtype=np.int64)


def embed_kb(
    folder: str | Path,
    encoder: TextEncoderLike,
    units: Units = "entities",
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Compute entity vectors for a KB folder with `encoder` and add the dense index to it.

    Args:
        folder: The KB folder (rewritten in place: vectors.f16, dense.usearch and the manifest).
        encoder: The text encoder.
        units: ``entities`` or ``aliases`` (see `unit_texts`).
        batch_size: Texts per encoder batch.
        progress: Called with the number of texts done after each batch.
        total: Called once with the number of texts to embed.

    Returns:
        The manifest's new ``dense`` entry.
    """
    folder = Path(folder)
    index = KBIndex.open(folder)
    texts, rows = unit_texts(index, units)
    if total is not None:
        total(len(texts))
    vectors = encoder.encode(texts, batch_size=batch_size, progress=progress)
    entity_vectors = np.zeros((index.entity_count, vectors.shape[1]), dtype=np.float32)
    np.add.at(entity_vectors, rows, vectors)
    unit_vectors = None if units == "entities" else vectors
    attach_vectors(index, entity_vectors, unit_vectors, rows if unit_vectors is not None else None, units)
    spec = dict(index.manifest["dense"], encoder=getattr(encoder, "name", type(encoder).__name__))
    write_dense(folder, index.vectors, index.dense, spec)
    return spec


def write_dense(folder: Path, vectors: Any, dense: Any, spec: dict[str, Any]) -> None:
    """Write vectors and the dense index into an existing KB folder and record them in its manifest."""
    manifest = read_kb_manifest(folder)
    np.ascontiguousarray(vectors, dtype=np.float16).tofile(folder / "vectors.f16.partial")
    dense.save(str(folder / "dense.usearch.partial"))
    for name in ("vectors.f16", "dense.usearch"):
        (folder / f"{name}.partial").replace(folder / name)
        path = folder / name
        manifest["files"][name] = file_entry(path)
    manifest["dense"] = spec
    write_kb_manifest(folder, manifest, f"{MANIFEST}.partial").replace(folder / MANIFEST)
