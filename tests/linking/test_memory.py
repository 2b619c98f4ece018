"""MentionMemory: neighbour-weighted p(entity | mention, context), and its place in the linker."""

import numpy as np
import pytest

from elkit.doc import NIL
from elkit.linking import EntityLinker
from elkit.linking.features import FEATURES
from elkit.linking.tables import MentionMemory

from .support import TRAIN, make_docs, make_kb, write_vectors


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


SPORT = unit(1.0, 0.0, 0.0)
POLITICS = unit(0.0, 1.0, 0.0)
TRADE = unit(0.0, 0.0, 1.0)


def filled() -> MentionMemory:
    memory = MentionMemory(3)
    # "england" is the country in politics documents and the team in sports documents
    for number in range(3):
        memory.add("england", "England", f"politics-{number}", f"politics-{number}", np.stack([POLITICS, POLITICS]))
    memory.add("england", "England_team", "sport-0", "sport-0", np.stack([SPORT, SPORT]))
    memory.add("england", "England_team", "sport-1", "sport-1", np.stack([SPORT, SPORT]))
    memory.add("england", NIL, "trade-0", "trade-0", np.stack([TRADE, TRADE]))
    return memory


def test_neighbours_outweigh_raw_counts():
    memory = filled()
    local, document, nearest_local, nearest_document = memory.lookup("england", np.stack([SPORT, SPORT]))
    assert document["England_team"] > 0.95 and local["England_team"] > 0.95
    assert nearest_local == nearest_document == "England_team"
    assert sum(document.values()) == pytest.approx(1.0)
    local, document, _, nearest = memory.lookup("england", np.stack([POLITICS, POLITICS]))
    assert document["England"] > 0.95 and nearest == "England"
    assert memory.lookup("england", np.stack([TRADE, TRADE]))[1][NIL] > 0.95


def test_unseen_text_and_held_out_occurrences():
    memory = filled()
    assert memory.lookup("scotland", np.stack([SPORT, SPORT])) == ({}, {}, "", "")
    # leaving out one sports document leaves the other; leaving out both sends the weight to the rest
    _, document, _, _ = memory.lookup("england", np.stack([SPORT, SPORT]), left_out="sport-0")
    assert document["England_team"] > 0.95
    lone = MentionMemory(3)
    lone.add("wales", "Wales", "doc-0", "doc-0", np.stack([SPORT, SPORT]))
    assert lone.lookup("wales", np.stack([SPORT, SPORT]), left_out="doc-0") == ({}, {}, "", "")
    assert lone.lookup("wales", np.stack([SPORT, SPORT]), left_out="doc-1")[1] == {"Wales": pytest.approx(1.0)}


def test_arrays_round_trip_and_share_document_vectors():
    memory = filled()
    memory.add("three lions", "England_team", "sport-0", "sport-0", np.stack([SPORT, SPORT]))
    rows, local, document_rows, documents = memory.arrays()
    assert len(rows) == len(local) == len(document_rows) == 7
    assert len(documents) == 6  # one vector per document, not per mention
    loaded = MentionMemory(3)
    loaded.load_arrays(rows, local, document_rows, documents)
    query = np.stack([SPORT, POLITICS])
    for left, right in zip(loaded.lookup("england", query), memory.lookup("england", query), strict=True):
        assert left == (pytest.approx(right) if isinstance(right, dict) else right)
    assert loaded.lookup("three lions", query)[1] == {"England_team": pytest.approx(1.0)}
    with pytest.raises(ValueError, match="memory rows disagree"):
        loaded.load_arrays(rows[:-1], local, document_rows, documents)


def test_linker_fills_memory_features_and_saves_them(tmp_path):
    vectors = str(write_vectors(tmp_path / "vectors"))
    linker = EntityLinker("linker", vectors=vectors)
    docs = make_docs()
    linker.initialize(lambda: docs, kb=make_kb())
    assert len(linker.memory) == sum(1 for doc in docs for span in doc.ents if span.kb_id)
    column = FEATURES.index("memory_document")
    # while training, a document's own mentions are not in its memory: "Ada Lovelace" is only in one document
    training = linker.training_inputs(make_docs())
    ada = next(item for item in training if item.mention.span.text == "Ada Lovelace")
    assert ada.features[:, column].sum() == 0.0
    for _ in range(5):
        linker.update(docs)
    linker.finish_training()
    mentions = linker.link_inputs(make_docs())
    paris = next(item for item in mentions if item.mention.span.text == "Paris")
    assert paris.features[:, column].sum() == pytest.approx(1.0, abs=1e-4)
    other = EntityLinker("linker", vectors=vectors).from_bytes(linker.to_bytes())
    other.set_kb(linker.kb)
    again = other.link_inputs(make_docs())
    for left, right in zip(mentions, again, strict=True):
        np.testing.assert_allclose(left.features, right.features, atol=1e-3)
    off = EntityLinker("linker", vectors=vectors, memory=False)
    off.initialize(lambda: docs, kb=make_kb())
    assert len(off.memory) == 0


def test_keys_with_tabs_and_newlines_survive_saving():
    memory = MentionMemory(3)
    memory.add("odd\tkey\nhere", "Q1", "doc", "doc", np.stack([SPORT, SPORT]))
    rows, local, document_rows, documents = memory.arrays()
    loaded = MentionMemory(3)
    loaded.load_arrays(rows, local, document_rows, documents)
    assert loaded.lookup("odd\tkey\nhere", np.stack([SPORT, SPORT]))[1] == {"Q1": pytest.approx(1.0)}
    with pytest.raises(ValueError, match="memory row 1"):
        loaded.load_arrays(["not json"], local, document_rows, documents)


def test_learned_counts_leave_the_document_out(tmp_path):
    """While training, an entity seen only in the mention's own document looks unseen: no vector and no count.

    (A count without a vector would tell the scorer which candidate is gold, a hint that never exists on new text.)
    """
    vectors = str(write_vectors(tmp_path / "vectors"))
    rows = [row for row in TRAIN if row[0] != "Near Dallas , Paris in Texas is small ."]
    linker = EntityLinker("linker", vectors=vectors)
    linker.initialize(lambda: make_docs(rows), kb=make_kb())
    has_learned, count = FEATURES.index("has_learned"), FEATURES.index("learned_log_count")

    def texas(training: bool) -> np.ndarray:
        docs = make_docs(rows)
        inputs = linker.training_inputs(docs) if training else linker.link_inputs(docs)
        item = next(item for item in inputs if item.mention.span.kb_id == "Q830149")
        return next(row for candidate, row in zip(item.candidates, item.features, strict=True)
                    if candidate.entity_id == "Q830149")

    assert texas(True)[has_learned] == 0.0 and texas(True)[count] == 0.0
    assert texas(False)[has_learned] == 1.0 and texas(False)[count] == pytest.approx(np.log1p(1) / 5.0)
    paris = next(item for item in linker.training_inputs(make_docs()) if item.mention.span.kb_id == "Q90")
    row = next(row for candidate, row in zip(paris.candidates, paris.features, strict=True)
               if candidate.entity_id == "Q90")
    assert row[count] == pytest.approx(np.log1p(1) / 5.0)  # two training mentions, one of them its own
