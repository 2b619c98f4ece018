"""Overlapping windows over long word ranges, and reading each span from the window that sees it best.

A sentence (or document) longer than ``size`` words is scored in windows of ``size`` words that overlap by
``overlap`` words. With ``overlap`` at least the longest span, every span lies whole inside some window; it is
read from the window where it sits furthest from an edge, so nothing is truncated and an entity across a window
edge is found whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["batches_by_words", "merge_windows", "window_ranges"]


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
