"""Span bookkeeping of the span-scoring recognizer: what is scored, what comes back, what is learned, what is kept.

* :class:`SpanScores`: the probability of every (span, label) of a document;
* :func:`span_targets`: the gold target and loss weight of every (span, label) cell, from complete annotation,
  partial annotation or binary answers;
* :func:`decode_flat`: the best non-overlapping spans, kept around (or replacing) the document's entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from elkit.doc import Doc, Example, Span
from elkit.errors import DataError

__all__ = ["SpanScores", "as_example", "decode_flat", "span_targets"]

@dataclass(frozen=True, slots=True)
class SpanScores:
    """The probabilities for one document: ``probabilities[i, w, l]`` is P(words i..i+w are a ``labels[l]``).

    Attributes:
        segments: ``(offset, probabilities)`` per scored segment; ``offset`` is the segment's first word.
        labels: Label names, in column order.
    """

    segments: tuple[tuple[int, np.ndarray], ...]
    labels: tuple[str, ...]

    def spans(self, threshold: float = 0.0) -> list[tuple[int, int, str, float]]:
        """Every (start, end, label, probability) with probability at or above ``threshold``, best first."""
        found: list[tuple[int, int, str, float]] = []
        for offset, probabilities in self.segments:
            starts, widths, columns = np.nonzero(probabilities >= threshold)
            for start, width, column in zip(starts.tolist(), widths.tolist(), columns.tolist(), strict=True):
                found.append((offset + start, offset + start + width + 1, self.labels[column],
                              float(probabilities[start, width, column])))
        found.sort(key=lambda item: (-item[3], item[0], item[1]))
        return found


def as_example(item: Example | Doc) -> Example:
    """An ``Example`` as it is, or a ``Doc`` whose ``ents`` are its complete gold annotation.

    Raises:
        DataError: For anything else.
    """
    if isinstance(item, Example):
        return item
    if isinstance(item, Doc):
        return Example(item)
    raise DataError(f"expected an Example or a Doc, got {type(item).__name__}")


def span_targets(examples: Sequence[Example], scored: Sequence[tuple[int, int, int]], shape: tuple[int, ...],
                 labels: Sequence[str], max_width: int, where: str,
                 device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gold targets and the weights of the cells that get a loss.

    Args:
        examples: The batch.
        scored: The scored segments, ``(example index, start word, end word)``, one per row of ``shape``.
        shape: ``[segments, words, widths, labels]``, the shape of the model's logits.
        labels: The label of each column.
        max_width: Longest span in words; longer gold spans are left out.
        where: The component's name, for messages.
        device: Where the model's logits are (None: the CPU); the cells are filled on the CPU, then moved there.

    Returns:
        ``(targets, weights)``, both of ``shape``, on ``device``. A complete example weighs every cell of its
        segments; a partial one only the cells of its annotated spans; a rejected answer only its own (span, label)
        cell.

    Raises:
        DataError: A gold span or answer with a label the model does not have.
    """
    targets = torch.zeros(shape)
    weights = torch.zeros(shape)
    column = {label: position for position, label in enumerate(labels)}
    for row, (index, start, end) in enumerate(scored):
        example = examples[index]
        if example.complete:
            weights[row] = 1.0
        for span in example.reference.ents:
            if start <= span.start and span.end <= end and len(span) <= max_width:
                if span.label not in column:
                    raise DataError(f"{where}: unknown label {span.label!r}; call add_label() first")
                cell = (row, span.start - start, len(span) - 1)
                targets[(*cell, column[span.label])] = 1.0
                weights[cell] = 1.0
        for answer in example.answers:
            if start <= answer.start and answer.end <= end and answer.end - answer.start <= max_width:
                if answer.label not in column:
                    raise DataError(f"{where}: unknown label {answer.label!r}; call add_label() first")
                cell = (row, answer.start - start, answer.end - answer.start - 1)
                if answer.accept:
                    targets[cell] = 0.0
                    targets[(*cell, column[answer.label])] = 1.0
                    weights[cell] = 1.0
                else:
                    weights[(*cell, column[answer.label])] = 1.0
    if device is not None:
        targets, weights = targets.to(device), weights.to(device)
    return targets, weights


def decode_flat(doc: Doc, candidates: list[tuple[int, int, str, float]], overwrite: bool) -> list[Span]:
    """Best non-overlapping spans, greedily by probability, around (or replacing) the document's entities."""
    taken = np.zeros(len(doc), dtype=bool)
    existing = list(doc.ents)
    if not overwrite:
        for span in existing:
            taken[span.start: span.end] = True
    chosen: list[Span] = []
    for start, end, label, probability in candidates:
        if taken[start:end].any():
            continue
        taken[start:end] = True
        chosen.append(Span(doc, start, end, label, score=probability))
    if overwrite:
        covered = np.zeros(len(doc), dtype=bool)
        for span in chosen:
            covered[span.start: span.end] = True
        existing = [span for span in existing if not covered[span.start: span.end].any()]
    return existing + chosen
