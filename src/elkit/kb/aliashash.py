"""The exact-alias hash table: an alias's 64-bit xxh3 hash → its alias id, by open addressing.

A marisa trie walk costs microseconds on a KB of millions of aliases; hashing the alias and reading a slot or two
of a memory-mapped table costs a fraction of that. The table has a power-of-two number of slots, at least twice
the number of aliases, each holding an alias id or `EMPTY`; an alias sits at its hash's slot or the first free one
after it (linear probing). A slot's alias is confirmed by its stored 64-bit hash, so a text that is not an alias
matches only if its hash equals an alias's hash at a probed slot (a chance of about 2⁻⁶⁴ a probe). The lookup
itself is inlined in `elkit.kb.index.KBIndex.exact`, the hottest call a linker makes.
"""

from __future__ import annotations

import marisa_trie
import numpy as np
import xxhash

__all__ = ["EMPTY", "alias_hash", "alias_hash_table", "hash_bytes"]

EMPTY = 0xFFFFFFFF
"""The value of a free slot."""

hash_bytes = xxhash.xxh3_64_intdigest
"""The 64-bit hash of bytes (xxh3)."""


def alias_hash(alias: str) -> int:
    """The 64-bit hash of an alias's UTF-8 text (lone surrogates kept as they are)."""
    return hash_bytes(alias.encode("utf-8", "surrogatepass"))


def alias_hash_table(trie: marisa_trie.Trie) -> dict[str, np.ndarray]:
    """``alias_slots`` (uint32 [slots]) and ``alias_hashes`` (uint64 [aliases]) for the aliases of ``trie``.

    Returns an empty dict when two aliases share a 64-bit hash (then lookups keep using the trie).
    """
    count = len(trie)
    hashes = np.zeros(count, dtype=np.uint64)
    for alias, alias_id in trie.iteritems():
        hashes[alias_id] = alias_hash(alias)
    if len(np.unique(hashes)) != count:
        return {}
    size = 1 << max(3, (2 * count).bit_length())
    mask = np.uint64(size - 1)
    slots = np.full(size, EMPTY, dtype=np.uint32)
    pending = np.arange(count, dtype=np.int64)
    position = (hashes & mask).astype(np.int64)
    while pending.size:  # each round, every free target slot takes one of the aliases aiming at it
        free = np.flatnonzero(slots[position] == EMPTY)
        targets, first = np.unique(position[free], return_index=True)
        winners = free[first]
        slots[targets] = pending[winners]
        keep = np.ones(pending.size, dtype=bool)
        keep[winners] = False
        pending = pending[keep]
        position = (position[keep] + 1) & (size - 1)
    return {"alias_slots": slots, "alias_hashes": hashes}
