"""Evaluate a pipeline's entity linker on a gold corpus: on the gold mentions, and end to end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elkit.doc import Doc
from elkit.errors import DataError
from elkit.evaluation.linking import LinkScores, score_links

__all__ = ["LinkerEvaluation", "align_to_reference", "evaluate_linker"]


@dataclass
class LinkerEvaluation:
    """A linker's scores on a gold corpus.

    Attributes:
        on_gold: The linker run on the gold mentions (ids removed), with ``mentions_per_second`` set.
        end_to_end: The whole pipeline run on the texts, when something before the linker finds the mentions.
    """

    on_gold: LinkScores
    end_to_end: LinkScores | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready scores."""
        record = {"gold_mentions": self.on_gold.to_dict()}
        if self.end_to_end is not None:
            record["end_to_end"] = self.end_to_end.to_dict()
        return record


def evaluate_linker(nlp: Any, linker: Any, gold: Sequence[Doc], batch_size: int = 64) -> LinkerEvaluation:
    """Score ``linker`` (a component of ``nlp``) against ``gold``.

    Gold mentions: the linker links the gold spans. End to end (only when the linker is not the pipeline's first
    component): the pipeline runs on the texts, and its spans are moved onto the gold tokenisation.

    Raises:
        DataError: The linked documents do not match the gold ones.
    """
    from elkit.linking import link_gold_mentions

    resolve = linker.kb.resolve
    started = time.perf_counter()
    on_gold = score_links(link_gold_mentions(linker, gold, batch_size=batch_size), gold, resolve=resolve)
    on_gold.mentions_per_second = sum(len(doc.ents) for doc in gold) / max(time.perf_counter() - started, 1e-9)
    evaluation = LinkerEvaluation(on_gold)
    if nlp.pipe_names[0] != linker.name:
        predicted = list(nlp.pipe([doc.text for doc in gold], batch_size=batch_size))
        for doc, reference in zip(predicted, gold, strict=True):
            doc.meta.update(reference.meta)
        aligned = [align_to_reference(doc, reference) for doc, reference in zip(predicted, gold, strict=True)]
        evaluation.end_to_end = score_links(aligned, gold, resolve=resolve)
    return evaluation


def align_to_reference(predicted: Doc, reference: Doc) -> Doc:
    """The predicted spans moved onto the reference tokenisation, by characters.

    Spans that do not align are dropped, and count as misses.
    """
    aligned = reference.copy()
    spans = []
    for span in predicted.ents:
        try:
            moved = aligned.char_span(span.start_char, span.end_char, span.label, kb_id=span.kb_id)
        except DataError:
            moved = None
        if moved is not None:
            spans.append(moved.replace(candidates=span.candidates, link_score=span.link_score))
    aligned.ents = spans
    return aligned
