"""The no-training pipeline on ambiguous, misspelt and missing names (tests/linking/ambiguity_suite.py)."""

import json

import pytest

from elkit.cli.main import main
from elkit.linking.builder import create_simple

from .ambiguity_suite import SENTENCES, score_suite, write_entities


@pytest.fixture(scope="module")
def suite_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ambiguity")
    return create_simple(write_entities(folder / "entities.jsonl"), cache_dir=folder / "cache")


def test_the_suite_is_big_enough():
    assert len(SENTENCES) >= 40


def test_default_pipeline_links_ambiguous_names_and_gives_missing_ones_nil(suite_pipeline):
    scores = score_suite(suite_pipeline)
    assert scores["link_accuracy"] >= 0.9, scores
    assert scores["nil_rate"] >= 0.8, scores
    assert not [wrong for wrong in scores["wrong"] if wrong[3] > 0.9], scores["wrong"]


def test_renaming_types_keeps_the_answers(tmp_path):
    """Type agreement is by meaning: ANIMAL → WILDLIFE changes nothing that matters."""
    entities = write_entities(tmp_path / "entities.jsonl")
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(entities.read_text(encoding="utf-8").replace('"ANIMAL"', '"WILDLIFE"'), encoding="utf-8")
    texts = ["Jaguar unveiled a new electric car.", "A jaguar was spotted hunting deer in the Brazilian rainforest."]
    first = create_simple(entities, cache_dir=tmp_path / "cache", labels=["organisation", "animal", "person"])
    second = create_simple(renamed, cache_dir=tmp_path / "cache", labels=["organisation", "animal", "person"])
    assert [[span.kb_id for span in first(text).ents] for text in texts] == \
        [[span.kb_id for span in second(text).ents] for text in texts] == [["jaguar_cars"], ["jaguar_animal"]]


def test_the_default_pipeline_saves_loads_and_evaluates(suite_pipeline, tmp_path, capsys):
    from elkit.packaging import load

    suite_pipeline.to_disk(tmp_path / "pipeline")
    loaded = load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["sentencizer", "ner", "alias_mentions", "entity_linker"]
    for text, _ in SENTENCES[:6]:
        assert [(span.text, span.label, span.kb_id) for span in loaded(text).ents] == \
            [(span.text, span.label, span.kb_id) for span in suite_pipeline(text).ents]
    text = "Angela Merkel spoke in Berlin on Monday."
    gold = {"text": text, "spans": [{"start": 0, "end": 13, "label": "person", "kb_id": "angela_merkel"},
                                    {"start": 23, "end": 29, "label": "location", "kb_id": "berlin"}]}
    (tmp_path / "gold.jsonl").write_text(json.dumps(gold) + "\n", encoding="utf-8")
    assert main(["evaluate", str(tmp_path / "pipeline"), str(tmp_path / "gold.jsonl")]) == 0
    assert "in_kb_accuracy: 1.0000" in capsys.readouterr().out


def test_the_default_pipeline_pickles_for_worker_processes(suite_pipeline):
    import pickle

    copy = pickle.loads(pickle.dumps(suite_pipeline))
    for text, _ in SENTENCES[6:9]:
        assert [(span.text, span.kb_id) for span in copy(text).ents] == \
            [(span.text, span.kb_id) for span in suite_pipeline(text).ents]
