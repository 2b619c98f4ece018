"""Hashed character 3-grams: the fuzzy index's keys, computed the same way at build and at query time."""

from __future__ import annotations

import numpy as np

__all__ = ["GRAM_SIZE", "bucket_bits_for", "key_gram_buckets", "query_gram_buckets"]

GRAM_SIZE = 3
_MULTIPLIER = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def bucket_bits_for(key_count: int) -> int:
    """Return the number of hash bits for an index over `key_count` keys (2^10 to 2^24 buckets)."""
    return int(min(24, max(10, (2 * max(key_count, 1) - 1).bit_length())))


def _hash(codes: np.ndarray, bits: int) -> np.ndarray:
    """Hash every 3-gram of a code-point array. codes: [n] uint64 → [n - 2] uint64 buckets."""
    with np.errstate(over="ignore"):
        value = (codes[:-2] * _MULTIPLIER + codes[1:-1]) * _MULTIPLIER + codes[2:]
        value = (value ^ (value >> np.uint64(29))) * _MIX
    return value >> np.uint64(64 - bits)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def query_gram_buckets(key: str, bits: int) -> np.ndarray:
    """Return the distinct gram buckets of one normalised key, padded with a space on each side."""
    codes = _codes(f" {key} ")
    if codes.size < GRAM_SIZE:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(_hash(codes, bits))


def key_gram_buckets(keys: list[str], first_key_id: int, bits: int) -> np.ndarray:
    """Return the distinct (bucket << 32 | key id) pairs of a chunk of keys, sorted.

    Args:
        keys: Normalised keys, non-empty; key i has id `first_key_id + i`.
        first_key_id: The id of the first key.
        bits: Hash bits (see `bucket_bits_for`).

    Returns:
        A sorted uint64 array of packed (bucket, key id) pairs, one per distinct gram of each key.
    """
    padded = [f" {key} " for key in keys]
    lengths = np.fromiter((len(text) for text in padded), dtype=np.int64, count=len(padded))
    codes = _codes("".join(padded))
    owner = np.repeat(np.arange(first_key_id, first_key_id + len(keys), dtype=np.uint64), lengths)
    valid = owner[:-2] == owner[2:]
    buckets = _hash(codes, bits)[valid]
    return np.unique((buckets << np.uint64(32)) | owner[:-2][valid])
