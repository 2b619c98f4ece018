"""The in-memory KB: mutable, for small KBs and tests, with spaCy's strict write checks."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from elkit.doc import Candidate
from elkit.errors import KBError
from elkit.kb.builder import KBBuilder
from elkit.kb.disk import DiskKB
from elkit.kb.entity import Entity
from elkit.kb.index import KBIndex
from elkit.kb.indexed import IndexedKB
from elkit.kb.normalize import AliasNormalizer

__all__ = ["InMemoryKB"]

_TOLERANCE = 1e-6


class InMemoryKB(IndexedKB):
    """A KB held in Python dicts.

    Exact lookups read the dicts; normalised, fuzzy and dense lookups use an index compiled on first use and
    again after each change.

    Args:
        normalizer: The alias normaliser (default settings when None).
    """

    def __init__(self, normalizer: AliasNormalizer | None = None) -> None:
        self.normalizer = normalizer or AliasNormalizer()
        self._entities: dict[str, Entity] = {}
        self._other_ids: dict[str, str] = {}
        self._aliases: dict[str, list[tuple[str, float]]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._compiled: KBIndex | None = None

    # -- writes ------------------------------------------------------------------------------------------

    def add_entity(
        self,
        entity_id: str,
        name: str = "",
        description: str = "",
        types: Sequence[str] = (),
        popularity: float = 0.0,
        vector: Sequence[float] | np.ndarray | None = None,
        other_ids: Sequence[str] = (),
        attrs: dict[str, Any] | None = None,
    ) -> Entity:
        """Add an entity.

        Raises:
            KBError: The id (or one of its other ids) is taken, a field is invalid, or the vector's width
                differs from the other vectors'.
        """
        entity = Entity(entity_id, name, description, types, popularity, other_ids, attrs or {})  # type: ignore[arg-type]
        if self.resolve(entity_id) is not None:
            raise KBError(f"entity {entity_id!r} already exists")
        for other in entity.other_ids:
            if self.resolve(other) is not None:
                raise KBError(f"other id {other!r} of {entity_id!r} already names {self.resolve(other)!r}")
        values = None
        if vector is not None:
            values = np.asarray(vector, dtype=np.float32).reshape(-1)
            width = self.vector_dim_stored
            if width and len(values) != width:
                raise KBError(f"vector of {entity_id!r} has {len(values)} values; the others have {width}")
        self._entities[entity_id] = entity
        for other in entity.other_ids:
            self._other_ids[other] = entity_id
        if values is not None:
            self._vectors[entity_id] = values
        self._compiled = None
        return entity

    @property
    def vector_dim_stored(self) -> int:
        """The width of the vectors added so far (0 when none)."""
        return len(next(iter(self._vectors.values()))) if self._vectors else 0

    def add_alias(self, alias: str, entity_ids: Sequence[str], priors: Sequence[float]) -> None:
        """Add an alias with its entities and their priors.

        The checks are spaCy's: equal lengths, priors in [0, 1] summing to at most 1, known entities, a
        non-empty alias that is not there yet.

        Raises:
            KBError: A check fails.
        """
        if not isinstance(alias, str) or not alias.strip():
            raise KBError(f"an alias must be a non-empty string, got {alias!r}")
        if alias in self._aliases:
            raise KBError(f"alias {alias!r} already exists; use append_alias to add an entity to it")
        if len(entity_ids) != len(priors):
            raise KBError(f"alias {alias!r}: {len(entity_ids)} entities but {len(priors)} priors")
        entries = [
            (self._known(alias, entity_id), float(prior)) for entity_id, prior in zip(entity_ids, priors, strict=True)
        ]
        self._check_priors(alias, entries)
        if len({entity_id for entity_id, _ in entries}) != len(entries):
            raise KBError(f"alias {alias!r}: an entity is listed twice")
        self._aliases[alias] = sorted(entries, key=lambda entry: -entry[1])
        self._compiled = None

    def append_alias(self, alias: str, entity_id: str, prior: float) -> None:
        """Add one entity to an alias (creating the alias if needed), keeping the priors' sum at most 1.

        Raises:
            KBError: The entity is unknown or already under this alias, or the priors would sum above 1.
        """
        if alias not in self._aliases:
            self.add_alias(alias, [entity_id], [prior])
            return
        primary = self._known(alias, entity_id)
        entries = self._aliases[alias]
        if any(existing == primary for existing, _ in entries):
            raise KBError(f"alias {alias!r} already has entity {primary!r}")
        updated = [*entries, (primary, float(prior))]
        self._check_priors(alias, updated)
        self._aliases[alias] = sorted(updated, key=lambda entry: -entry[1])
        self._compiled = None

    def _known(self, alias: str, entity_id: str) -> str:
        primary = self.resolve(entity_id)
        if primary is None:
            raise KBError(f"alias {alias!r}: unknown entity {entity_id!r} (add the entity first)")
        return primary

    @staticmethod
    def _check_priors(alias: str, entries: list[tuple[str, float]]) -> None:
        priors = [prior for _, prior in entries]
        if any(not 0.0 <= prior <= 1.0 for prior in priors):
            raise KBError(f"alias {alias!r}: priors must be in [0, 1], got {priors}")
        if sum(priors) > 1.0 + _TOLERANCE:
            raise KBError(f"alias {alias!r}: priors sum to {sum(priors):.6g}, more than 1")

    # -- reads -------------------------------------------------------------------------------------------

    @property
    def entity_count(self) -> int:
        """The number of entities."""
        return len(self._entities)

    @property
    def alias_count(self) -> int:
        """The number of distinct aliases."""
        return len(self._aliases)

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and self.resolve(entity_id) is not None

    def __repr__(self) -> str:
        return f"InMemoryKB(entities={self.entity_count}, aliases={self.alias_count})"

    def resolve(self, entity_id: str) -> str | None:
        """Return the primary id for a primary or other id, or None when unknown."""
        if entity_id in self._entities:
            return entity_id
        return self._other_ids.get(entity_id)

    def get_entity(self, entity_id: str) -> Entity:
        """Return an entity by primary or other id (KBError when unknown)."""
        primary = self.resolve(entity_id)
        if primary is None:
            raise KBError(f"unknown entity {entity_id!r}")
        return self._entities[primary]

    def entity_ids(self) -> Iterator[str]:
        """Yield every primary entity id, in insertion order."""
        return iter(list(self._entities))

    def aliases(self) -> Iterator[str]:
        """Yield every alias, in insertion order."""
        return iter(list(self._aliases))

    def get_alias_candidates(self, alias: str) -> list[Candidate]:
        """Exact, case-sensitive alias lookup, best prior first (source "exact")."""
        return [Candidate(entity_id, alias, prior, {"exact": 1.0}) for entity_id, prior in self._aliases.get(alias, ())]

    def get_candidates_batch(self, aliases: Sequence[str]) -> list[list[Candidate]]:
        """`get_alias_candidates` for many aliases."""
        return [self.get_alias_candidates(alias) for alias in aliases]

    def get_vector(self, entity_id: str) -> np.ndarray:
        """Return an entity's vector (KBError when it has none)."""
        primary = self.resolve(entity_id)
        if primary is None or primary not in self._vectors:
            raise KBError(f"entity {entity_id!r} has no vector")
        return self._vectors[primary]

    # -- compiled index, disk ----------------------------------------------------------------------------

    def builder(self) -> KBBuilder:
        """Return a `KBBuilder` holding this KB's contents."""
        builder = KBBuilder(self.normalizer)
        for entity in self._entities.values():
            builder.add_entity(entity)
        for alias, entries in self._aliases.items():
            builder.add_alias(alias, [entity_id for entity_id, _ in entries], [prior for _, prior in entries])
        if self._vectors:
            if len(self._vectors) != len(self._entities):
                raise KBError(f"{len(self._vectors)} of {len(self._entities)} entities have vectors; give all or none")
            for entity_id, vector in self._vectors.items():
                builder.set_vector(entity_id, vector)
        return builder

    def _index(self) -> KBIndex:
        if self._compiled is None:
            if not self._entities:
                raise KBError("the KB has no entities")
            self._compiled = self.builder().build()
        return self._compiled

    def to_disk(self, path: str | os.PathLike[str], overwrite: bool = False) -> DiskKB:
        """Write the KB as a KB folder and return it opened as a `DiskKB`."""
        self.builder().build(path, overwrite=overwrite)
        return DiskKB.open(path)

    @classmethod
    def from_kb(cls, kb: DiskKB) -> InMemoryKB:
        """Load every entity, alias and vector of a disk KB into memory."""
        memory = cls(kb.normalizer)
        index = kb.index
        for row in range(index.entity_count):
            entity = index.entity_at(row)
            vector = index.vector_at(row) if index.vectors is not None else None
            memory.add_entity(
                entity.entity_id,
                entity.name,
                entity.description,
                entity.types,
                entity.popularity,
                vector,
                entity.other_ids,
                dict(entity.attrs),
            )
        for alias_id, alias in enumerate(index.iter_aliases()):
            rows, priors = index.alias_entries(alias_id)
            memory.add_alias(alias, [index.entity_id_at(row) for row in rows], [min(prior, 1.0) for prior in priors])
        return memory

    @classmethod
    def from_disk(cls, path: str | os.PathLike[str]) -> InMemoryKB:
        """Read a KB folder into memory."""
        return cls.from_kb(DiskKB.open(path))
