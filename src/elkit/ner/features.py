"""Token features for the fast encoder: stable hashed ids of norm, prefix, suffix and shape, plus casing flags.

Hashes must not change between processes (Python's ``hash`` is salted), so strings are hashed with CRC-32 and a
per-feature seed; a bounded cache keeps the hot words' ids.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

from elkit.doc.token import word_shape

__all__ = ["CASING_FLAGS", "FEATURE_NAMES", "FeatureExtractor", "casing_flags"]

FEATURE_NAMES: tuple[str, ...] = ("norm", "prefix", "suffix", "shape")
"""The hashed string features, in column order."""

CASING_FLAGS: tuple[str, ...] = ("lower", "title", "upper", "mixed", "digit", "punct", "first_upper", "has_digit")
"""Binary casing features, in column order; they give uncased encoders the casing back."""

_CACHE_LIMIT = 500_000


def casing_flags(text: str) -> tuple[float, ...]:
    """Return the :data:`CASING_FLAGS` of one token as floats."""
    is_lower = text.islower()
    is_upper = text.isupper()
    is_title = text.istitle()
    return (
        float(is_lower),
        float(is_title),
        float(is_upper),
        float(not (is_lower or is_upper or is_title) and any(character.isalpha() for character in text)),
        float(text.isdigit()),
        float(all(unicodedata.category(character).startswith("P") for character in text)),
        float(text[:1].isupper()),
        float(any(character.isdigit() for character in text)),
    )


class FeatureExtractor:
    """Turn words into rows of hashed feature ids and casing flags.

    Args:
        prefix_length: Characters of the prefix feature.
        suffix_length: Characters of the suffix feature.
    """

    def __init__(self, prefix_length: int = 3, suffix_length: int = 3) -> None:
        self.prefix_length = prefix_length
        self.suffix_length = suffix_length
        self._cache: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {}

    def _compute(self, word: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        norm = unicodedata.normalize("NFKC", word).lower()
        values = (norm, norm[: self.prefix_length], norm[-self.suffix_length:], word_shape(word))
        ids = tuple(
            zlib.crc32(value.encode("utf-8", "surrogatepass"), seed) & 0x7FFFFFFF
            for seed, value in enumerate(values, start=1)
        )
        return ids, casing_flags(word)

    def features(self, word: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """Return (hashed ids in :data:`FEATURE_NAMES` order, casing flags) for one word."""
        cached = self._cache.get(word)
        if cached is None:
            cached = self._compute(word)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[word] = cached
        return cached

    def batch(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of a batch of word sequences, padded to the longest.

        Returns:
            ids ``[batch, length, len(FEATURE_NAMES)]`` int64, flags ``[batch, length, len(CASING_FLAGS)]``
            float32, and a mask ``[batch, length]`` bool.
        """
        longest = max((len(words) for words in sentences), default=0)
        ids = np.zeros((len(sentences), longest, len(FEATURE_NAMES)), dtype=np.int64)
        flags = np.zeros((len(sentences), longest, len(CASING_FLAGS)), dtype=np.float32)
        mask = np.zeros((len(sentences), longest), dtype=bool)
        for row, words in enumerate(sentences):
            if not words:
                continue
            computed = [self.features(word) for word in words]
            ids[row, : len(words)] = [item[0] for item in computed]
            flags[row, : len(words)] = [item[1] for item in computed]
            mask[row, : len(words)] = True
        return ids, flags, mask

    def __getstate__(self) -> dict[str, int]:
        return {"prefix_length": self.prefix_length, "suffix_length": self.suffix_length}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(**state)  # type: ignore[misc]
