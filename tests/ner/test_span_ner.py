"""The span-scoring NER component: learning, decoding, probabilities, saving, binary answers, new labels."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from elkit.doc import Doc, Example
from elkit.encoders.vectors import distill_vectors, load_vectors, save_vectors
from elkit.errors import ConfigError, DataError, ModelError
from elkit.ner import SpanNER
from elkit.ner.settings import HashCNNSettings, SpanNERSettings, TransformerEncoderSettings
from elkit.pipeline import Pipeline
from tests.ner.support import SENTENCES, blank, make_docs, tiny_transformer


def entities(doc):
    return [(span.start, span.end, span.label) for span in doc.ents]


def trained(encoder=None, steps=40, **settings) -> tuple[Pipeline, SpanNER, list[Doc]]:
    nlp = Pipeline()
    config = {"seed": 1, **settings}
    if encoder is not None:
        config["encoder"] = encoder
    ner = nlp.add_pipe("elkit.SpanNER.v1", name="ner", config=config)
    docs = make_docs()
    ner.initialize(lambda: docs)
    for _ in range(steps):
        ner.update(docs)
    return nlp, ner, docs


@pytest.fixture(scope="module")
def fitted():
    return trained()


def test_overfits_a_tiny_set(fitted):
    nlp, _, docs = fitted
    for doc in docs:
        assert entities(nlp(blank(doc))) == entities(doc)


def test_save_reload_same_predictions(fitted, tmp_path):
    nlp, ner, docs = fitted
    nlp.to_disk(tmp_path / "model")
    loaded = Pipeline.from_disk(tmp_path / "model")
    for doc in docs:
        expected = nlp(blank(doc))
        got = loaded(blank(doc))
        assert entities(got) == entities(expected)
        assert [span.score for span in got.ents] == pytest.approx([span.score for span in expected.ents], abs=1e-6)
    rebuilt = SpanNER("ner").from_bytes(ner.to_bytes())
    assert rebuilt.labels == ner.labels
    restored = pickle.loads(pickle.dumps(nlp))
    assert [entities(restored(blank(doc))) for doc in docs] == [entities(nlp(blank(doc))) for doc in docs]


def test_pipe_equals_call_and_batch_size_does_not_matter(fitted):
    nlp, _ner, docs = fitted
    by_call = [(entities(doc), [span.score for span in doc.ents]) for doc in (nlp(blank(doc)) for doc in docs)]
    for batch_size in (1, 2, 4, 100):
        piped = list(nlp.pipe([blank(doc) for doc in docs], batch_size=batch_size))
        assert [entities(doc) for doc in piped] == [item[0] for item in by_call]
        for doc, (_, scores) in zip(piped, by_call, strict=True):
            assert [span.score for span in doc.ents] == pytest.approx(scores, abs=1e-5)


def test_probabilities_are_in_range_and_agree_with_decoding(fitted):
    _nlp, ner, docs = fitted
    predictions = ner.predict([blank(doc) for doc in docs])
    for doc, scores in zip(docs, predictions, strict=True):
        for _, probabilities in scores.segments:
            assert probabilities.min() >= 0.0 and probabilities.max() <= 1.0
        annotated = blank(doc)
        ner.set_annotations([annotated], [scores])
        table = {(start, end, label): probability for start, end, label, probability in scores.spans()}
        for span in annotated.ents:
            assert span.score >= ner.settings.threshold
            assert span.score == pytest.approx(table[(span.start, span.end, span.label)])
        # No span left out of the entities scores above the threshold without overlapping a chosen one.
        taken = {index for span in annotated.ents for index in range(span.start, span.end)}
        for start, end, _, _probability in scores.spans(ner.settings.threshold):
            assert set(range(start, end)) & taken


def with_settings(ner: SpanNER, **values) -> SpanNER:
    """A copy of a trained component with some settings changed (the module's fixture stays as it is)."""
    changed = pickle.loads(pickle.dumps(ner))
    changed.settings = SpanNERSettings.model_validate({**ner.settings.model_dump(), **values})
    return changed


def test_threshold_one_predicts_nothing(fitted):
    _nlp, ner, docs = fitted
    strict = with_settings(ner, threshold=1.0)
    assert all(not strict(blank(doc)).ents for doc in docs)
    assert any(ner(blank(doc)).ents for doc in docs)


def test_overlapping_spans_go_to_a_span_group():
    nlp, _ner, docs = trained(steps=30, spans_key="candidates", threshold=0.3)
    doc = nlp(blank(docs[1]))
    assert {(span.start, span.end, span.label) for span in doc.spans["candidates"]} >= set(entities(doc))
    assert all(span.score >= 0.3 for span in doc.spans["candidates"])


def test_existing_entities_are_kept_unless_overwrite(fitted):
    _nlp, ner, docs = fitted
    doc = blank(docs[0])
    doc.ents = [doc.span(0, 2, "MISC")]
    ner(doc)
    assert (0, 2, "MISC") in entities(doc) and (0, 1, "ORG") not in entities(doc)
    doc = blank(docs[0])
    doc.ents = [doc.span(0, 2, "MISC")]
    with_settings(ner, overwrite_ents=True)(doc)
    assert (0, 1, "ORG") in entities(doc) and (0, 2, "MISC") not in entities(doc)


def test_binary_answers_move_the_probability():
    _nlp, ner, docs = trained(steps=5)
    doc = blank(docs[3])

    def probability(start, end, label):
        table = {(s, e, lab): p for s, e, lab, p in ner.predict([doc])[0].spans()}
        return table[(start, end, label)]

    before_accept = probability(6, 7, "LOC")
    before_reject = probability(0, 1, "ORG")
    for _ in range(10):
        ner.update([Example.binary(doc, 6, 7, "LOC", True), Example.binary(doc, 0, 1, "ORG", False)])
    assert probability(6, 7, "LOC") > before_accept
    assert probability(0, 1, "ORG") < before_reject


def test_add_label_keeps_old_ones_and_learns_the_new_one():
    nlp, ner, docs = trained(steps=40)
    old = [entities(nlp(blank(doc))) for doc in docs]
    assert ner.add_label("PRODUCT") == 1 and ner.add_label("PRODUCT") == 0
    new_docs = make_docs([("the iPhone sold well .", [(1, 2, "PRODUCT")]),
                          ("Apple makes the iPhone .", [(0, 1, "ORG"), (3, 4, "PRODUCT")])])
    ner.begin_rehearsal()
    for _ in range(40):
        ner.update(new_docs)
        ner.rehearse([blank(doc) for doc in docs])
    assert (1, 2, "PRODUCT") in entities(nlp(blank(new_docs[0])))
    kept = sum(entities(nlp(blank(doc))) == before for doc, before in zip(docs, old, strict=True))
    assert kept >= len(docs) - 1


def test_rehearse_needs_a_model_and_reports_its_loss():
    ner = SpanNER("ner")
    with pytest.raises(ModelError, match="no model"):
        ner.rehearse(make_docs())
    _, ner, docs = trained(steps=3)
    losses = ner.rehearse([blank(doc) for doc in docs])
    assert "rehearse_ner" in losses and losses["rehearse_ner"] >= 0.0


def test_unknown_label_in_update_is_an_error(fitted):
    _, ner, _ = fitted
    doc = Doc.from_words(["x", "y"])
    doc.ents = [doc.span(0, 1, "NOPE")]
    with pytest.raises(DataError, match="unknown label 'NOPE'"):
        ner.update([doc])


def test_spans_longer_than_max_width_are_an_error():
    ner = SpanNER("ner", max_width=2)
    doc = Doc.from_words("The Royal Bank of Scotland".split())
    doc.ents = [doc.span(1, 5, "ORG")]
    with pytest.raises(DataError, match="longer than max_width=2"):
        ner.initialize(lambda: [doc])


def test_untrained_component_says_so():
    nlp = Pipeline()
    nlp.add_pipe("elkit.SpanNER.v1", name="ner")
    with pytest.raises(ModelError, match="no model yet"):
        nlp("Some text")


def test_bad_configs_are_clear():
    nlp = Pipeline()
    with pytest.raises(ConfigError, match="unknown component factory"):
        nlp.add_pipe("elkit.SpanNR.v1")
    with pytest.raises(ConfigError, match="threshold"):
        nlp.add_pipe("elkit.SpanNER.v1", config={"threshold": "high"})
    with pytest.raises(ConfigError, match="unknown setting"):
        nlp.add_pipe("elkit.SpanNER.v1", config={"treshold": 0.5})
    # the encoder's settings are checked when the component is built, not first when it is trained
    with pytest.raises(ConfigError, match="unknown encoder architecture 'rnn'"):
        nlp.add_pipe("elkit.SpanNER.v1", name="bad", config={"encoder": {"architecture": "rnn"}})
    with pytest.raises(ConfigError, match="widht: unknown setting"):
        nlp.add_pipe("elkit.SpanNER.v1", name="bad", config={"encoder": {"architecture": "hash_cnn", "widht": 3}})
    with pytest.raises(ConfigError, match="depth: unknown setting"):
        nlp.add_pipe("elkit.SpanNER.v1", name="bad", config={"encoder": {"architecture": "transformer", "depth": 2}})
    with pytest.raises(ConfigError, match="stride"):
        nlp.add_pipe("elkit.SpanNER.v1", name="bad", config={"encoder": {"architecture": "transformer", "window": 8,
                                                                           "stride": 7}})
    with pytest.raises(ConfigError, match="not both"):
        SpanNER("ner", SpanNERSettings(), max_width=3)
    assert nlp.pipe_names == []


def test_training_is_reproducible():
    first = trained(steps=5)[1]
    second = trained(steps=5)[1]
    for (name, one), (_, two) in zip(first.model.state_dict().items(), second.model.state_dict().items(),
                                     strict=True):
        assert torch.equal(one, two), name


def test_bilstm_encoder_learns():
    nlp, _, docs = trained(encoder={"architecture": "hash_cnn", "width": 32, "depth": 1, "lstm_depth": 1},
                           steps=60)
    assert sum(entities(nlp(blank(doc))) == entities(doc) for doc in docs) >= len(docs) - 1


def test_long_document_is_split_into_segments(fitted):
    nlp, _ner, _ = fitted
    words = ("Apple bought Beats in California . " * 60).split()
    doc = Doc.from_words(words)
    annotated = nlp(doc)
    assert len(annotated.ents) >= 100


def test_entity_across_a_window_edge_is_found_whole(fitted):
    nlp, ner, _ = fitted
    filler = "nothing to see here .".split()
    words = filler * 51 + "Angela Merkel met Emmanuel Macron in Berlin .".split() + filler * 60
    assert words[255:257] == ["Angela", "Merkel"]  # the first window ends between the two words
    assert ner.settings.window == 256
    annotated = nlp(Doc.from_words(words))
    assert (255, 257, "PER") in entities(annotated)
    assert not any(start < 257 and end > 255 and (start, end) != (255, 257) for start, end, _ in entities(annotated))


def test_window_settings_are_checked():
    with pytest.raises(ConfigError, match="window_overlap"):
        SpanNER("ner", max_width=10, window=64, window_overlap=4)
    with pytest.raises(ConfigError, match="below window"):
        SpanNER("ner", max_width=4, window=16, window_overlap=16)


@pytest.fixture(scope="module")
def transformer_folder(tmp_path_factory):
    return tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


def test_transformer_encoder_learns_saves_and_windows(transformer_folder, tmp_path):
    encoder = {"architecture": "transformer", "model": str(transformer_folder), "width": 32, "window": 16,
               "stride": 8}
    nlp, ner, docs = trained(encoder=encoder, steps=80, context="document", learning_rate=0.005,
                             encoder_learning_rate=0.001)
    correct = sum(entities(nlp(blank(doc))) == entities(doc) for doc in docs)
    assert correct >= len(docs) - 2
    nlp.to_disk(tmp_path / "model")
    assert (tmp_path / "model" / "ner" / "transformer" / "tokenizer.json").is_file()
    loaded = Pipeline.from_disk(tmp_path / "model")
    long_doc = Doc.from_words(" ".join(text for text, _ in SENTENCES * 3).split())  # longer than one window
    assert entities(loaded(blank(long_doc))) == entities(nlp(blank(long_doc)))
    vectors, mask = ner.model.encoder.encode([long_doc.words, ["Paris"]])
    assert vectors.shape[:2] == mask.shape and mask.sum().item() == len(long_doc) + 1


def test_distilled_vectors_feed_the_fast_encoder(transformer_folder, tmp_path):
    words, matrix = distill_vectors(["Paris", "France", "apple", "paris"], transformer_folder, show_progress=False)
    assert words == ["apple", "france", "paris"] and matrix.shape == (3, 32)
    save_vectors(tmp_path / "vectors", words, matrix)
    assert load_vectors(tmp_path / "vectors")[0] == words
    encoder = {"architecture": "hash_cnn", "width": 32, "depth": 2, "vectors": str(tmp_path / "vectors")}
    nlp, ner, docs = trained(encoder=encoder, steps=40)
    nlp.to_disk(tmp_path / "model")
    loaded = Pipeline.from_disk(tmp_path / "model")
    original = ner.model.encoder.vectors.matrix
    assert torch.equal(loaded.get_pipe("ner").model.encoder.vectors.matrix, original)
    assert [entities(loaded(blank(doc))) for doc in docs] == [entities(nlp(blank(doc))) for doc in docs]
    assert np.count_nonzero(original[1:].float().numpy()) > 0


def test_pipeline_update_and_rehearse_reach_the_component():
    nlp, _, docs = trained(steps=1)
    losses = nlp.update(docs, drop=0.0)
    assert set(losses) == {"ner"} and losses["ner"] > 0
    assert nlp.update(docs, exclude=["ner"]) == {}
    losses = nlp.rehearse([blank(doc) for doc in docs])
    assert set(losses) == {"rehearse_ner"}


# --- settings ---------------------------------------------------------------------------------------------------

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("ner_*.toml"))


def test_settings_are_one_model_and_config_reports_learned_labels():
    nlp, ner, _docs = trained(steps=1, max_width=6, encoder={"width": 32, "depth": 1})
    assert isinstance(ner.settings, SpanNERSettings)
    assert ner.settings.encoder == HashCNNSettings(width=32, depth=1)  # "hash_cnn" when not given
    assert ner.settings.labels == [] and ner.config["labels"] == ["ORG", "LOC", "PER"]
    assert SpanNERSettings.model_validate(ner.config).max_width == 6
    ner.add_label("MISC")
    assert ner.config["labels"][-1] == "MISC"
    assert Pipeline.from_config(nlp.config).get_pipe("ner").config == ner.config
    built = SpanNER("ner", SpanNERSettings(encoder=TransformerEncoderSettings(window=16, stride=8)))
    assert built.config["encoder"]["architecture"] == "transformer"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_shipped_configs_build_and_round_trip(path):
    nlp = Pipeline.from_config(path)  # builds only: no vectors or transformer is read
    ner = nlp.get_pipe("ner")
    assert ner.settings.encoder.architecture in ("hash_cnn", "transformer")
    assert Pipeline.from_config(nlp.config).config == nlp.config


def test_models_saved_with_partial_encoder_settings_load(tmp_path):
    """A model.json written before settings models (only the keys the config gave) still loads."""
    nlp, _ner, docs = trained(steps=5, encoder={"architecture": "hash_cnn", "width": 32, "depth": 2})
    nlp.to_disk(tmp_path / "model")
    meta_path = tmp_path / "model" / "ner" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["encoder"] = {"architecture": "hash_cnn", "width": 32, "depth": 2}
    meta_path.write_text(json.dumps(meta))
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert [entities(loaded(blank(doc))) for doc in docs] == [entities(nlp(blank(doc))) for doc in docs]


def test_vectors_given_as_a_table_are_built_on_first_use(transformer_folder, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("paris\nfrance\napple\n", encoding="utf-8")
    vectors = {"path": str(tmp_path / "vectors"), "words": [str(words)], "model": str(transformer_folder),
               "model_vocabulary": False}
    nlp = Pipeline()
    ner = nlp.add_pipe("elkit.SpanNER.v1", name="ner", config={"encoder": {"width": 16, "depth": 1,
                                                                           "vectors": vectors}})
    assert not (tmp_path / "vectors").exists()  # building the component reads nothing
    docs = make_docs()
    ner.initialize(lambda: docs)
    assert load_vectors(tmp_path / "vectors")[0] == ["apple", "france", "paris"]
    assert ner.model.encoder.vectors.words == ["apple", "france", "paris"]
    nlp.to_disk(tmp_path / "model")
    assert nlp.config.components["ner"].settings["encoder"]["vectors"]["path"] == str(tmp_path / "vectors")
    loaded = Pipeline.from_disk(tmp_path / "model")
    assert [entities(loaded(blank(doc))) for doc in docs] == [entities(nlp(blank(doc))) for doc in docs]
