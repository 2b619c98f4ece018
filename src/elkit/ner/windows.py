"""Overlapping windows over long word ranges, and reading each span from the window that sees it best.

A sentence (or document) longer than ``size`` words is scored in windows of ``size`` words that overlap by
``overlap`` words. With ``overlap`` at least the longest span, every span lies whole inside some window; it is
read from the window where it sits furthest from an edge, so nothing is truncated and an entity across a window
edge is found whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from elkit.doc import Doc

__all__ = ["WindowPlan", "batches_by_words", "merge_windows", "scored_ranges", "window_ranges"]


def scored_ranges(docs: Sequence[Doc], context: str) -> list[tuple[int, int, int]]:
    """``(doc index, start, end)`` of every range scored as a whole: each sentence, or each whole document."""
    ranges = []
    for index, doc in enumerate(docs):
        if not len(doc):
            continue
        spans = doc.sents if context == "sentence" else [doc[0: len(doc)]]
        ranges.extend((index, span.start, span.end) for span in spans if span.end > span.start)
    return ranges


class WindowPlan:
    """The windows of a batch of documents, and how their probabilities become one array per scored range.

    Args:
        docs: The documents.
        context: "sentence" or "document" (see :func:`scored_ranges`).
        size: Words per window.
        overlap: Words shared by consecutive windows.
        max_width: Longest span in words.
    """

    def __init__(self, docs: Sequence[Doc], context: str, size: int, overlap: int, max_width: int) -> None:
        self.documents = len(docs)
        self.max_width = max_width
        self.ranges = scored_ranges(docs, context)
        self.windows: list[tuple[int, int, int]] = []  # (doc index, window start, window end)
        self._owner: list[tuple[int, int]] = []  # the (doc index, range start) of each window
        for index, start, end in self.ranges:
            for first, last in window_ranges(start, end, size, overlap):
                self.windows.append((index, first, last))
                self._owner.append((index, start))
        self._pieces: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}

    def add(self, window: int, probabilities: np.ndarray) -> None:
        """Record window number ``window``'s probabilities ``[words, widths, labels]`` (padding included)."""
        _, first, last = self.windows[window]
        length = last - first
        widths = min(self.max_width, length)
        self._pieces.setdefault(self._owner[window], []).append((first, probabilities[:length, :widths]))

    def segments(self) -> list[list[tuple[int, np.ndarray]]]:
        """Per document, ``(range start, probabilities)`` for each scored range, windows merged."""
        found: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(self.documents)]
        for index, start, end in self.ranges:
            parts = sorted(self._pieces[(index, start)], key=lambda piece: piece[0])
            found[index].append((start, merge_windows(start, end, parts, self.max_width)))
        return found


def window_ranges(start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Windows ``(start, end)`` of at most ``size`` words covering ``[start, end)``, sharing ``overlap`` words.

    The last window ends at ``end``.
    """
    if end - start <= size:
        return [(start, end)]
    step = size - overlap
    starts = [*range(start, end - size, step), end - size]
    return [(first, first + size) for first in sorted(set(starts))]


def merge_windows(start: int, end: int, pieces: Sequence[tuple[int, np.ndarray]], max_width: int) -> np.ndarray:
    """One ``[words, widths, labels]`` array for ``[start, end)`` from its windows' arrays.

    Args:
        start: First word of the range.
        end: End of the range.
        pieces: ``(window start, probabilities [window words, window widths, labels])`` per window.
        max_width: Longest span in words.

    Returns:
        For each span, the probabilities of the window in which it lies whole and furthest from an edge.
    """
    if len(pieces) == 1:
        return pieces[0][1]
    length = end - start
    widths = min(max_width, length)
    labels = pieces[0][1].shape[-1]
    merged = np.zeros((length, widths, labels), dtype=pieces[0][1].dtype)
    best = np.full((length, widths), -1, dtype=np.int64)
    for window_start, probabilities in pieces:
        words, window_widths = probabilities.shape[:2]
        first = np.arange(words).reshape(-1, 1)
        last = first + np.arange(window_widths).reshape(1, -1)  # the span's last word, in the window
        margin = np.minimum(first, words - 1 - last)
        margin[last >= words] = -1
        rows = window_start - start
        region = best[rows: rows + words, :window_widths]
        better = margin > region
        region[better] = margin[better]
        merged[rows: rows + words, :window_widths][better] = probabilities[better]
    return merged


def batches_by_words(sizes: Sequence[int], budget: int) -> Iterator[list[int]]:
    """Positions of ``sizes`` in batches, shortest first, each at most ``budget`` words once padded.

    A batch is padded to its longest member; an item longer than ``budget`` gets a batch of its own.
    """
    order = sorted(range(len(sizes)), key=lambda position: sizes[position])
    batch: list[int] = []
    for position in order:
        if batch and sizes[position] * (len(batch) + 1) > budget:
            yield batch
            batch = []
        batch.append(position)
    if batch:
        yield batch
