"""The sentence encoder: a text's vector does not depend on the texts encoded with it."""

import numpy as np

from elkit.encoders.text import TextEncoder
from tests.ner.support import tiny_transformer


def test_vectors_are_the_same_bits_in_any_batch(tmp_path):
    encoder = TextEncoder(tiny_transformer(tmp_path / "tiny"), max_length=64)
    texts = ["paris : capital of france", "apple", "the " * 30, "google and apple in paris", ""]
    together = encoder.encode(texts, batch_size=3)
    alone = np.stack([encoder.encode([text])[0] for text in texts])
    assert np.array_equal(together, alone)
    assert np.array_equal(encoder.encode(texts[::-1], batch_size=2)[::-1], together)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)
