"""The one-edit index: every normalised key and its single-character deletions, hashed and sorted.

Two strings within one edit of each other (a substitution, insertion, deletion or swap of neighbours) share a
string obtained by deleting at most one character from each, so looking up the query and its deletions finds every
key within one edit, however common its letters are; a 3-gram index has to read long posting lists for that on a
big KB. Keys longer than `MAX_LENGTH` characters are left out (the 3-gram index still finds them).

Files: ``deletion_hashes.u64`` (sorted xxh3-64 hashes of the variants) and ``deletion_keys.i32`` (the key id of
each). A hash match is confirmed afterwards by the string similarity, so a rare hash collision costs nothing but
one comparison.
"""

from __future__ import annotations

from collections.abc import Iterator

import marisa_trie
import numpy as np

from elkit.kb.aliashash import hash_bytes

__all__ = ["MAX_LENGTH", "deletion_index", "variant_hashes"]

MAX_LENGTH = 40
"""Longest key (in characters) whose deletions are indexed."""

_CHUNK = 200_000


def _variants(key: str) -> set[str]:
    return {key, *(key[:position] + key[position + 1:] for position in range(len(key)))}


def variant_hashes(query: str) -> np.ndarray:
    """The sorted, distinct hashes of `query` and its single-character deletions (empty when it is too long)."""
    if not query or len(query) > MAX_LENGTH:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.fromiter((hash_bytes(variant.encode("utf-8", "surrogatepass"))
                                  for variant in _variants(query)), dtype=np.uint64))


def _pairs(keys: marisa_trie.Trie, first: int, last: int) -> Iterator[tuple[int, int]]:
    for key_id in range(first, last):
        key = keys.restore_key(key_id)
        if len(key) <= MAX_LENGTH:
            for variant in _variants(key):
                yield hash_bytes(variant.encode("utf-8", "surrogatepass")), key_id


def deletion_index(keys: marisa_trie.Trie) -> dict[str, np.ndarray]:
    """``deletion_hashes`` (uint64, sorted) and ``deletion_keys`` (int32) over the keys of `keys`."""
    hash_chunks: list[np.ndarray] = []
    key_chunks: list[np.ndarray] = []
    for first in range(0, len(keys), _CHUNK):
        pairs = np.fromiter(_pairs(keys, first, min(len(keys), first + _CHUNK)),
                            dtype=np.dtype([("hash", np.uint64), ("key", np.int32)]))
        hash_chunks.append(pairs["hash"])
        key_chunks.append(pairs["key"])
    hashes = np.concatenate(hash_chunks) if hash_chunks else np.zeros(0, dtype=np.uint64)
    key_ids = np.concatenate(key_chunks) if key_chunks else np.zeros(0, dtype=np.int32)
    order = np.argsort(hashes, kind="stable")
    return {"deletion_hashes": hashes[order], "deletion_keys": key_ids[order]}
