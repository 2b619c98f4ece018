"""The honest training protocol: choices are made on held-out training documents, never on the dev set."""

import json

import pytest

from elkit.config import load_config
from elkit.doc import NIL
from elkit.linking.selection import held_out_split
from elkit.linking.training import train_linking

from .support import ENTITIES, TRAIN, make_docs, make_kb, write_vectors


def test_held_out_split_takes_runs_of_documents():
    docs = list(range(100))
    learn, held = held_out_split(docs, 0.1, seed=4)
    assert len(held) == 10 and sorted(learn + held) == docs
    assert held == list(range(held[0], held[0] + 10))  # one run of ten consecutive documents
    assert held_out_split(docs, 0.1, seed=4) == (learn, held)
    assert held_out_split(docs, 0.1, seed=5)[1] != held
    learn, held = held_out_split(docs, 0.25, seed=1)
    assert len(held) == 25 and not set(learn) & set(held)  # two runs of ten and one of five


def test_held_out_split_on_small_corpora():
    assert held_out_split([1], 0.5) == ([1], [])
    assert held_out_split([1, 2, 3], 0.0) == ([1, 2, 3], [])
    learn, held = held_out_split(list(range(14)), 0.2)
    assert len(held) == 3 and learn  # runs of one document: the corpus is too small for longer runs
    learn, held = held_out_split([1, 2], 0.9)
    assert len(held) == 1 and len(learn) == 1  # never everything


@pytest.fixture(scope="module")
def linking_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("selection")
    make_kb().to_disk(folder / "kb")
    vectors = write_vectors(folder / "vectors")
    text = f"""
[nlp]
lang = "en"
pipeline = ["entity_linker"]

[components.entity_linker]
factory = "elkit.EntityLinker.v1"
kb = "{folder / 'kb'}"
vectors = "{vectors}"
coherence = false

[training]
seed = 0
max_epochs = 6
patience = 6
held_out_share = 0.3
"""
    (folder / "link.toml").write_text(text, encoding="utf-8")
    return load_config(folder / "link.toml")


def wrong_links(docs):
    """Copies whose gold ids are all wrong: every linked span points at another entity, NIL spans at one."""
    ids = [entity_id for entity_id, *_ in ENTITIES]
    for doc in docs:
        doc.ents = [span.replace(kb_id=ids[(ids.index(span.kb_id) + 1) % len(ids)] if span.kb_id in ids
                                 else ids[0]) for span in doc.ents]
    return docs


def test_dev_set_decides_nothing(linking_config, tmp_path):
    train = make_docs(TRAIN * 3)
    right_dev, wrong_dev = make_docs(), wrong_links(make_docs())
    assert all(span.kb_id != NIL for doc in wrong_dev for span in doc.ents)
    runs = []
    for name, dev in (("right", right_dev), ("wrong", wrong_dev)):
        nlp, result = train_linking(linking_config, train, dev, tmp_path / name)
        report = json.loads((tmp_path / name / "training.json").read_text(encoding="utf-8"))
        runs.append((result.best_epoch, result.nil_offset, report["best_held_out_accuracy"],
                     nlp.get_pipe("entity_linker").to_bytes()))
        assert report["held_out_documents"] == 13
        assert [record["epoch"] for record in result.history if "epoch" in record] == list(range(1, 7))
        assert "dev_accuracy" in result.history[-1]
    assert runs[0] == runs[1]  # same epoch, NIL offset, held-out score and weights, whatever dev says
    assert result.history[-1]["dev_accuracy"] < 0.5  # ... and dev is still reported
