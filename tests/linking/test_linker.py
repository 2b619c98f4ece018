"""The entity linker: training, NIL, thresholds, discarded labels, saving and loading, batching, settings."""

import json

import numpy as np
import pytest
import torch

from elkit.doc import NIL
from elkit.errors import ConfigError, ModelError
from elkit.evaluation import score_links
from elkit.kb import InMemoryKB
from elkit.linking import EntityLinker, EntityLinkerSettings, fit_linker, link_gold_mentions, strip_links
from elkit.linking.training import nil_offset
from elkit.pipeline import Pipeline
from elkit.registry import factories

from .support import ENTITIES, TRAIN, make_docs, make_kb, write_vectors


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    return str(write_vectors(tmp_path_factory.mktemp("vectors")))


def trained(vectors, **settings) -> EntityLinker:
    linker = EntityLinker("linker", vectors=vectors, **settings)
    docs = make_docs()
    linker.initialize(lambda: docs, kb=make_kb())
    for _ in range(40):
        linker.update(docs)
    linker.finish_training()
    return linker


@pytest.fixture(scope="module")
def trained_bytes(vectors):
    """One trained linker for the module, as bytes: each test gets its own copy (see `linker`)."""
    return trained(vectors).to_bytes()


@pytest.fixture
def linker(vectors, trained_bytes):
    """A fresh copy of the trained linker with a fresh KB, so that no test sees another's changes."""
    copy = EntityLinker("linker", vectors=vectors).from_bytes(trained_bytes)
    copy.set_kb(make_kb())
    return copy


def kb_ids(docs):
    return [[span.kb_id for span in doc.ents] for doc in docs]


def test_overfits_the_training_set(linker):
    gold = make_docs()
    predicted = link_gold_mentions(linker, gold)
    assert kb_ids(predicted) == kb_ids(gold)
    scores = score_links(predicted, gold)
    assert scores.accuracy == 1.0 and scores.nil_recall == 1.0


def test_spans_keep_scored_candidates(linker):
    doc = link_gold_mentions(linker, make_docs(TRAIN[:1]))[0]
    span = doc.ents[0]
    assert span.candidates[0].entity_id == span.kb_id == "Q90"
    scores = [candidate.score for candidate in span.candidates]
    assert scores == sorted(scores, reverse=True)
    assert span.link_score == pytest.approx(scores[0])
    assert sum(scores) + span.attrs["nil_score"] == pytest.approx(1.0, abs=1e-5)
    assert {candidate.entity_id for candidate in span.candidates} == {"Q90", "Q830149", "Q47899"}


def test_context_decides_between_candidates(linker):
    rows = [("The singer Paris performed at a party on television .", [(2, 3, "PER", "")]),
            ("Paris is a city , the capital of France .", [(0, 1, "LOC", "")])]
    docs = link_gold_mentions(linker, make_docs(rows))
    assert kb_ids(docs) == [["Q47899"], ["Q90"]]


def test_save_and_reload_give_the_same_links(linker, tmp_path):
    nlp = Pipeline()
    nlp.add_pipe("elkit.EntityLinker.v1", name="linker", config={"vectors": None})
    nlp.get_pipe("linker").from_bytes(linker.to_bytes())
    nlp.get_pipe("linker").set_kb(linker.kb)
    nlp.to_disk(tmp_path / "model")
    assert (tmp_path / "model" / "linker" / "kb").is_dir()
    loaded = Pipeline.from_disk(tmp_path / "model")
    before = link_gold_mentions(linker, make_docs())
    after = list(loaded.pipe(strip_links(make_docs())))
    assert kb_ids(after) == kb_ids(before)
    for left, right in zip(before, after, strict=True):
        for span_left, span_right in zip(left.ents, right.ents, strict=True):
            assert span_left.link_score == pytest.approx(span_right.link_score, abs=1e-6)


def test_batch_equals_single(linker):
    docs = strip_links(make_docs())
    single = [kb_ids([linker(doc.copy())]) for doc in docs]
    for batch_size in (1, 3, 100):
        batched = list(linker.pipe([doc.copy() for doc in docs], batch_size=batch_size))
        assert [kb_ids([doc]) for doc in batched] == single


def test_kb_without_aliases_gives_nil(vectors):
    linker = trained(vectors)
    empty = InMemoryKB()
    empty.add_entity("Q90", "Paris")
    linker.set_kb(empty)
    linker.table.exact.clear()
    linker.table.normal.clear()
    docs = link_gold_mentions(linker, make_docs())
    assert all(span.kb_id == NIL for doc in docs for span in doc.ents)
    assert all(span.candidates == () for doc in docs for span in doc.ents)


def test_untrained_linker_on_an_empty_kb_gives_nil():
    linker = EntityLinker("linker", incl_context=False)
    docs = make_docs(with_ids=False)
    linker.initialize(lambda: [], kb=InMemoryKB())
    linked = list(linker.pipe(docs))
    assert all(span.kb_id == NIL for doc in linked for span in doc.ents)


def test_threshold(linker):
    free = link_gold_mentions(linker, make_docs())
    scores = sorted(span.link_score for doc in free for span in doc.ents if span.kb_id != NIL)
    cut = scores[len(scores) // 2]
    linker.threshold = cut
    docs = link_gold_mentions(linker, make_docs())
    for before, after in zip(free, docs, strict=True):
        for span_before, span_after in zip(before.ents, after.ents, strict=True):
            if span_before.kb_id != NIL and span_before.link_score < cut:
                assert span_after.kb_id == NIL and span_after.candidates
            else:
                assert span_after.kb_id == span_before.kb_id
    linker.threshold = 0.0
    assert kb_ids(link_gold_mentions(linker, make_docs())) == kb_ids(free)


def test_labels_discard(linker):
    linker.labels_discard = ["MISC"]
    docs = link_gold_mentions(linker, make_docs())
    discarded = [span for doc in docs for span in doc.ents if span.label == "MISC"]
    assert discarded and all(span.kb_id == "NIL" and not span.candidates for span in discarded)  # as spaCy does
    assert all(span.kb_id for doc in docs for span in doc.ents if span.label != "MISC")
    only_discarded = make_docs([("Lovelace wrote notes .", [(0, 1, "MISC", "")])])
    assert [span.kb_id for span in linker(strip_links(only_discarded)[0]).ents] == ["NIL"]


def test_a_single_candidate_is_linked(linker):
    docs = link_gold_mentions(linker, make_docs([("Lovelace wrote notes .", [(0, 1, "PER", "")])]))
    span = docs[0].ents[0]
    assert span.kb_id == "Q7259"
    assert len(span.candidates) == 1


def test_overwrite_false_keeps_existing_links(vectors):
    linker = trained(vectors, overwrite=False)
    docs = make_docs([("Paris is the capital of France .", [(0, 1, "LOC", "Q830149")])])
    assert kb_ids(list(linker.pipe(docs))) == [["Q830149"]]
    linker.overwrite = True
    assert kb_ids(list(linker.pipe(make_docs([("Paris is the capital of France .", [(0, 1, "LOC", "Q830149")])])))) \
        == [["Q90"]]


def test_variants_without_prior_context_or_coherence(vectors):
    for settings in ({"incl_prior": False}, {"incl_context": False}, {"coherence": False}):
        linker = trained(vectors, **settings)
        scores = score_links(link_gold_mentions(linker, make_docs()), make_docs())
        # without context the two senses of "Paris" (LOC) cannot be told apart: at most 12 of 14 are reachable
        assert scores.accuracy_no_nil >= 0.8, settings
        assert scores.accuracy >= 0.7, settings


def test_composite_gold_ids_train_and_score(vectors):
    rows = [("Paris is the capital of France .", [(0, 1, "LOC", "Q90|Q830149")])]
    linker = EntityLinker("linker", vectors=vectors)
    docs = make_docs(rows)
    linker.initialize(lambda: docs, kb=make_kb())
    losses = linker.update(docs)
    assert np.isfinite(losses["linker"])
    predicted = link_gold_mentions(linker, docs)
    assert predicted[0].ents[0].kb_id in {"Q90", "Q830149", NIL}


def test_fit_linker_keeps_the_best_epoch(vectors):
    linker = EntityLinker("linker", vectors=vectors)
    docs = make_docs()
    linker.initialize(lambda: docs, kb=make_kb())
    result = fit_linker(linker, docs, docs, epochs=40, batch_size=4, patience=40)
    assert result.best_accuracy == max(record["held_out_accuracy"] for record in result.history)
    assert score_links(link_gold_mentions(linker, docs), docs).accuracy == pytest.approx(result.best_accuracy)


def test_training_is_seeded(vectors):
    first, second = trained(vectors, seed=3), trained(vectors, seed=3)
    assert first.to_bytes() == second.to_bytes()


def test_bad_settings_and_missing_model():
    with pytest.raises(ConfigError, match="generators"):
        EntityLinker("linker", candidates={"generators": ["telepathy"]})
    with pytest.raises(ConfigError, match="candidates.limitt: unknown setting"):
        EntityLinker("linker", candidates={"limitt": 3})
    with pytest.raises(ConfigError, match="threshold"):
        EntityLinker("linker", threshold=1.5)
    linker = EntityLinker("linker", incl_context=False)
    with pytest.raises(ModelError, match="no model"):
        linker.to_bytes()
    with pytest.raises(ModelError, match="no model.json"):
        linker.from_disk("/nonexistent-folder")


def test_saved_bytes_are_checked(linker):
    other = EntityLinker("linker")
    with pytest.raises(ModelError):
        other.from_bytes(b"garbage")
    with pytest.raises(ModelError):
        other.from_bytes(linker.to_bytes()[:-5])


def test_initialize_reports_gold_ids_missing_from_the_kb(vectors):
    rows = [("Paris is the capital of France .", [(0, 1, "LOC", "Q-unknown")]),
            ("Zorblat visited the city .", [(0, 1, "PER", "NIL")])]
    linker = EntityLinker("linker", vectors=vectors)
    docs = make_docs(rows)
    linker.initialize(lambda: docs, kb=make_kb())
    assert linker.initialize_report == {"documents": 2, "gold_mentions": 2, "nil_mentions": 1, "ids_not_in_kb": 1}


def test_abbreviations_are_looked_up_by_their_long_form(vectors):
    kb = InMemoryKB()
    kb.add_entity("D003327", "Coronary Disease", "", ("Disease",), 10.0)
    kb.add_entity("OMIM:303100", "Choroideremia", "", ("Disease",), 10.0)
    kb.add_alias("coronary heart disease", ["D003327"], [1.0])
    kb.add_alias("CHD", ["OMIM:303100"], [1.0])
    rows = [("Men with coronary heart disease ( CHD ) were followed . CHD risk rose .",
             [(2, 5, "Disease", "D003327"), (6, 7, "Disease", "D003327"), (11, 12, "Disease", "D003327")])]
    found = {}
    for abbreviations in (False, True):
        linker = EntityLinker("linker", vectors=vectors, abbreviations=abbreviations, use_table=False)
        docs = make_docs(rows)
        linker.initialize(lambda docs=docs: docs, kb=kb)
        linked = link_gold_mentions(linker, docs)[0]
        found[abbreviations] = [[candidate.entity_id for candidate in span.candidates] for span in linked.ents]
    assert found[False][1] == ["OMIM:303100"]
    assert found[True][1] == ["D003327"] and found[True][2] == ["D003327"]
    assert found[True][0] == found[False][0] == ["D003327"]


def test_held_out_blocks_leave_neighbouring_documents_out(vectors):
    docs = make_docs()
    linker = EntityLinker("linker", vectors=vectors, held_out_block=2)
    linker.initialize(lambda: docs, kb=make_kb())
    # Documents 0 and 1 share a block: the counts for document 0's mention leave both out.
    exact, _ = linker.table.lookup("Paris", left_out=linker.block_key(docs[0]))
    everything, _ = linker.table.lookup("Paris")
    assert sum(everything.values()) - sum(exact.values()) == 2
    assert linker.block_key(docs[0]) == linker.block_key(docs[1]) != linker.block_key(docs[2])


def test_nil_offset_undoes_a_nil_option_that_is_too_strong(linker):
    gold = make_docs()
    margins = [np.log(span.candidates[0].score / max(span.attrs["nil_score"], 1e-12))
               for doc in link_gold_mentions(linker, gold) for span in doc.ents if span.candidates]
    linker.model.nil_bias.fill_(float(np.median(margins)) + 0.5)  # NIL now wins for most mentions
    predicted = link_gold_mentions(linker, gold)
    skewed = score_links(predicted, gold)
    assert skewed.nil_precision < 0.5
    assert nil_offset(predicted, gold, limit=0.1) == 0.0  # out of reach
    offset = nil_offset(predicted, gold, limit=100.0)
    assert offset < -0.5
    linker.model.nil_bias.add_(offset)
    assert score_links(link_gold_mentions(linker, gold), gold).accuracy == 1.0 > skewed.accuracy
    linker.model.nil_bias.zero_()
    # a calibrated linker needs no shift: the offset found on its own output gains nothing
    assert nil_offset(link_gold_mentions(linker, gold), gold) == 0.0
    assert nil_offset([], []) == 0.0


def test_the_fixture_copy_is_independent(linker, trained_bytes, vectors):
    """Changing one test's linker leaves the trained model the others copy untouched."""
    linker.threshold = 0.99
    linker.model.nil_bias.fill_(5.0)
    linker.table.exact.clear()
    fresh = EntityLinker("linker", vectors=vectors).from_bytes(trained_bytes)
    assert fresh.threshold is None and float(fresh.model.nil_bias) == 0.0 and len(fresh.table) > 0


def test_update_drop_applies_to_that_step_only(vectors):
    linker = EntityLinker("linker", vectors=vectors, dropout=0.1)
    docs = make_docs()
    linker.initialize(lambda: docs, kb=make_kb())
    dropouts = [module for module in linker.model.modules() if isinstance(module, torch.nn.Dropout)]
    seen = []
    for module in dropouts:
        module.register_forward_pre_hook(lambda module, _: seen.append(module.p))
    linker.update(docs, drop=0.5)
    assert seen and set(seen) == {0.5}
    assert [module.p for module in dropouts] == [0.1] * len(dropouts)
    seen.clear()
    linker.update(docs)
    assert set(seen) == {0.1}


def test_settings_are_one_model_and_config_comes_from_it(tmp_path):
    linker = EntityLinker("linker", threshold=0.3, candidates={"limit": 5}, reranker={"held_out": 0.2})
    assert isinstance(linker.settings, EntityLinkerSettings)
    assert linker.settings.candidates.limit == 5 and linker.settings.candidates.generators == [
        "exact", "normalized", "fuzzy"]
    assert linker.settings.reranker.held_out_share == 0.2  # the old key still reads
    config = linker.config
    assert config["threshold"] == 0.3 and config["reranker"]["held_out_share"] == 0.2 and "kb" not in config
    again = factories.make("elkit.EntityLinker.v1", config, name="again")
    assert again.settings == linker.settings and again.name == "again"
    assert EntityLinker("copy", linker.settings).settings is linker.settings
    with pytest.raises(ConfigError, match="not both"):
        EntityLinker("linker", linker.settings, threshold=0.5)
    with pytest.raises(ConfigError, match="hidden_widht: unknown setting"):
        factories.make("elkit.EntityLinker.v1", {"hidden_widht": 3}, name="linker")
    linker.threshold = 0.6
    linker.labels_discard = ["MISC"]
    assert linker.config["threshold"] == 0.6 and linker.config["labels_discard"] == ["MISC"]
    with pytest.raises(ConfigError, match="threshold"):
        linker.threshold = 2.0


def test_kb_and_vectors_as_tables_are_built_on_first_use(tmp_path):
    entities = tmp_path / "entities.jsonl"
    entities.write_text("".join(json.dumps({"entity_id": entity_id, "label": name, "description": description,
                                            "entity_type": types[0], "aliases": [name], "popularity": popularity})
                                + "\n" for entity_id, name, description, types, popularity in ENTITIES),
                        encoding="utf-8")
    vectors = write_vectors(tmp_path / "vectors")
    kb_table = {"path": str(tmp_path / "kb"), "entities": [str(entities)]}
    linker = EntityLinker("linker", kb=kb_table, vectors={"path": str(vectors)})
    assert not (tmp_path / "kb").exists()
    assert "Q90" in linker.kb and (tmp_path / "kb" / "manifest.json").is_file()
    nlp = Pipeline()
    nlp.add_pipe("elkit.EntityLinker.v1", name="linker", config=linker.config)
    docs = make_docs()
    nlp.get_pipe("linker").initialize(lambda: docs)
    nlp.to_disk(tmp_path / "model")
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert loaded.get_pipe("linker").settings == nlp.get_pipe("linker").settings
    assert loaded.get_pipe("linker").config["kb"] == kb_table | loaded.get_pipe("linker").config["kb"]


def test_a_config_saved_before_the_settings_model_still_loads():
    # what `config.toml` of a pipeline saved by the previous linker holds (None values are never written)
    saved = {
        "kb": "models/kb/aida", "labels_discard": [], "n_sents": 1, "incl_prior": True, "incl_context": True,
        "overwrite": True, "candidates": {"generators": ["exact", "normalized"], "limit": 30, "fuzzy_min_score": 0.6},
        "vectors": "models/vectors/minilm_static", "hidden_width": 64, "dropout": 0.1, "learning_rate": 0.003,
        "coherence": False, "use_table": True, "store_candidates": 10, "projection": 0, "weight_decay": 0.0,
        "relabel": False, "abbreviations": False, "held_out_block": 1, "memory": True, "seed": 0,
        "reranker": {"top_k": 4, "max_candidates": 32, "skip_above": 1.0, "max_length": 128, "epochs": 1,
                     "learning_rate": 3e-5, "batch_size": 8, "held_out": 0.1, "max_mentions": 8000,
                     "residual": False},
    }
    linker = factories.make("elkit.EntityLinker.v1", saved, name="entity_linker")
    assert linker.settings.kb == "models/kb/aida" and linker.settings.reranker.max_mentions == 8000
    assert EntityLinker("entity_linker", **linker.config).settings == linker.settings
    assert {key: value for key, value in linker.config.items() if key != "reranker"} == {
        **{key: value for key, value in saved.items() if key != "reranker"}, "coreference": True, "features_off": []}
