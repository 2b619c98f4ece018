"""Importing a spaCy InMemoryLookupKB folder into a KBBuilder."""

import numpy as np
import pytest

from elkit.errors import KBError
from elkit.kb import KBBuilder, open_kb
from elkit.kb.spacy_kb import add_spacy_kb

spacy_kb_module = pytest.importorskip("spacy.kb")
vocab_module = pytest.importorskip("spacy.vocab")


@pytest.fixture
def spacy_folder(tmp_path):
    spacy_kb = spacy_kb_module.InMemoryLookupKB(vocab_module.Vocab(), entity_vector_length=3)
    spacy_kb.add_entity(entity="Q42", freq=12, entity_vector=[1.0, 0.0, 0.0])
    spacy_kb.add_entity(entity="Q5301561", freq=3, entity_vector=[0.0, 1.0, 0.0])
    spacy_kb.add_alias(alias="Douglas", entities=["Q42", "Q5301561"], probabilities=[0.8, 0.1])
    spacy_kb.add_alias(alias="Douglas Adams", entities=["Q42"], probabilities=[0.9])
    folder = tmp_path / "spacy_kb"
    spacy_kb.to_disk(folder)
    return folder


def test_spacy_kb_import(tmp_path, spacy_folder):
    builder = KBBuilder()
    assert add_spacy_kb(builder, spacy_folder) == (2, 3)
    builder.build(tmp_path / "kb")
    kb = open_kb(tmp_path / "kb")
    assert kb.entity_count == 2 and kb.alias_count == 2
    douglas = kb.get_alias_candidates("Douglas")
    assert [candidate.entity_id for candidate in douglas] == ["Q42", "Q5301561"]
    assert [candidate.prior for candidate in douglas] == pytest.approx([0.8, 0.1], abs=1e-6)
    assert [candidate.prior for candidate in kb.get_alias_candidates("Douglas Adams")] == pytest.approx([0.9], abs=1e-6)
    assert [candidate.entity_id for candidate in kb.get_normalized_candidates("douglas adams")] == ["Q42"]
    assert kb.get_entity("Q42").popularity == 12.0
    assert kb.get_entity("Q5301561").popularity == 3.0
    assert kb.vector_dim == 3
    np.testing.assert_allclose(kb.get_vector("Q42"), [1.0, 0.0, 0.0])
    [found] = kb.get_dense_candidates(np.array([[0.1, 0.9, 0.0]], dtype=np.float32), 1)
    assert [candidate.entity_id for candidate in found] == ["Q5301561"]


def test_spacy_kb_import_without_vectors(tmp_path, spacy_folder):
    builder = KBBuilder()
    add_spacy_kb(builder, spacy_folder, vectors=False)
    assert builder.build().vector_dim == 0


def test_a_folder_that_is_not_a_spacy_kb(tmp_path):
    with pytest.raises(KBError, match="not a spaCy KB folder"):
        add_spacy_kb(KBBuilder(), tmp_path)
    (tmp_path / "contents").write_bytes(b"\x00\x01garbage")
    with pytest.raises(KBError, match="cannot be read as a spaCy KB"):
        add_spacy_kb(KBBuilder(), tmp_path)
