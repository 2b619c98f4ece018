"""The zero-shot recognizer: labels at call time, encoded once, windows, saving, calibration and training."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from elkit.doc import Doc, Example
from elkit.errors import ConfigError, DataError, ModelError
from elkit.ner import ZeroShotNER
from elkit.ner.calibration import expected_calibration_error, fit_temperature
from elkit.ner.windows import merge_windows, window_ranges
from elkit.pipeline import Pipeline
from elkit.training.zeroshot import LabelDescription, TypedCorpus, ZeroShotTrainingSettings, train_zero_shot
from tests.ner.support import SENTENCES, blank, make_docs, tiny_transformer

LABELS = {"PER": "a person", "ORG": "an organisation", "LOC": "a place"}


@pytest.fixture(scope="module")
def transformer_folder(tmp_path_factory):
    return tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


def make_ner(folder, **values) -> ZeroShotNER:
    settings = {"encoder": {"model": str(folder), "width": 32}, "hidden_width": 32, "max_width": 4,
                "window": 12, "window_overlap": 4, "labels": LABELS, "learning_rate": 0.01, "heads": "random", **values}
    ner = ZeroShotNER(**settings)
    ner.initialize()
    return ner


@pytest.fixture(scope="module")
def trained(transformer_folder):
    """A tiny model fitted to the fixture sentences."""
    ner = make_ner(transformer_folder)
    docs = make_docs()
    for _ in range(80):
        ner.update(docs)
    return ner


def spans(doc: Doc) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, span.label) for span in doc.ents]


def test_it_learns_the_fixture_sentences(trained):
    for doc in make_docs():
        predicted = trained(blank(doc))
        assert spans(predicted) == spans(doc)


def test_labels_at_call_time_equal_labels_from_the_config(trained):
    doc = make_docs()[1]
    configured = trained.predict([blank(doc)])[0]
    given = trained.predict([blank(doc)], labels=LABELS)[0]
    for (offset, first), (other_offset, second) in zip(configured.segments, given.segments, strict=True):
        assert offset == other_offset
        np.testing.assert_array_equal(first, second)


def test_precomputed_labels_equal_per_call_labels_and_are_encoded_once(trained):
    docs = [blank(doc) for doc in make_docs()]
    encoded = trained.encode_labels(["PER", "LOC"])
    before = trained.label_encoder.encoded
    with_set = trained.predict(docs, encoded)
    per_call = trained.predict(docs, ["PER", "LOC"])
    assert trained.label_encoder.encoded == before  # the texts were cached, not encoded again
    for first, second in zip(with_set, per_call, strict=True):
        assert first.spans(0.5) == second.spans(0.5)
    assert with_set[0].labels == ("PER", "LOC")


def test_pipe_equals_call(trained):
    docs = [blank(doc) for doc in make_docs()]
    piped = [spans(doc) for doc in trained.pipe([blank(doc) for doc in docs], batch_size=2, labels=LABELS)]
    called = [spans(trained(doc, labels=LABELS)) for doc in docs]
    assert piped == called
    assert any(piped)


def test_an_empty_label_list_is_a_clear_error(trained):
    with pytest.raises(ConfigError, match="empty"):
        trained.predict([blank(make_docs()[0])], labels=[])
    with pytest.raises(ConfigError, match="given twice"):
        trained.encode_labels(["PER", "PER"])
    with pytest.raises(ConfigError, match="single string"):
        trained.encode_labels("PER")
    nothing = make_ner(trained.settings.encoder.model, labels=[])
    with pytest.raises(ConfigError, match="no labels"):
        nothing.predict([blank(make_docs()[0])])


def test_a_label_text_of_ten_thousand_characters_is_cut_not_refused(trained):
    description = "word " * 2000
    scores = trained.predict([blank(make_docs()[0])], labels={"PER": description.strip()})[0]
    assert scores.labels == ("PER",)
    assert all(np.isfinite(probabilities).all() for _, probabilities in scores.segments)


def test_windows_cover_every_span_whole():
    assert window_ranges(0, 10, 12, 4) == [(0, 10)]
    ranges = window_ranges(0, 30, 12, 4)
    assert ranges[0] == (0, 12) and ranges[-1][1] == 30
    for start, end in itertools.pairwise(ranges):
        assert start[1] - end[0] >= 4
    # a span read from the window where it sits furthest from an edge
    first = np.zeros((12, 4, 1), dtype=np.float32)
    second = np.zeros((12, 4, 1), dtype=np.float32)
    first[10, 1, 0] = 0.2  # words 10-11: at the end of the first window
    second[2, 1, 0] = 0.9  # the same words, inside the second window (which starts at 8)
    merged = merge_windows(0, 20, [(0, first), (8, second)], 4)
    assert merged.shape == (20, 4, 1)
    assert merged[10, 1, 0] == pytest.approx(0.9)


def test_an_entity_across_a_window_edge_is_found_whole(trained):
    filler = "Google and Microsoft compete . Paris is the capital of France"  # 11 words
    words = (filler + " Angela Merkel met Emmanuel Macron in Berlin .").split()
    ner = ZeroShotNER(**{**trained.settings.to_config(), "context": "document"})
    ner.model, ner.label_encoder, ner.label_entries = trained.model, trained.label_encoder, trained.label_entries
    assert window_ranges(0, len(words), 12, 4) == [(0, 12), (7, 19)]  # "Angela Merkel" (11-13) crosses 12
    scores = ner.predict([Doc.from_words(words)])[0]
    (offset, merged), = scores.segments
    assert offset == 0 and merged.shape[0] == len(words)
    # the span is read whole from the second window, exactly as if those words were scored alone
    (_, alone), = ner.predict([Doc.from_words(words[7:])])[0].segments
    np.testing.assert_allclose(merged[11, 1], alone[4, 1], rtol=1e-5, atol=1e-6)
    assert merged[11, 1].max() > 0.0


def test_flat_and_nested_decoding(trained):
    nested = make_ner(trained.settings.encoder.model, flat=False, spans_key="sc")
    nested.model, nested.label_encoder = trained.model, trained.label_encoder
    doc = blank(make_docs()[1])
    nested(doc)
    assert not doc.ents
    assert [(span.start, span.end, span.label) for span in doc.spans["sc"] if span.score >= 0.5]
    with pytest.raises(ConfigError, match="spans_key"):
        ZeroShotNER(flat=False)
    with pytest.raises(ConfigError, match="window_overlap"):
        ZeroShotNER(max_width=10, window_overlap=4)


def test_save_then_load_gives_the_same_spans(trained, tmp_path):
    docs = [blank(doc) for doc in make_docs()]
    expected = [spans(trained(blank(doc))) for doc in docs]
    trained.to_disk(tmp_path / "ner")
    loaded = ZeroShotNER().from_disk(tmp_path / "ner")
    assert loaded.labels == list(LABELS)
    assert [spans(loaded(blank(doc))) for doc in docs] == expected
    from_bytes = ZeroShotNER().from_bytes(trained.to_bytes())
    assert [spans(from_bytes(blank(doc))) for doc in docs] == expected
    # the frozen transformer is not saved: only the trained parts
    assert (tmp_path / "ner" / "weights.safetensors").stat().st_size < 2_000_000


def test_a_pipeline_with_the_factory_saves_and_loads(transformer_folder, tmp_path):
    nlp = Pipeline()
    ner = nlp.add_pipe("elkit.ZeroShotNER.v1", name="ner", config={
        "encoder": {"model": str(transformer_folder), "width": 32}, "hidden_width": 32, "max_width": 4,
        "window": 12, "window_overlap": 4, "labels": LABELS, "heads": "random"})
    ner.initialize()
    for _ in range(40):
        ner.update(make_docs())
    text = SENTENCES[3][0]
    expected = spans(nlp(text))
    nlp.to_disk(tmp_path / "pipeline")
    again = Pipeline.from_disk(tmp_path / "pipeline")
    assert spans(again(text)) == expected
    assert again.get_pipe("ner").labels == list(LABELS)


def test_weights_over_another_transformer_are_refused(trained, tmp_path):
    from transformers import BertModel

    other = tiny_transformer(tmp_path / "other")  # same shapes ...
    model = BertModel.from_pretrained(other)
    with torch.no_grad():
        model.get_input_embeddings().weight.add_(1.0)  # ... other weights
    model.save_pretrained(other)
    trained.to_disk(tmp_path / "ner")
    loader = ZeroShotNER(encoder={"model": str(other), "width": 32}, hidden_width=32, max_width=4, window=12,
                         window_overlap=4, heads="random")
    with pytest.raises(ModelError, match="another transformer"):
        loader.from_disk(tmp_path / "ner")


def test_label_sets_keep_unknown_labels_out_of_the_loss(transformer_folder):
    ner = make_ner(transformer_folder)
    doc = make_docs()[0]  # ORG and LOC gold, no PER
    ner.update([doc], labels=LABELS, label_sets=[{"ORG", "LOC"}], drop=0.0)
    state = {name: value.clone() for name, value in ner.model.trained_state().items()}
    # a step whose only label is one the example says nothing about changes nothing
    ner.update([Example(Doc.from_words("nobody here .".split()))], labels=["PER"], label_sets=[set()], drop=0.0,
               sgd=torch.optim.SGD([parameter for parameter in ner.model.parameters() if parameter.requires_grad],
                                   lr=1.0))
    for name, value in ner.model.trained_state().items():
        torch.testing.assert_close(value, state[name])
    with pytest.raises(DataError, match="label sets"):
        ner.update([doc], labels=LABELS, label_sets=[])


def test_temperature_fit_recovers_an_overconfident_scale():
    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20000, generator=generator) * 2
    targets = (torch.rand(20000, generator=generator) < torch.sigmoid(true_logits)).float()
    calibration = fit_temperature(true_logits * 3, targets)
    assert calibration.temperature == pytest.approx(3.0, rel=0.1)
    assert calibration.ece_after < calibration.ece_before
    assert expected_calibration_error(torch.tensor([0.01, 0.02]), torch.tensor([0.0, 1.0])) == 0.0


def test_calibrate_sets_the_temperature_used_by_predict(trained):
    ner = make_ner(trained.settings.encoder.model)
    ner.model, ner.label_encoder = trained.model, trained.label_encoder
    calibration = ner.calibrate(make_docs())
    assert ner.temperature == calibration.temperature
    assert ner.config["temperature"] == calibration.temperature
    assert calibration.positives == sum(len(doc.ents) for doc in make_docs())


def test_training_on_typed_corpora_counts_its_work(transformer_folder):
    ner = make_ner(transformer_folder, labels=[])
    catalogue = {key: LabelDescription(key, (key, key.lower()), f"the {key} type") for key in ("PER", "ORG", "LOC")}
    docs = make_docs() * 4
    corpora = [TypedCorpus("news", docs, frozenset({"PER", "ORG", "LOC"}))]
    settings = ZeroShotTrainingSettings(seconds=0, max_steps=6, batch_sentences=4, eval_every=3,
                                        held_out_share=0.25)
    result = train_zero_shot(ner, corpora, catalogue, settings)
    assert result.steps == 6 and result.sentences == 24
    assert [entry["step"] for entry in result.history] == [3, 6]
    assert result.held_out == {"news": 6}
    assert result.calibration is not None and ner.temperature == result.calibration.temperature
    with pytest.raises(DataError, match="not in the label catalogue"):
        train_zero_shot(ner, [TypedCorpus("x", docs, frozenset({"GENE"}))], catalogue, settings)
    with pytest.raises(ValueError, match="seconds or max_steps"):
        ZeroShotTrainingSettings(seconds=0)


def test_the_shipped_heads_find_labels_given_only_by_name():
    nlp = Pipeline()
    nlp.add_pipe("elkit.Sentencizer.v1", name="sentencizer")
    nlp.add_pipe("elkit.ZeroShotNER.v1", name="ner",
                 config={"labels": {"person": "", "city": "", "disease": "", "drug": "a medicine"}})
    news = nlp("Angela Merkel visited Paris on Monday.")  # no initialize(): a config alone is enough
    assert [(span.text, span.label) for span in news.ents] == [("Angela Merkel", "person"), ("Paris", "city")]
    clinic = nlp("Patients with type 2 diabetes received metformin.")
    assert {(span.text, span.label) for span in clinic.ents} == {("type 2 diabetes", "disease"),
                                                                  ("metformin", "drug")}
    assert all(0.5 <= span.score <= 1.0 for span in clinic.ents)


def test_the_shipped_heads_refuse_another_transformer(transformer_folder):
    ner = ZeroShotNER(encoder={"model": str(transformer_folder), "width": 32}, labels=["PER"])
    with pytest.raises(ConfigError, match="heads"):
        ner.initialize()
