"""Context and entity vectors from static word vectors, weighted by inverse document frequency.

A mention's context is the idf-weighted mean of the word vectors around it (its own words left out), in two
windows: the sentence with ``n_sents`` sentences either side, and the whole document. An entity's text vector is
the same mean over its name and description. Both are unit length, so a dot product is a cosine.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from elkit.doc import Doc, Span

__all__ = ["ContextVectors", "sentence_bounds"]

_WORD = re.compile(r"\w+", re.UNICODE)


_SUM_CHUNK = 8192
"""Most words whose vectors are held at once while a document's sentence sums are made."""


def sentence_bounds(doc: Doc) -> list[tuple[int, int]]:
    """(start, end) token ranges of the document's sentences (one range for the document when it has none)."""
    starts = doc.sentence_starts
    if not starts:
        return [(0, len(doc))] if len(doc) else []
    bounds = [*starts, len(doc)]
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts)) if bounds[i] < bounds[i + 1]]


class ContextVectors:
    """Static word vectors with idf weights.

    Args:
        words: The vocabulary (lower-case).
        matrix: [len(words), dim] vectors.
        idf: Per-word idf weights (None: all 1).
    """

    def __init__(self, words: Sequence[str], matrix: np.ndarray, idf: np.ndarray | None = None) -> None:
        self.words = list(words)
        self.index = {word: row for row, word in enumerate(self.words)}
        norms = np.linalg.norm(matrix.astype(np.float32), axis=1, keepdims=True)
        # Rounded to float16 precision, as saved: a reloaded model computes exactly the same vectors.
        self.matrix = (matrix.astype(np.float32) / np.maximum(norms, 1e-8)).astype(np.float16).astype(np.float32)
        self.idf = np.ones(len(self.words), dtype=np.float32) if idf is None else idf.astype(np.float32)
        self.dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        self._text_cache: dict[str, np.ndarray] = {}

    def fit_idf(self, texts: Iterable[Sequence[str]]) -> None:
        """Set idf weights from tokenised units (sentences or documents); unseen words get the highest weight."""
        frequency: Counter[int] = Counter()
        units = 0
        for words in texts:
            units += 1
            frequency.update({self.index[word.lower()] for word in words if word.lower() in self.index})
        if units == 0:
            return
        top = math.log((units + 1) / 1.0)
        idf = np.full(len(self.words), top, dtype=np.float32)
        for row, count in frequency.items():
            idf[row] = math.log((units + 1) / (count + 0.5))
        self.idf = np.maximum(idf, 0.0)
        self._text_cache = {}

    def rows(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vector rows of `words` (-1 for unknown words) and their weights (0 for unknown words)."""
        rows = np.fromiter((self.index.get(word.lower(), -1) for word in words), dtype=np.int64, count=len(words))
        weights = np.where(rows >= 0, self.idf[np.maximum(rows, 0)], 0.0).astype(np.float32)
        return rows, weights

    def text_vector(self, text: str) -> np.ndarray:
        """The unit idf-weighted mean vector of a text's words (zeros when none is known)."""
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        words = _WORD.findall(text)
        vector = self._mean(*self.rows(words))
        if len(self._text_cache) < 500_000:
            self._text_cache[text] = vector
        return vector

    def _mean(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if not len(rows) or not weights.any():
            return np.zeros(self.dim, dtype=np.float32)
        total = weights @ self.matrix[np.maximum(rows, 0)]
        norm = float(np.linalg.norm(total))
        return total / norm if norm > 0 else np.zeros(self.dim, dtype=np.float32)

    def mention_contexts(self, doc: Doc, spans: Sequence[Span], n_sents: int) -> np.ndarray:
        """[len(spans), 2, dim]: each span's local (sentence ± n_sents) and document context, its words left out.

        Word vectors are summed per sentence, a few thousand words at a time, and the windows are read from
        running sums over sentences: time and memory stay linear in the length of the document.
        """
        output = np.zeros((len(spans), 2, self.dim), dtype=np.float32)
        if not spans or self.dim == 0:
            return output
        rows, weights = self.rows(doc.words)
        bounds = sentence_bounds(doc)
        firsts = np.asarray([start for start, _ in bounds], dtype=np.int64)
        prefix = np.zeros((len(bounds) + 1, self.dim), dtype=np.float64)  # prefix[k]: sentences before k
        sentence = 0
        while sentence < len(bounds):
            low, last = bounds[sentence][0], sentence
            while last + 1 < len(bounds) and bounds[last + 1][1] - low <= _SUM_CHUNK:
                last += 1
            high = bounds[last][1]
            weighted = self.matrix[np.maximum(rows[low:high], 0)] * weights[low:high, None]
            prefix[sentence + 1: last + 2] = np.add.reduceat(weighted, firsts[sentence: last + 1] - low, axis=0)
            sentence = last + 1
        np.cumsum(prefix, axis=0, out=prefix)
        whole = prefix[-1]
        for position, span in enumerate(spans):
            span_rows = rows[span.start: span.end]
            own = weights[span.start: span.end] @ self.matrix[np.maximum(span_rows, 0)]
            number = int(np.searchsorted(firsts, span.start, side="right")) - 1
            if n_sents < 0:
                local = whole - own
            else:
                local = prefix[min(len(bounds), number + n_sents + 1)] - prefix[max(0, number - n_sents)] - own
            for column, total in enumerate((local, whole - own)):
                norm = float(np.sqrt(total @ total))
                if norm > 1e-6:
                    output[position, column] = total / norm
        return output
        rows, weights = self.rows(doc.words)
        weighted = self.matrix[np.maximum(rows, 0)] * weights[:, None]  # [tokens, dim]
        prefix = np.zeros((len(doc) + 1, self.dim), dtype=np.float32)
        np.cumsum(weighted, axis=0, out=prefix[1:])
        bounds = sentence_bounds(doc)
        sentence_of = np.zeros(len(doc), dtype=np.int64)
        for number, (start, end) in enumerate(bounds):
            sentence_of[start:end] = number
        for position, span in enumerate(spans):
            own = prefix[span.end] - prefix[span.start]
            number = int(sentence_of[span.start])
            if n_sents < 0:
                low, high = 0, len(doc)
            else:
                low = bounds[max(0, number - n_sents)][0]
                high = bounds[min(len(bounds) - 1, number + n_sents)][1]
            for column, total in enumerate((prefix[high] - prefix[low] - own, prefix[len(doc)] - own)):
                norm = float(np.linalg.norm(total))
                if norm > 1e-6:
                    output[position, column] = total / norm
        return output
