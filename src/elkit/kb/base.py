"""The `KnowledgeBase` interface every store implements (the implementations are in `memory` and `disk`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from elkit.doc import Candidate
from elkit.kb.entity import Entity
from elkit.kb.normalize import AliasNormalizer

__all__ = ["KnowledgeBase"]


@runtime_checkable
class KnowledgeBase(Protocol):
    """What candidate generators and linkers need from a knowledge base."""

    normalizer: AliasNormalizer

    @property
    def entity_count(self) -> int:
        """The number of entities."""
        ...

    @property
    def alias_count(self) -> int:
        """The number of distinct aliases."""
        ...

    @property
    def vector_dim(self) -> int:
        """The entity vector width, 0 without vectors."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, entity_id: object) -> bool: ...

    def get_entity(self, entity_id: str) -> Entity:
        """Return an entity by primary or other id; KBError when unknown."""
        ...

    def resolve(self, entity_id: str) -> str | None:
        """Return the primary id for a primary or other id, or None when unknown."""
        ...

    def entity_ids(self) -> Iterator[str]:
        """Yield every primary entity id."""
        ...

    def aliases(self) -> Iterator[str]:
        """Yield every alias."""
        ...

    def get_alias_candidates(self, alias: str) -> list[Candidate]:
        """Exact, case-sensitive alias lookup, best prior first (source "exact")."""
        ...

    def get_candidates_batch(self, aliases: Sequence[str]) -> list[list[Candidate]]:
        """`get_alias_candidates` for many aliases."""
        ...

    def get_normalized_candidates(self, text: str) -> list[Candidate]:
        """Lookup by normalised key, best prior first (source "normalized")."""
        ...

    def get_fuzzy_candidates(self, text: str, limit: int = 10, min_score: float = 0.0, budget: int | None = None
                             ) -> list[Candidate]:
        """Candidates of the normalised keys most similar to `text` (source "fuzzy", score = similarity).

        `budget` caps the index postings read per query (None: the KB's default, which grows with the KB).
        """
        ...

    def get_vector(self, entity_id: str) -> np.ndarray:
        """Return an entity's vector; KBError without vectors."""
        ...

    def get_dense_candidates(self, vectors: np.ndarray, limit: int = 10) -> list[list[Candidate]]:
        """Nearest entities to each query vector (source "dense", score = cosine similarity)."""
        ...
