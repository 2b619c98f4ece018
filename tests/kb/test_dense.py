"""Entity vectors: embed_kb on a KB folder, attach_vectors on an in-memory index, with a fake encoder."""

import numpy as np
import pytest

from elkit.errors import KBError
from elkit.kb import Entity, KBBuilder, open_kb
from elkit.kb.dense import attach_vectors, embed_kb, unit_texts
from tests.kb.support import TrigramEncoder

ENTITIES = [
    Entity("D1", "Tooth Agenesis", "congenitally missing teeth"),
    Entity("D2", "Breast Cancer", "a malignant tumour of the breast"),
    Entity("D3", "Influenza", "a viral infection"),
]
ALIASES = {
    "D1": ["Tooth Agenesis", "hypodontia"],
    "D2": ["Breast Cancer", "mammary carcinoma"],
    "D3": ["Influenza", "flu"],
}


def build(folder=None):
    builder = KBBuilder()
    for entity in ENTITIES:
        builder.add_entity(entity, ALIASES[entity.entity_id])
    return builder.build(folder)


def nearest(kb, encoder, texts, limit=3):
    return [
        [candidate.entity_id for candidate in found] for found in kb.get_dense_candidates(encoder.encode(texts), limit)
    ]


def test_the_fake_encoder_is_deterministic_and_normalised():
    encoder = TrigramEncoder()
    first, second = encoder.encode(["Influenza", "Influenza"]), TrigramEncoder().encode(["Influenza", "flu"])
    assert first.shape == (2, 64) and first.dtype == np.float32
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(np.linalg.norm(second, axis=1), 1.0, rtol=1e-6)
    assert float(second[0] @ second[1]) < 0.99


def test_embed_kb_adds_a_dense_index(tmp_path):
    build(tmp_path / "kb")
    assert open_kb(tmp_path / "kb").vector_dim == 0
    with pytest.raises(KBError, match="no dense index"):
        open_kb(tmp_path / "kb").get_dense_candidates(np.zeros((1, 64), dtype=np.float32))
    done = []
    spec = embed_kb(tmp_path / "kb", TrigramEncoder(), progress=done.append)
    assert spec["dim"] == 64 and spec["vectors"] == 3 and spec["units"] == "entities"
    assert spec["encoder"] == TrigramEncoder.name and sum(done) == 3
    kb = open_kb(tmp_path / "kb")
    kb.verify()  # the manifest was rewritten with the new files' digests
    assert kb.vector_dim == 64
    encoder = TrigramEncoder()
    texts = [entity.text() for entity in ENTITIES]
    assert [found[0] for found in nearest(kb, encoder, texts)] == ["D1", "D2", "D3"]
    [[best, *_]] = kb.get_dense_candidates(encoder.encode([texts[1]]), 3)
    assert best.scores["dense"] == pytest.approx(1.0, abs=2e-3)  # vectors are stored as float16
    stored = kb.get_vector("D2")
    assert stored.dtype == np.float32
    np.testing.assert_allclose(stored, encoder.encode([texts[1]])[0], atol=2e-3)
    with pytest.raises(KBError, match="must have shape"):
        kb.get_dense_candidates(np.zeros((1, 8), dtype=np.float32))


def test_embed_kb_with_alias_units(tmp_path):
    build(tmp_path / "kb")
    texts, rows = unit_texts(open_kb(tmp_path / "kb").index, "aliases")
    # Each entity's name-and-description text, then every alias on its own.
    expected = {(entity.entity_id, entity.text()) for entity in ENTITIES}
    expected |= {(entity_id, alias) for entity_id, aliases in ALIASES.items() for alias in aliases}
    index = open_kb(tmp_path / "kb").index
    assert sorted((index.entity_id_at(int(row)), text) for row, text in zip(rows, texts, strict=True)) == sorted(
        expected
    )
    spec = embed_kb(tmp_path / "kb", TrigramEncoder(), units="aliases")
    assert spec["units"] == "aliases" and spec["vectors"] == len(texts)
    kb = open_kb(tmp_path / "kb")
    found = nearest(kb, TrigramEncoder(), ["mammary carcinoma", "hypodontia", "flu"])
    assert [ids[0] for ids in found] == ["D2", "D1", "D3"]
    assert all(len(ids) == len(set(ids)) == 3 for ids in found)  # one result per entity, not per vector


def test_attach_vectors_to_an_in_memory_index():
    index = build()
    encoder = TrigramEncoder()
    rows_texts = [index.entity_at(row).text() for row in range(index.entity_count)]
    with pytest.raises(KBError, match="entity vectors"):
        attach_vectors(index, encoder.encode(rows_texts[:2]))
    attach_vectors(index, encoder.encode(rows_texts) * 3.0)  # vectors are normalised on the way in
    matches = index.search_vectors(encoder.encode(["Influenza: a viral infection"]), 2)
    assert index.entity_id_at(matches[0][0][0]) == "D3"
    assert matches[0][0][1] == pytest.approx(1.0, abs=2e-3)
    assert len(matches[0]) == 2


def test_builder_vectors_must_cover_every_entity():
    builder = KBBuilder()
    builder.add_entity(Entity("A", "alpha"))
    builder.add_entity(Entity("B", "beta"))
    builder.set_vector("A", [1.0, 0.0])
    with pytest.raises(KBError, match="has 3 values; the others have 2"):
        builder.set_vector("B", [1.0, 0.0, 0.0])
    with pytest.raises(KBError, match="unknown entity 'C'"):
        builder.set_vector("C", [1.0, 0.0])
    with pytest.raises(KBError, match="1 of 2 entities have vectors"):
        builder.build()
    builder.set_vector("B", [0.0, 1.0])
    index = builder.build()
    assert index.vector_dim == 2
    assert index.entity_id_at(index.search_vectors(np.array([[0.1, 0.9]], dtype=np.float32), 1)[0][0][0]) == "B"
