"""NER scores: exact-match precision, recall and F1 of (start, end, label), overall and per label."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from elkit.doc import Doc

__all__ = ["NERScores", "evaluate_ner", "score_entities"]


def _prf(true_positives: int, predicted: int, gold: int) -> dict[str, float]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f_score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"p": precision, "r": recall, "f": f_score}


@dataclass
class NERScores:
    """Counts and scores of predicted against gold entities.

    Attributes:
        true_positives: Correct (start, end, label) per label.
        predicted: Predicted entities per label.
        gold: Gold entities per label.
        words: Words processed.
        seconds: Time spent predicting (0 when not timed).
    """

    true_positives: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)
    words: int = 0
    seconds: float = 0.0

    def add(self, predicted: Doc, gold: Doc, labels: set[str] | None = None) -> None:
        """Count one document pair (same words); with ``labels``, only those labels count."""
        predicted_spans = {(span.start, span.end, span.label) for span in predicted.ents
                           if labels is None or span.label in labels}
        gold_spans = {(span.start, span.end, span.label) for span in gold.ents
                      if labels is None or span.label in labels}
        for _, _, label in predicted_spans:
            self.predicted[label] += 1
        for _, _, label in gold_spans:
            self.gold[label] += 1
        for _, _, label in predicted_spans & gold_spans:
            self.true_positives[label] += 1
        self.words += len(gold)

    @property
    def overall(self) -> dict[str, float]:
        """Micro-averaged ``{"p", "r", "f"}``."""
        return _prf(sum(self.true_positives.values()), sum(self.predicted.values()), sum(self.gold.values()))

    @property
    def per_label(self) -> dict[str, dict[str, float]]:
        """``{"p", "r", "f"}`` for each label seen in gold or predictions."""
        labels = sorted(set(self.gold) | set(self.predicted))
        return {label: _prf(self.true_positives[label], self.predicted[label], self.gold[label]) for label in labels}

    @property
    def words_per_second(self) -> float:
        """Throughput of the timed prediction (0 when not timed)."""
        return self.words / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Scores as spaCy names them (``ents_p``, ``ents_r``, ``ents_f``, ``ents_per_type``) plus counts."""
        overall = self.overall
        return {
            "ents_p": overall["p"],
            "ents_r": overall["r"],
            "ents_f": overall["f"],
            "ents_per_type": self.per_label,
            "support": dict(self.gold),
            "words": self.words,
            "seconds": self.seconds,
            "words_per_second": self.words_per_second,
        }


def score_entities(predicted: Iterable[Doc], gold: Iterable[Doc], labels: set[str] | None = None) -> NERScores:
    """Score predicted documents against gold documents with the same words."""
    scores = NERScores()
    for predicted_doc, gold_doc in zip(predicted, gold, strict=True):
        scores.add(predicted_doc, gold_doc, labels)
    return scores


def _blank_copy(doc: Doc) -> Doc:
    """The document's words and sentences, without entities."""
    copy = Doc(doc.text, doc.token_starts, doc.token_ends, sentence_starts=doc.sentence_starts, validate=False)
    return copy


def evaluate_ner(nlp: Any, gold_docs: Sequence[Doc], *, batch_size: int = 256,
                 labels: set[str] | None = None) -> NERScores:
    """Run ``nlp`` over blank copies of ``gold_docs`` (timed) and score its entities against theirs.

    Args:
        nlp: A pipeline (or any object with ``pipe(docs, batch_size=...)``).
        gold_docs: Documents with gold entities.
        batch_size: Documents per batch.
        labels: Only score these labels (None: all).
    """
    blanks = [_blank_copy(doc) for doc in gold_docs]
    started = time.perf_counter()
    predicted = list(nlp.pipe(blanks, batch_size=batch_size))
    elapsed = time.perf_counter() - started
    scores = score_entities(predicted, gold_docs, labels)
    scores.seconds = elapsed
    return scores
