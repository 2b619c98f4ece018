"""Small KB, documents and word vectors for the linker tests."""

from pathlib import Path

import numpy as np
import torch

from elkit.doc import Doc
from elkit.encoders.vectors import save_vectors
from elkit.kb import InMemoryKB
from elkit.tokenize import Tokenizer

ENTITIES = [
    ("Q90", "Paris", "capital of France", ("LOC",), 90.0),
    ("Q830149", "Paris, Texas", "city in Texas", ("LOC",), 10.0),
    ("Q47899", "Paris Hilton", "American media personality and singer", ("PER",), 40.0),
    ("Q7259", "Ada Lovelace", "English mathematician", ("PER",), 50.0),
    ("Q312", "Apple Inc.", "American technology company", ("ORG",), 80.0),
    ("Q89", "apple", "fruit of the apple tree", ("MISC",), 60.0),
]
ALIASES = [
    ("Paris", ["Q90", "Q830149", "Q47899"], [0.6, 0.1, 0.3]),
    ("Ada Lovelace", ["Q7259"], [1.0]),
    ("Lovelace", ["Q7259"], [1.0]),
    ("Apple", ["Q312", "Q89"], [0.5, 0.5]),
]

# (text, [(start word, end word, label, kb_id)])
TRAIN = [
    ("Paris is the capital of France and a big city .", [(0, 1, "LOC", "Q90")]),
    ("The singer Paris released a party song on television .", [(2, 3, "PER", "Q47899")]),
    ("Paris in Texas is a small city near Dallas .", [(0, 1, "LOC", "Q830149")]),
    ("Apple sold more iPhone phones and computers .", [(0, 1, "ORG", "Q312")]),
    ("She ate an Apple from the tree in the garden .", [(3, 4, "MISC", "Q89")]),
    ("Ada Lovelace wrote about the engine .", [(0, 2, "PER", "Q7259")]),
    ("Lovelace studied mathematics in London .", [(0, 1, "PER", "Q7259")]),
    ("Zorblat visited the city of France .", [(0, 1, "PER", "NIL")]),
    ("The singer Paris sang on television at a party .", [(2, 3, "PER", "Q47899")]),
    ("Paris hosted the government of France in the capital .", [(0, 1, "LOC", "Q90")]),
    ("Apple announced new computers and phones .", [(0, 1, "ORG", "Q312")]),
    ("An Apple fell from the tree in the garden .", [(1, 2, "MISC", "Q89")]),
    ("Near Dallas , Paris in Texas is small .", [(3, 4, "LOC", "Q830149")]),
    ("Qwixel met the singer at a party .", [(0, 1, "PER", "NIL")]),
]


def make_kb(with_aliases: bool = True) -> InMemoryKB:
    kb = InMemoryKB()
    for entity_id, name, description, types, popularity in ENTITIES:
        kb.add_entity(entity_id, name, description, types, popularity)
    if with_aliases:
        for alias, ids, priors in ALIASES:
            kb.add_alias(alias, ids, priors)
    return kb


def make_docs(rows=TRAIN, with_ids: bool = True) -> list[Doc]:
    tokenizer = Tokenizer()
    docs = []
    for text, spans in rows:
        doc = tokenizer(text)
        doc.ents = [doc.span(start, end, label, kb_id=kb_id if with_ids else "") for start, end, label, kb_id in spans]
        docs.append(doc)
    return docs


def write_vectors(folder: Path, dim: int = 24) -> Path:
    words = sorted({word.lower() for text, _ in TRAIN for word in text.split()}
                   | {"capital", "france", "texas", "city", "singer", "mathematician", "company", "fruit", "tree",
                      "american", "technology", "media", "personality", "english"})
    generator = np.random.default_rng(0)
    save_vectors(folder, words, torch.from_numpy(generator.normal(size=(len(words), dim)).astype(np.float32)))
    return folder
