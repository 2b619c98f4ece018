"""Entity vectors computed once per KB for the general linker (``precompute_embeddings``)."""

import numpy as np
import pytest

from elkit.errors import ConfigError
from elkit.kb import InMemoryKB
from elkit.linking.builder import create_simple
from elkit.linking.entity_vectors import EntityVectors, kb_fingerprint
from elkit.linking.general import GeneralLinker
from tests.linking.test_general import WordEncoder, doc_with, linker_with, small_kb


class RecordingEncoder(WordEncoder):
    """The bag-of-words encoder, keeping every text it was asked to encode."""

    name = "recording-words"

    def __init__(self):
        super().__init__()
        self.texts = []

    def encode(self, texts, **options):
        self.texts.extend(texts)
        return super().encode(texts)


def jaguar_doc():
    return doc_with("Jaguar unveiled a car in Berlin, said Angela Merkel.",
                    [("Jaguar", "ORG", ""), ("Berlin", "LOC", ""), ("Angela Merkel", "PER", "")])


def links(doc):
    return [(span.text, span.kb_id, round(float(span.link_score), 2)) for span in doc.ents]


def test_precomputed_vectors_link_alike_and_no_candidate_text_is_encoded(tmp_path):
    kb = small_kb()
    plain = linker_with(kb)(jaguar_doc())

    linker = linker_with(kb)
    encoder = RecordingEncoder()
    linker.set_encoder(encoder)
    vectors = linker.precompute_entity_vectors(tmp_path / "vectors")
    assert vectors.texts.shape == (4, WordEncoder.dim) and vectors.texts.dtype == np.float16
    assert len(encoder.texts) == 8  # each entity's text and name, once
    encoder.texts.clear()
    linked = linker(jaguar_doc())
    assert links(linked) == links(plain)
    entity_texts = {"Jaguar Cars: British car maker", "Jaguar Cars", "jaguar", "Berlin: capital of Germany",
                    "Angela Merkel: German chancellor", "wild cat of the rainforest"}
    assert encoder.texts and not entity_texts & set(encoder.texts)  # contexts and mentions only


def test_vectors_of_another_kb_or_encoder_are_refused(tmp_path):
    kb = small_kb()
    linker = linker_with(kb)
    linker.precompute_entity_vectors(tmp_path / "vectors")
    other = small_kb()
    other.add_entity("P1", "Paris", "capital of France", types=("LOC",))
    with pytest.raises(ConfigError, match=r"meta.json: field 'kb'"):
        EntityVectors(tmp_path / "vectors", other, linker.embed.encoder)
    with pytest.raises(ConfigError, match=r"meta.json: field 'encoder'"):
        EntityVectors(tmp_path / "vectors", kb, RecordingEncoder())
    renamed = InMemoryKB()
    for entity_id in kb.entity_ids():
        entity = kb.get_entity(entity_id)
        renamed.add_entity(entity_id, entity.name + "!", entity.description, types=entity.types)
    assert kb_fingerprint(renamed) != kb_fingerprint(kb)
    with pytest.raises(ConfigError, match=r"field 'kb'"):
        EntityVectors(tmp_path / "vectors", renamed, linker.embed.encoder)


def test_damaged_vectors_are_an_error_naming_the_file(tmp_path):
    kb = small_kb()
    linker = linker_with(kb)
    linker.precompute_entity_vectors(tmp_path / "vectors")
    (tmp_path / "vectors" / "names.f16.npy").write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match="vectors"):
        EntityVectors(tmp_path / "vectors", kb, linker.embed.encoder)
    # precomputing again into a damaged folder rebuilds it
    rebuilt = linker.precompute_entity_vectors(tmp_path / "vectors")
    assert rebuilt.names.shape == (4, WordEncoder.dim)


def test_saved_linker_carries_its_vectors(tmp_path):
    kb = small_kb()
    linker = linker_with(kb)
    linker.precompute_entity_vectors(tmp_path / "cache" / "vectors")
    expected = links(linker(jaguar_doc()))
    linker.to_disk(tmp_path / "saved")
    assert (tmp_path / "saved" / "entity_vectors" / "meta.json").is_file()
    loaded = GeneralLinker()
    loaded.set_encoder(WordEncoder())
    loaded.from_disk(tmp_path / "saved")
    assert loaded.entity_vectors is not None
    assert loaded.entity_vectors.folder == tmp_path / "saved" / "entity_vectors"
    assert links(loaded(jaguar_doc())) == expected


def test_create_simple_precomputes_once_and_only_for_the_general_linker(tmp_path):
    entities = tmp_path / "entities.jsonl"
    entities.write_text(
        '{"entity_id": "J1", "label": "Jaguar Cars", "description": "British car maker", "entity_type": "ORG"}\n'
        '{"entity_id": "J2", "label": "jaguar", "description": "wild cat", "entity_type": "ANIMAL"}\n',
        encoding="utf-8")
    with pytest.raises(ConfigError, match="precompute_embeddings is for the general linker"):
        create_simple(entities, cache_dir=tmp_path / "cache", linker="self-trained", precompute_embeddings=True)
    nlp = create_simple(entities, cache_dir=tmp_path / "cache", mentions="patterns", precompute_embeddings=True)
    folders = list((tmp_path / "cache").glob("entity-vectors-*"))
    assert len(folders) == 1 and (folders[0] / "texts.f16.npy").is_file()
    stamp = (folders[0] / "meta.json").stat().st_mtime_ns
    again = create_simple(entities, cache_dir=tmp_path / "cache", mentions="patterns", precompute_embeddings=True)
    assert (folders[0] / "meta.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    text = "Jaguar Cars builds cars."
    assert [(span.text, span.kb_id) for span in nlp(text).ents] == [(span.text, span.kb_id)
                                                                    for span in again(text).ents]
