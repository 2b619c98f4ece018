"""The linker's decision stage: from a span's scored candidates to the span written back.

The best candidate is the link unless the NIL option is more likely or its probability is under ``threshold``;
a span without candidates is NIL for sure. The span keeps its ``store_candidates`` best candidates with their
probabilities, the link's probability as ``link_score`` and the NIL probability as ``attrs["nil_score"]``. With
``relabel``, a linked span takes its entity's first type as label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from elkit.doc import NIL, Candidate, Doc, Span
from elkit.kb.base import KnowledgeBase

__all__ = ["LinkPrediction", "decide", "write_links"]


@dataclass(frozen=True)
class LinkPrediction:
    """The linker's scores for one span.

    Attributes:
        position: Index of the span in ``doc.ents``.
        candidates: The candidates, in generation order.
        probabilities: One probability per candidate, then the NIL probability.
    """

    position: int
    candidates: tuple[Candidate, ...]
    probabilities: np.ndarray


def decide(span: Span, prediction: LinkPrediction, *, threshold: float | None, store_candidates: int,
           relabel_from: KnowledgeBase | None = None) -> Span:
    """The span with its link (or NIL), link score, scored candidates and NIL score.

    Args:
        span: The span as it is.
        prediction: Its scores.
        threshold: Below this probability the best candidate gives way to NIL (None: only the NIL option).
        store_candidates: How many scored candidates the span keeps.
        relabel_from: When given, a linked span takes its entity's first type (from this KB) as label.
    """
    probabilities = prediction.probabilities
    scored = sorted(
        (candidate.replace(score=float(probability))
         for candidate, probability in zip(prediction.candidates, probabilities[:-1], strict=True)),
        key=lambda candidate: (-(candidate.score or 0.0), candidate.entity_id),
    )
    nil_probability = float(probabilities[-1])
    attrs = {**span.attrs, "nil_score": round(nil_probability, 6)}
    if not scored:
        return span.replace(kb_id=NIL, link_score=1.0, candidates=(), attrs=attrs)
    best = scored[0]
    score = best.score or 0.0
    if score < nil_probability or (threshold is not None and score < threshold):
        return span.replace(kb_id=NIL, link_score=nil_probability, candidates=tuple(scored[:store_candidates]),
                            attrs=attrs)
    label = span.label
    if relabel_from is not None:
        types = relabel_from.get_entity(best.entity_id).types
        label = types[0] if types else label
    return span.replace(kb_id=best.entity_id, label=label, link_score=score,
                        candidates=tuple(scored[:store_candidates]), attrs=attrs)


class DecisionSettings(Protocol):
    """What the decision reads from a linker's settings (both linkers' settings models have these fields)."""

    threshold: float | None
    store_candidates: int
    relabel: bool
    labels_discard: list[str]
    overwrite: bool


def write_links(docs: Sequence[Doc], predictions: Sequence[Sequence[LinkPrediction]], settings: DecisionSettings,
                kb: KnowledgeBase | None) -> None:
    """Replace each predicted span of `docs` by its decided copy (see :func:`decide`).

    A span whose label is in ``settings.labels_discard`` gets NIL, as spaCy's EntityLinker gives it (unless it has
    a ``kb_id`` already and ``overwrite`` is off). With ``relabel``, a linked span takes the entity's first type
    from `kb`.
    """
    threshold, store_candidates = settings.threshold, settings.store_candidates
    relabel_from = kb if settings.relabel else None
    labels_discard, overwrite = settings.labels_discard, settings.overwrite
    for doc, found in zip(docs, predictions, strict=True):
        discarded = [position for position, span in enumerate(doc.ents)
                     if span.label in labels_discard and span.kb_id != NIL and (overwrite or not span.kb_id)]
        if not found and not discarded:
            continue
        spans = list(doc.ents)
        for position in discarded:
            spans[position] = spans[position].replace(kb_id=NIL)
        for prediction in found:
            spans[prediction.position] = decide(spans[prediction.position], prediction, threshold=threshold,
                                                store_candidates=store_candidates, relabel_from=relabel_from)
        doc.ents = spans
