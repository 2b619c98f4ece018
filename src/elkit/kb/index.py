"""Lookups over a compiled, read-only KB: tries and flat arrays, in memory or memory-mapped.

What the files are and how they are read and written is in `elkit.kb.layout`. Opening maps every file; nothing
is read until a lookup touches it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import marisa_trie
import numpy as np
from rapidfuzz import fuzz

from elkit.doc import Candidate
from elkit.errors import KBError
from elkit.kb.aliashash import EMPTY as _EMPTY_SLOT
from elkit.kb.aliashash import hash_bytes as _alias_hash
from elkit.kb.deletions import variant_hashes
from elkit.kb.entity import Entity
from elkit.kb.grams import query_gram_buckets
from elkit.kb.layout import (
    ARRAYS,
    FORMAT_NAME,
    FORMAT_VERSION,
    array_file,
    check_shapes,
    map_index_files,
    open_dense,
)
from elkit.kb.normalize import AliasNormalizer

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "KBIndex"]

_EXACT: dict[str, float] = {"exact": 1.0}  # shared by exact candidates: Candidate.scores is read-only
_new_tuple = tuple.__new__


class KBIndex:
    """Lookups over a compiled KB. Build one with `elkit.kb.compile.compile_index` or open one with `open`.

    Args:
        tries: The four marisa tries by name (see the module docstring).
        arrays: The flat arrays by name, as numpy arrays.
        blobs: The byte blobs by name: "records" (the entities' JSON records, by row) and "alias_ids" (the
            entity id of each alias row, each followed by the byte 0x1F).
        manifest: The manifest dict (counts, normaliser settings, dense index settings).
        vectors: Entity vectors by row, or None.
        dense: A usearch index over the vectors, or None.
        path: The folder the index was opened from, if any.
    """

    def __init__(
        self,
        tries: dict[str, marisa_trie.Trie],
        arrays: dict[str, np.ndarray],
        blobs: dict[str, bytes | memoryview],
        manifest: dict[str, Any],
        vectors: np.ndarray | None = None,
        dense: Any = None,
        path: Path | None = None,
    ) -> None:
        self.tries = tries
        self.arrays = arrays
        self.blobs = {name: memoryview(blob) for name, blob in blobs.items()}
        self.records = self.blobs["records"]
        self._alias_ids = self.blobs["alias_ids"]
        self._alias_id_offsets = _scalar_view(arrays["alias_id_offsets"])
        self.manifest = manifest
        self.vectors = vectors
        self.dense = dense
        self.path = path
        self.normalizer = AliasNormalizer.from_dict(manifest.get("normalizer", {}))
        self.gram_bits = int(manifest.get("gram_bits", 10))
        # Python-level views make single-element reads cheap (no numpy scalar boxing).
        self._record_offsets = _scalar_view(arrays["record_offsets"])
        self._alias_offsets = _scalar_view(arrays["alias_offsets"])
        self._key_offsets = _scalar_view(arrays["key_offsets"])
        self._alias_entities = _scalar_view(arrays["alias_entities"])
        self._alias_priors = _scalar_view(arrays["alias_priors"])
        self._key_entities = _scalar_view(arrays["key_entities"])
        self._key_priors = _scalar_view(arrays["key_priors"])
        self._key_aliases = _scalar_view(arrays["key_aliases"]) if "key_aliases" in arrays else None
        has_table = "alias_slots" in arrays and "alias_hashes" in arrays
        self._alias_slots = _scalar_view(arrays["alias_slots"]) if has_table else None
        self._alias_hashes = _scalar_view(arrays["alias_hashes"]) if has_table else None
        self._slot_mask = len(arrays["alias_slots"]) - 1 if has_table else 0
        self._entity_ids = tries["entities"]
        self._aliases = tries["aliases"]
        self._keys = tries["keys"]

    # -- sizes -------------------------------------------------------------------------------------------

    @property
    def entity_count(self) -> int:
        """The number of entities."""
        return len(self._entity_ids)

    @property
    def alias_count(self) -> int:
        """The number of distinct exact aliases."""
        return len(self._aliases)

    @property
    def key_count(self) -> int:
        """The number of distinct normalised keys."""
        return len(self._keys)

    @property
    def pair_count(self) -> int:
        """The number of (alias, entity) pairs."""
        return len(self._alias_entities)

    @property
    def vector_dim(self) -> int:
        """The width of the entity vectors, 0 when the KB has none."""
        return 0 if self.vectors is None else int(self.vectors.shape[1])

    # -- entities ----------------------------------------------------------------------------------------

    def entity_row(self, entity_id: str) -> int | None:
        """Return the row of an entity by its primary or other id, or None."""
        row = self._entity_ids.get(entity_id)
        if row is not None:
            return row
        other = self.tries["other_ids"].get(entity_id)
        if other is None:
            return None
        return int(self.arrays["other_id_rows"][other])

    def entity_id_at(self, row: int) -> str:
        """Return the primary id of the entity at `row`."""
        if not 0 <= row < len(self._entity_ids):
            raise KBError(f"entity row {row} is out of range: the KB file is damaged ({self._where()})")
        return self._entity_ids.restore_key(row)

    def entity_at(self, row: int) -> Entity:
        """Return the full entity record at `row`."""
        entity_id = self.entity_id_at(row)
        start, end = self._record_offsets[row], self._record_offsets[row + 1]
        try:
            name, description, types, other_ids, attrs = json.loads(bytes(self.records[start:end]))
        except (ValueError, TypeError) as error:
            raise KBError(f"the record of entity {entity_id!r} cannot be read ({self._where()}): {error}") from None
        popularity = float(self.arrays["popularity"][row])
        return Entity(entity_id, name, description, tuple(types), popularity, tuple(other_ids), attrs)

    def iter_entity_ids(self) -> Iterator[str]:
        """Yield every primary entity id, in row order."""
        for row in range(len(self._entity_ids)):
            yield self._entity_ids.restore_key(row)

    def iter_aliases(self) -> Iterator[str]:
        """Yield every exact alias, in alias-id order."""
        for alias_id in range(len(self._aliases)):
            yield self._aliases.restore_key(alias_id)

    def alias_entries(self, alias_id: int) -> tuple[list[int], list[float]]:
        """Return the entity rows and priors of one exact alias id, best prior first."""
        start, end = self._alias_offsets[alias_id], self._alias_offsets[alias_id + 1]
        return self._alias_entities[start:end].tolist(), self._alias_priors[start:end].tolist()

    # -- candidate lookups -------------------------------------------------------------------------------

    def exact(self, alias: str) -> list[Candidate]:
        """Return the candidates of an alias, case-sensitive and unnormalised, best prior first."""
        slots = self._alias_slots
        if slots is None:  # a KB built before the hash table: walk the trie
            alias_id = self._aliases.get(alias)
            if alias_id is None:
                return []
        else:  # the hash table of elkit.kb.aliashash, inlined
            code = _alias_hash(alias.encode("utf-8", "surrogatepass"))
            mask = self._slot_mask
            slot = code & mask
            hashes = self._alias_hashes
            while True:
                alias_id = slots[slot]
                if alias_id == _EMPTY_SLOT:
                    return []
                if hashes[alias_id] == code:
                    break
                slot = (slot + 1) & mask
        start = self._alias_offsets[alias_id]
        end = self._alias_offsets[alias_id + 1]
        ids, id_offsets = self._alias_ids, self._alias_id_offsets
        if end - start == 1:  # most aliases name one entity
            entity_id = str(ids[id_offsets[start] : id_offsets[end] - 1], "utf-8")
            prior = self._alias_priors[start]
            if not 0.0 <= prior <= 1.0:  # also NaN: a damaged file
                raise KBError(self._bad_prior("alias_priors", alias, prior))
            return [_new_tuple(Candidate, (entity_id, alias, prior, _EXACT, None))]
        entity_ids = str(ids[id_offsets[start] : id_offsets[end] - 1], "utf-8").split("\x1f")
        priors = self._alias_priors[start:end].tolist()
        for prior in priors:
            if not 0.0 <= prior <= 1.0:
                raise KBError(self._bad_prior("alias_priors", alias, prior))
        return [
            _new_tuple(Candidate, (entity_id, alias, prior, _EXACT, None))
            for entity_id, prior in zip(entity_ids, priors, strict=True)
        ]

    def key_candidates(self, key_id: int, source: str, score: float, limit: int | None = None) -> list[Candidate]:
        """Return the candidates of a normalised key id (the `limit` best priors), tagged with `source`."""
        start, end = self._key_offsets[key_id], self._key_offsets[key_id + 1]
        if limit is not None:
            end = min(end, start + max(limit, 0))
        scores = _EXACT if source == "exact" else {source: score}
        if self._key_aliases is None:  # a KB built before key_aliases: the normalised key stands in
            key = self._keys.restore_key(key_id)
            return self._candidates(self._key_entities[start:end], self._key_priors[start:end], key, scores)
        # Each entity under its own alias (its best-prior alias with this key), not under the normalised key.
        restore = self._aliases.restore_key
        aliases = [restore(alias_id) for alias_id in self._key_aliases[start:end].tolist()]
        return self._candidates(self._key_entities[start:end], self._key_priors[start:end], aliases, scores)

    def _candidates(
        self, rows: memoryview, priors: memoryview, alias: str | list[str], scores: dict[str, float]
    ) -> list[Candidate]:
        # The hot path of every lookup: the KB's own data is trusted, and one scores mapping is shared.
        restore = self._entity_ids.restore_key
        values = priors.tolist()
        for prior in values:
            if not 0.0 <= prior <= 1.0:  # also NaN: a damaged file
                raise KBError(self._bad_prior("key_priors", alias if isinstance(alias, str) else alias[0], prior))
        try:
            if not isinstance(alias, str):
                return [
                    _new_tuple(Candidate, (restore(row), own, prior, scores, None))
                    for row, prior, own in zip(rows.tolist(), values, alias, strict=True)
                ]
            return [
                _new_tuple(Candidate, (restore(row), alias, prior, scores, None))
                for row, prior in zip(rows.tolist(), values, strict=True)
            ]
        except (IndexError, KeyError, ValueError) as error:
            raise KBError(f"{alias!r} points outside the KB: the KB file is damaged ({self._where()})") from error

    def _bad_prior(self, name: str, alias: str, prior: float) -> str:
        return (f"{self._where()}/{array_file(name, ARRAYS[name])}: the prior of {alias!r} reads {prior!r}, not a "
                "number in [0, 1]: the file is damaged (rebuild the KB, or run `elkit kb info --verify`)")

    def normalized(self, text: str) -> list[Candidate]:
        """Return the candidates whose normalised alias equals the normalised `text`."""
        key_id = self._keys.get(self.normalizer(text))
        if key_id is None:
            return []
        return self.key_candidates(key_id, "normalized", 1.0)

    def fuzzy_keys(
        self, text: str, limit: int = 10, min_score: float = 0.0, budget: int | None = None, verify: int = 64,
        edits: int = 2,
    ) -> list[tuple[int, float]]:
        """Find the normalised keys most similar to `text`, through indexes (never a scan of the KB).

        First the one-edit index (`elkit.kb.deletions`): every key within one edit of the query (a typo), however
        common its letters. When there is none, the 3-gram index: a key within `edits` edits of the query lacks
        at most ``3 * edits`` of the query's grams, so it holds at least one of the ``3 * edits + 1`` rarest ones:
        the postings of those grams (at most `budget` of them) give the candidate keys. The ``4 * verify``
        candidates found in most of them are then looked up in the postings of the query's other grams (a
        binary search each, never a full read), and the `verify` keys sharing the most grams (Dice over gram
        counts) are scored with a real string similarity.

        Args:
            text: The mention text (normalised here).
            limit: How many keys to return at most.
            min_score: The lowest similarity in [0, 1] to keep.
            budget: The most postings read for the candidates (None: `default_fuzzy_budget`).
            verify: How many keys, best gram overlap first, get the full similarity.
            edits: The edits (typos) a key may be away from the query and still be sure to be a candidate.

        Returns:
            (key id, similarity in [0, 1]) pairs, most similar first.
        """
        query = self.normalizer(text)
        if not query:
            return []
        near = self._one_edit_keys(query, 16 * verify)
        if near.size:
            found = self._most_similar(query, near, limit, min_score)
            if found:
                return found
        buckets = query_gram_buckets(query, self.gram_bits).astype(np.int64)
        offsets = self.arrays["gram_offsets"]
        starts, ends = offsets[buckets], offsets[buckets + 1]
        sizes = ends - starts
        order = np.argsort(sizes, kind="stable").tolist()
        prefix = min(len(order), 3 * edits + 1)
        gram_keys = self.arrays["gram_keys"]
        budget = self.default_fuzzy_budget if budget is None else budget
        pieces: list[np.ndarray] = []
        taken = 0
        read = set()
        for position in order[:prefix]:
            size = int(sizes[position])
            if size == 0:
                read.add(position)
                continue
            if pieces and taken + size > budget:
                break
            start = int(starts[position])
            pieces.append(gram_keys[start: start + min(size, budget)])
            taken += size
            read.add(position)
        if not pieces:
            return []
        key_ids, overlaps = np.unique(np.concatenate(pieces), return_counts=True)
        if key_ids.size > 4 * verify:
            keep = np.sort(np.argpartition(-overlaps, 4 * verify - 1)[: 4 * verify])  # sorted: faster searches
            key_ids, overlaps = key_ids[keep], overlaps[keep]
        for position in order:
            if position in read:
                continue
            start, end = int(starts[position]), int(ends[position])
            block = gram_keys[start:end]
            found = block.searchsorted(key_ids)
            np.minimum(found, end - start - 1, out=found)
            overlaps += block[found] == key_ids
        dice = 2.0 * overlaps / (len(buckets) + self.arrays["key_grams"][key_ids])
        if key_ids.size > verify:
            key_ids = key_ids[np.argpartition(-dice, verify - 1)[:verify]]
        return self._most_similar(query, key_ids, limit, min_score)

    def _one_edit_keys(self, query: str, most: int) -> np.ndarray:
        """Key ids sharing the query or one of its one-character deletions (at most `most`; none without the index)."""
        hashes = self.arrays.get("deletion_hashes")
        variants = variant_hashes(query) if hashes is not None else None
        if variants is None or not variants.size:
            return np.zeros(0, dtype=np.int32)
        lefts = np.searchsorted(hashes, variants, side="left").tolist()
        rights = np.searchsorted(hashes, variants, side="right").tolist()
        keys = self.arrays["deletion_keys"]
        pieces = [keys[left:right] for left, right in zip(lefts, rights, strict=True) if right > left]
        if not pieces:
            return np.zeros(0, dtype=np.int32)
        return np.unique(np.concatenate(pieces))[:most]

    def _most_similar(self, query: str, key_ids: np.ndarray, limit: int, min_score: float) -> list[tuple[int, float]]:
        """The `limit` keys among `key_ids` most similar to `query` (at least `min_score`), best first."""
        restore = self._keys.restore_key
        scored: list[tuple[int, float]] = []
        for key_id in key_ids.tolist():
            key = restore(key_id)
            similarity = max(fuzz.ratio(query, key), fuzz.token_sort_ratio(query, key)) / 100.0
            if similarity >= min_score:
                scored.append((key_id, similarity))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored[:limit]

    @property
    def default_fuzzy_budget(self) -> int:
        """Postings read per fuzzy query by default: 1/64 of all postings, between 16,384 and 262,144."""
        return min(262_144, max(16_384, len(self.arrays["gram_keys"]) // 64))

    # -- vectors -----------------------------------------------------------------------------------------

    def vector_at(self, row: int) -> np.ndarray:
        """Return the vector of the entity at `row` as float32."""
        if self.vectors is None:
            raise KBError("this KB has no entity vectors; run `elkit kb embed` first")
        return np.asarray(self.vectors[row], dtype=np.float32)

    def search_vectors(self, queries: np.ndarray, limit: int) -> list[list[tuple[int, float]]]:
        """Return, for each query vector, the nearest entity rows and their cosine similarity.

        Args:
            queries: [n, dim] query vectors.
            limit: How many distinct entities to return per query.

        Returns:
            One list per query of (row, cosine similarity) pairs, most similar first.
        """
        if self.dense is None:
            raise KBError("this KB has no dense index; run `elkit kb embed` first")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.vector_dim:
            raise KBError(f"query vectors must have shape [n, {self.vector_dim}], got {list(queries.shape)}")
        # With several vectors per entity (alias units), ask for more and keep each entity's best.
        per_entity = int(self.manifest.get("dense", {}).get("vectors_per_entity", 1.0) + 0.999)
        matches = self.dense.search(queries, min(limit * max(per_entity, 1), len(self.dense)))
        keys = np.atleast_2d(matches.keys)
        distances = np.atleast_2d(matches.distances)
        results = []
        for row_keys, row_distances in zip(keys.tolist(), distances.tolist(), strict=True):
            best: dict[int, float] = {}
            for key, distance in zip(row_keys, row_distances, strict=True):
                if key < 0 or not math.isfinite(distance) or key in best:
                    continue
                best[int(key)] = 1.0 - float(distance)
            results.append(sorted(best.items(), key=lambda item: -item[1])[:limit])
        return results

    # -- files -------------------------------------------------------------------------------------------

    def _where(self) -> str:
        return str(self.path) if self.path else "in memory"

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> KBIndex:
        """Open a KB folder, memory-mapping every file.

        Raises:
            KBError: The folder is not a KB, or a file is missing, truncated or damaged.
        """
        folder = Path(path)
        manifest, tries, arrays, blobs = map_index_files(folder)
        index = cls(tries, arrays, blobs, manifest, path=folder)
        check_shapes(index, folder)
        dense_spec = manifest.get("dense")
        if dense_spec:
            index.vectors, index.dense = open_dense(folder, dense_spec, index.entity_count)
        return index


def _scalar_view(array: np.ndarray) -> memoryview:
    """A 1-D memoryview: indexing it gives Python numbers without numpy's scalar boxing."""
    return memoryview(np.ascontiguousarray(array))
