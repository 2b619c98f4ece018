"""Mention contexts: the running sums over sentences give the same vectors as summing each window directly."""

import numpy as np
import pytest

from elkit.doc import Doc
from elkit.linking import context as context_module
from elkit.linking.context import ContextVectors, sentence_bounds


def reference(vectors: ContextVectors, doc: Doc, start: int, end: int, n_sents: int) -> np.ndarray:
    rows, weights = vectors.rows(doc.words)
    weighted = vectors.matrix[np.maximum(rows, 0)] * weights[:, None]
    bounds = sentence_bounds(doc)
    number = next(index for index, (low, high) in enumerate(bounds) if low <= start < high)
    low = bounds[max(0, number - n_sents)][0] if n_sents >= 0 else 0
    high = bounds[min(len(bounds) - 1, number + n_sents)][1] if n_sents >= 0 else len(doc)
    own = weighted[start:end].sum(axis=0)
    result = []
    for total in (weighted[low:high].sum(axis=0) - own, weighted.sum(axis=0) - own):
        norm = np.linalg.norm(total)
        result.append(total / norm if norm > 1e-6 else np.zeros_like(total))
    return np.stack(result)


@pytest.mark.parametrize("chunk", [3, 8192])
@pytest.mark.parametrize("n_sents", [0, 1, -1])
def test_contexts_equal_direct_sums(monkeypatch, chunk, n_sents):
    monkeypatch.setattr(context_module, "_SUM_CHUNK", chunk)
    rng = np.random.default_rng(0)
    words = [f"w{number}" for number in range(40)]
    vectors = ContextVectors(words, rng.normal(size=(40, 8)).astype(np.float32), rng.uniform(0.5, 2.0, 40))
    tokens = [f"w{rng.integers(0, 50)}" for _ in range(120)]  # some unknown words
    doc = Doc.from_words(tokens)
    doc.set_sentence_starts([0, 7, 8, 30, 31, 32, 60, 100])
    spans = [doc.span(start, start + width) for start, width in ((0, 2), (7, 1), (29, 3), (59, 2), (118, 2))]
    found = vectors.mention_contexts(doc, spans, n_sents)
    for position, span in enumerate(spans):
        np.testing.assert_allclose(found[position], reference(vectors, doc, span.start, span.end, n_sents),
                                   atol=1e-5)
