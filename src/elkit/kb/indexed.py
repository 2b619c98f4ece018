"""The lookups shared by the KB stores that have a compiled `KBIndex` (the disk-backed and in-memory ones)."""

from __future__ import annotations

import numpy as np

from elkit.doc import Candidate
from elkit.errors import KBError
from elkit.kb.index import KBIndex
from elkit.kb.normalize import AliasNormalizer

__all__ = ["IndexedKB"]


class IndexedKB:
    """Lookups through a compiled `KBIndex`, shared by the disk-backed and in-memory stores."""

    normalizer: AliasNormalizer

    def _index(self) -> KBIndex:
        raise NotImplementedError

    @property
    def vector_dim(self) -> int:
        """The entity vector width, 0 without vectors."""
        return self._index().vector_dim

    def entity_row(self, entity_id: str) -> int | None:
        """The row of a primary entity id (its position in `entity_ids`), None when unknown."""
        return self._index().entity_row(entity_id)

    def get_normalized_candidates(self, text: str) -> list[Candidate]:
        """Lookup by normalised key, best prior first (source "normalized")."""
        return self._index().normalized(text)

    def get_fuzzy_candidates(self, text: str, limit: int = 10, min_score: float = 0.0, budget: int | None = None
                             ) -> list[Candidate]:
        """Candidates of the normalised keys most similar to `text` through the 3-gram index.

        Each key contributes its entities (best prior first); the source score is the string similarity.
        `budget` caps the postings read per query (None: `KBIndex.default_fuzzy_budget`, which grows with the KB).
        """
        index = self._index()
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for key_id, similarity in index.fuzzy_keys(text, limit=limit, min_score=min_score, budget=budget):
            # A key can name thousands of entities (a common surname): read only as many as still fit.
            for candidate in index.key_candidates(key_id, "fuzzy", similarity, limit=limit):
                if candidate.entity_id not in seen:
                    seen.add(candidate.entity_id)
                    candidates.append(candidate)
            if len(candidates) >= limit:
                break
        return candidates[:limit]

    def get_vector(self, entity_id: str) -> np.ndarray:
        """Return an entity's vector as float32."""
        index = self._index()
        row = index.entity_row(entity_id)
        if row is None:
            raise KBError(f"unknown entity {entity_id!r}")
        return index.vector_at(row)

    def get_dense_candidates(self, vectors: np.ndarray, limit: int = 10) -> list[list[Candidate]]:
        """Nearest entities to each query vector: [n, dim] → n lists (source "dense", score = cosine)."""
        index = self._index()
        results = []
        for matches in index.search_vectors(np.atleast_2d(vectors), limit):
            results.append(
                [
                    Candidate(index.entity_id_at(row), "", 0.0, {"dense": max(-1.0, min(1.0, similarity))})
                    for row, similarity in matches
                ]
            )
        return results
