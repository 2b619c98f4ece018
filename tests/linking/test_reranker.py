"""The cross-encoder reranker: its input text, training, combination with the first stage, saving and loading."""

import numpy as np
import pytest

from elkit.doc import Doc
from elkit.errors import ConfigError, ModelError
from elkit.linking import EntityLinker, link_gold_mentions, strip_links
from elkit.linking.reranker import CrossEncoderReranker, RerankItem, mention_context
from elkit.linking.training import train_reranker
from elkit.pipeline import Pipeline

from .support import TRAIN, make_docs, make_kb, write_vectors

SINGER = "Paris Hilton (PER): American media personality and singer"
CITY = "Paris (LOC): capital of France"


def items(rows):
    """Reranker items with a flat first stage: only the reranker can tell the candidates apart."""
    flat = np.log(np.full(2, 0.5, dtype=np.float32))
    return [RerankItem(context, [SINGER, CITY], flat.copy(), gold) for context, gold in rows]


TRAIN_ITEMS = [
    ("the singer [ Paris ] sang a song on television", 0),
    ("[ Paris ] is the capital of France", 1),
    ("fans cheered when [ Paris ] sang at the party", 0),
    ("the government met in [ Paris ] , the French capital", 1),
] * 3
HELD_OUT = [("the singer [ Paris ] sang at a party on television", 0),
            ("ministers met in [ Paris ] , the capital of France", 1)]


@pytest.fixture(scope="module")
def reranker():
    model = CrossEncoderReranker(max_length=48)
    model.report = model.fit(items(TRAIN_ITEMS), items(HELD_OUT), epochs=4, learning_rate=1e-4, batch_size=4)
    return model


def test_mention_context_marks_the_mention_and_adds_the_headline():
    joined = Doc.from_words(["Headline", "here", ".", "Paris", "is", "big", "."])
    joined.set_sentence_starts([0, 3])
    joined.ents = [joined.span(3, 4, "LOC")]
    assert mention_context(joined, joined.ents[0]) == "Headline here . | [ Paris ] is big ."
    first = make_docs(TRAIN[:1])[0]
    assert mention_context(first, first.ents[0]).startswith("[ Paris ] is the capital")


def test_untrained_reranker_changes_nothing():
    model = CrossEncoderReranker(max_length=32)
    held = items(HELD_OUT)
    held[0].first_stage = np.log(np.asarray([0.8, 0.2], dtype=np.float32))
    scores = model.scores(held)
    assert all(np.allclose(score, 0.0) for score in scores)
    combined = model.combine(held, scores)
    assert combined[0] == pytest.approx([0.8, 0.2], abs=1e-6)


def test_fine_tuning_learns_what_the_context_says(reranker):
    assert reranker.report["held_out_first_stage_accuracy"] == 0.5
    assert reranker.report["held_out_reranked_accuracy"] == 1.0
    combined = reranker.combine(items(HELD_OUT), reranker.scores(items(HELD_OUT)))
    assert [int(np.argmax(values)) for values in combined] == [0, 1]
    assert all(values.sum() == pytest.approx(1.0, abs=1e-5) for values in combined)


def test_save_and_load_give_the_same_scores(reranker, tmp_path):
    reranker.to_disk(tmp_path / "reranker")
    loaded = CrossEncoderReranker.from_disk(tmp_path / "reranker")
    assert loaded.weights == pytest.approx(reranker.weights)
    for before, after in zip(reranker.scores(items(HELD_OUT)), loaded.scores(items(HELD_OUT)), strict=True):
        assert after == pytest.approx(before, abs=1e-4)
    with pytest.raises(ModelError, match="not a reranker folder"):
        CrossEncoderReranker.from_disk(tmp_path)


def test_linker_with_a_reranker_trains_saves_and_reloads(tmp_path):
    vectors = str(write_vectors(tmp_path / "vectors"))
    linker = EntityLinker("linker", vectors=vectors, reranker={"epochs": 2, "learning_rate": 1e-4,
                                                               "max_length": 48, "held_out": 0.2})
    docs = make_docs()
    linker.initialize(lambda: docs, kb=make_kb())
    for _ in range(10):
        linker.update(docs)
    linker.finish_training()
    report = train_reranker(linker, docs)
    assert report["train_items"] > 0 and report["held_out_items"] >= 0
    assert linker.reranker is not None
    linked = link_gold_mentions(linker, docs)
    probabilities = [[span.link_score for span in doc.ents] for doc in linked]
    for doc in linked:
        for span in doc.ents:
            if span.candidates:
                total = sum(candidate.score for candidate in span.candidates) + span.attrs["nil_score"]
                assert total == pytest.approx(1.0, abs=1e-4)
    linker.to_disk(tmp_path / "linker")
    assert (tmp_path / "linker" / "reranker" / "encoder" / "model.safetensors").is_file()
    nlp = Pipeline()
    nlp.add_pipe("elkit.EntityLinker.v1", name="linker", config=linker.config)
    loaded = nlp.get_pipe("linker").from_disk(tmp_path / "linker")
    assert loaded.reranker is not None
    again = [[span.link_score for span in doc.ents] for doc in loaded.pipe(strip_links(docs))]
    assert np.allclose(np.asarray(again, dtype=float), np.asarray(probabilities, dtype=float), atol=1e-4)
    from_bytes = EntityLinker("copy", vectors=vectors, reranker=linker.config["reranker"]).from_bytes(
        linker.to_bytes())
    from_bytes.set_kb(linker.kb)
    assert from_bytes.reranker is not None
    third = [[span.link_score for span in doc.ents] for doc in from_bytes.pipe(strip_links(docs))]
    assert np.allclose(np.asarray(third, dtype=float), np.asarray(probabilities, dtype=float), atol=1e-4)
    # a reranker switched off by its weights is not even called: the first stage alone decides
    from_bytes.reranker.weights = (1.0, 0.0)
    assert not from_bytes.reranker.active

    def refuse(*args, **kwargs):
        raise AssertionError("an inactive reranker was called")

    from_bytes.reranker.scores = refuse
    switched_off = [[span.link_score for span in doc.ents] for doc in from_bytes.pipe(strip_links(docs))]
    from_bytes.reranker = None
    first_stage = [[span.link_score for span in doc.ents] for doc in from_bytes.pipe(strip_links(docs))]
    assert switched_off == first_stage


class FixedScores(CrossEncoderReranker):
    """A reranker whose scores are given, to test how they are combined with the first stage."""

    def __init__(self, scores):
        super().__init__(max_length=16)
        self.fixed = scores

    def scores(self, items, max_candidates=32):
        return [np.asarray(score, dtype=np.float64) for score in self.fixed]


def test_fit_weights_switches_off_a_reranker_that_costs_accuracy():
    # six items the first stage gets right by a little, where the reranker is a little wrong; four the first
    # stage gets badly wrong, where the reranker is very sure and right. The log loss wants the reranker (the
    # four) but the combination gets only those four right, against six for the first stage alone.
    near = np.log(np.asarray([0.55, 0.45], dtype=np.float32))
    far = np.log(np.asarray([0.1, 0.9], dtype=np.float32))
    held = [RerankItem("a", [SINGER, CITY], near.copy(), 0) for _ in range(6)]
    held += [RerankItem("b", [SINGER, CITY], far.copy(), 0) for _ in range(4)]
    model = FixedScores([[0.0, 0.3]] * 6 + [[5.0, 0.0]] * 4)
    report = model.fit_weights(held)
    assert report["held_out_first_stage_accuracy"] == 0.6
    assert report["held_out_reranked_accuracy"] < 0.6
    assert report["active"] is False and model.weights == (1.0, 0.0)
    # when it helps, it stays
    helpful = FixedScores([[0.0, 0.0]] * 6 + [[5.0, 0.0]] * 4)
    report = helpful.fit_weights(held)
    assert report["held_out_reranked_accuracy"] == 1.0 and report["active"] is True and helpful.weights[1] > 0


def test_bad_reranker_settings():
    with pytest.raises(ConfigError, match="reranker.topk: unknown setting"):
        EntityLinker("linker", reranker={"topk": 3})
    with pytest.raises(ConfigError, match="top_k"):
        EntityLinker("linker", reranker={"top_k": 1})
    # an elkit error, so the command line reports it with its exit code instead of calling it a bug
    with pytest.raises(ConfigError, match="no reranker settings"):
        train_reranker(EntityLinker("linker"), make_docs())
