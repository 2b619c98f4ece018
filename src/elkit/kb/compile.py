"""Compile checked KB contents into a `KBIndex` (`elkit.kb.layout.save_index` writes one to a folder).

The builder (`elkit.kb.builder`) reads and checks the sources; this module only turns the checked rows into
tries and flat arrays. Every step is vectorised with numpy so that tens of millions of aliases compile in
minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import marisa_trie
import numpy as np

from elkit.errors import KBError
from elkit.kb.aliashash import alias_hash_table
from elkit.kb.deletions import deletion_index
from elkit.kb.entity import Entity
from elkit.kb.grams import bucket_bits_for, key_gram_buckets
from elkit.kb.index import KBIndex
from elkit.kb.layout import ARRAYS, FORMAT_NAME, FORMAT_VERSION, OPTIONAL_ARRAYS
from elkit.kb.normalize import AliasNormalizer

__all__ = ["compile_index"]

Report = Callable[[str], None]
_GRAM_CHUNK = 200_000


def _quiet(message: str) -> None:
    del message


def compile_index(
    entities: Sequence[Entity],
    alias_texts: Sequence[str],
    alias_entities: np.ndarray,
    alias_priors: np.ndarray,
    normalizer: AliasNormalizer | None = None,
    report: Report = _quiet,
    extra_manifest: dict[str, Any] | None = None,
    alias_kinds: np.ndarray | None = None,
    alias_weights: np.ndarray | None = None,
) -> KBIndex:
    """Compile checked entities and (alias, entity, prior) rows into an in-memory `KBIndex`.

    Args:
        entities: Entities with distinct ids, in any order.
        alias_texts: The alias of each row (a row is one alias → entity pair; pairs are distinct).
        alias_entities: [rows] int, the position in `entities` of each row's entity.
        alias_priors: [rows] float, each row's prior; per alias they sum to at most 1.
        normalizer: The alias normaliser (default settings when None).
        report: Called with a short message as each stage starts.
        extra_manifest: Extra manifest entries (build sources and report).
        alias_kinds: [rows] what each row's weight was in the source: 2 an explicit prior, 1 a count, 0 none.
            Normalised keys merge the rows of several aliases with the builder's rule (the strongest kind
            wins; counts add up). None treats every row as an explicit prior.
        alias_weights: [rows] each row's count (for count rows); ignored for other kinds.

    Returns:
        The compiled index.
    """
    normalizer = normalizer or AliasNormalizer()
    report(f"indexing {len(entities):,} entities")
    entity_trie = marisa_trie.Trie([entity.entity_id for entity in entities])
    if len(entity_trie) != len(entities):
        raise KBError("entity ids are not distinct")
    row_of_input = np.fromiter((entity_trie[entity.entity_id] for entity in entities), np.int64, len(entities))
    input_of_row = np.argsort(row_of_input)
    records, record_offsets, popularity = _records(entities, input_of_row)
    other_trie, other_rows = _other_ids(entities, row_of_input)

    report(f"indexing {len(alias_texts):,} alias rows")
    alias_trie = marisa_trie.Trie(alias_texts)
    alias_ids = np.fromiter((alias_trie[alias] for alias in alias_texts), np.int64, len(alias_texts))
    rows = row_of_input[np.asarray(alias_entities, dtype=np.int64)]
    priors = np.asarray(alias_priors, dtype=np.float64)
    alias_offsets, alias_rows, alias_row_priors = _csr(alias_ids, rows, priors, len(alias_trie))
    alias_id_blob, alias_id_offsets = _row_ids(entities, input_of_row, alias_rows)

    report(f"normalising {len(alias_trie):,} aliases")
    key_texts = [normalizer(alias_trie.restore_key(alias_id)) for alias_id in range(len(alias_trie))]
    key_trie = marisa_trie.Trie([key for key in key_texts if key])
    key_of_alias = np.fromiter((key_trie[key] if key else -1 for key in key_texts), np.int64, len(key_texts))
    kinds = np.full(len(rows), 2, np.int64) if alias_kinds is None else np.asarray(alias_kinds, dtype=np.int64)
    weights = priors if alias_weights is None else np.asarray(alias_weights, dtype=np.float64)
    key_table = _key_table(key_of_alias[alias_ids], rows, priors, kinds, weights, len(key_trie), alias_ids)
    key_offsets, key_rows, key_row_priors, key_aliases = key_table

    report(f"building the 3-gram index over {len(key_trie):,} keys")
    bits = bucket_bits_for(len(key_trie))
    gram_offsets, gram_keys, key_grams = _gram_index(key_trie, bits)

    arrays = {
        "record_offsets": record_offsets,
        "popularity": popularity,
        "other_id_rows": other_rows,
        "alias_offsets": alias_offsets,
        "alias_entities": alias_rows,
        "alias_priors": alias_row_priors,
        "alias_id_offsets": alias_id_offsets,
        "key_offsets": key_offsets,
        "key_entities": key_rows,
        "key_priors": key_row_priors,
        "key_aliases": key_aliases,
        "key_grams": key_grams,
        "gram_offsets": gram_offsets,
        "gram_keys": gram_keys,
    }
    types = {**ARRAYS, **OPTIONAL_ARRAYS}
    arrays = {name: np.ascontiguousarray(array, dtype=np.dtype(types[name])) for name, array in arrays.items()}
    report(f"hashing {len(alias_trie):,} aliases for exact lookups")
    arrays.update(alias_hash_table(alias_trie))
    report(f"indexing the one-character deletions of {len(key_trie):,} keys")
    arrays.update(deletion_index(key_trie))
    manifest: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "counts": {
            "entities": len(entity_trie),
            "aliases": len(alias_trie),
            "alias_entity_pairs": len(alias_rows),
            "normalized_keys": len(key_trie),
            "other_ids": len(other_trie),
        },
        "normalizer": normalizer.to_dict(),
        "gram_bits": bits,
        "files": {},
        **(extra_manifest or {}),
    }
    tries = {"entities": entity_trie, "other_ids": other_trie, "aliases": alias_trie, "keys": key_trie}
    return KBIndex(tries, arrays, {"records": records, "alias_ids": alias_id_blob}, manifest)


def _records(entities: Sequence[Entity], input_of_row: np.ndarray) -> tuple[bytes, np.ndarray, np.ndarray]:
    encoded: list[bytes] = []
    popularity = np.zeros(len(entities), dtype=np.float64)
    for row, position in enumerate(input_of_row.tolist()):
        entity = entities[position]
        record = [entity.name, entity.description, list(entity.types), list(entity.other_ids), dict(entity.attrs)]
        encoded.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        popularity[row] = entity.popularity
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(item) for item in encoded), np.int64, len(encoded)), out=offsets[1:])
    return b"".join(encoded), offsets, popularity


def _row_ids(entities: Sequence[Entity], input_of_row: np.ndarray, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Write the entity id of each alias row, each followed by the byte 0x1F, and where each starts."""
    encoded = [entities[position].entity_id.encode("utf-8") + b"\x1f" for position in input_of_row.tolist()]
    lengths = np.fromiter((len(item) for item in encoded), np.int64, len(encoded))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths[rows], out=offsets[1:])
    return b"".join([encoded[row] for row in rows.tolist()]), offsets


def _other_ids(entities: Sequence[Entity], row_of_input: np.ndarray) -> tuple[marisa_trie.Trie, np.ndarray]:
    pairs = {}
    for position, entity in enumerate(entities):
        for other in entity.other_ids:
            if other != entity.entity_id:
                pairs.setdefault(other, int(row_of_input[position]))
    trie = marisa_trie.Trie(list(pairs))
    rows = np.zeros(len(trie), dtype=np.int32)
    for other, row in pairs.items():
        rows[trie[other]] = row
    return trie, rows


def _csr(
    group_ids: np.ndarray, rows: np.ndarray, priors: np.ndarray, group_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by group, best prior first, and return (offsets, rows, priors)."""
    order = np.lexsort((rows, -priors, group_ids))
    offsets = np.zeros(group_count + 1, dtype=np.int64)
    np.cumsum(np.bincount(group_ids, minlength=group_count), out=offsets[1:])
    return offsets, rows[order], priors[order]


def _key_table(
    key_ids: np.ndarray, rows: np.ndarray, priors: np.ndarray, kinds: np.ndarray, weights: np.ndarray, key_count: int,
    alias_ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the rows of aliases that share a normalised key into one candidate list per key.

    The strongest kind of evidence among the key's rows wins (explicit prior > count > none), as it does per
    alias; weaker rows stay as candidates with prior 0. Counts of one entity add up across aliases and become
    count / total; otherwise each entity keeps its best prior and the key's priors are scaled to sum <= 1.

    Returns:
        (offsets, rows, priors, aliases): per key, its entities best prior first, and for each the id of the KB
        alias it came from (the entity's best-prior alias of that key), so a normalised or fuzzy candidate
        names a real alias of its entity, not the normalised key.
    """
    valid = key_ids >= 0
    key_ids, rows, priors, kinds, weights = key_ids[valid], rows[valid], priors[valid], kinds[valid], weights[valid]
    alias_ids = alias_ids[valid]
    top = np.zeros(key_count, dtype=np.int64)
    np.maximum.at(top, key_ids, kinds)
    strongest = kinds == top[key_ids]
    counted = strongest & (kinds == 1)
    # Per (key, entity): the summed count, and the best prior among the strongest rows.
    order = np.lexsort((-(priors * strongest), rows, key_ids))
    key_ids, rows, alias_ids = key_ids[order], rows[order], alias_ids[order]
    priors, counted, strongest, weights = priors[order], counted[order], strongest[order], weights[order]
    first = np.ones(len(key_ids), dtype=bool)
    first[1:] = (key_ids[1:] != key_ids[:-1]) | (rows[1:] != rows[:-1])
    group = np.cumsum(first) - 1
    summed = np.bincount(group, weights=np.where(counted, weights, 0.0), minlength=int(first.sum()))
    key_ids, rows, alias_ids = key_ids[first], rows[first], alias_ids[first]
    best = np.where(strongest[first], priors[first], 0.0)
    is_count = top[key_ids] == 1
    value = np.where(is_count, summed, best)
    totals = np.bincount(key_ids, weights=value, minlength=key_count)
    denominator = np.where(
        is_count, np.where(totals[key_ids] > 0, totals[key_ids], 1.0), np.maximum(totals[key_ids], 1.0)
    )
    key_priors = np.minimum(value / denominator, 1.0)
    order = np.lexsort((rows, -key_priors, key_ids))  # the order `_csr` gives, to carry the alias ids along
    offsets, key_rows, sorted_priors = _csr(key_ids, rows, key_priors, key_count)
    return offsets, key_rows, sorted_priors, alias_ids[order]


def _gram_index(key_trie: marisa_trie.Trie, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunks = []
    for first in range(0, len(key_trie), _GRAM_CHUNK):
        keys = [key_trie.restore_key(key_id) for key_id in range(first, min(first + _GRAM_CHUNK, len(key_trie)))]
        chunks.append(key_gram_buckets(keys, first, bits))
    packed = np.sort(np.concatenate(chunks)) if chunks else np.zeros(0, dtype=np.uint64)
    buckets = (packed >> np.uint64(32)).astype(np.int64)
    gram_keys = (packed & np.uint64(0xFFFFFFFF)).astype(np.int32)
    offsets = np.zeros((1 << bits) + 1, dtype=np.int64)
    np.cumsum(np.bincount(buckets, minlength=1 << bits), out=offsets[1:])
    key_grams = np.minimum(np.bincount(gram_keys, minlength=len(key_trie)), np.iinfo(np.uint16).max)
    return offsets, gram_keys, key_grams
