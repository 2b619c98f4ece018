"""The disk-backed KB: a compiled KB folder, memory-mapped, read-only."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from elkit.doc import Candidate
from elkit.errors import KBError
from elkit.kb.entity import Entity
from elkit.kb.index import KBIndex
from elkit.kb.indexed import IndexedKB
from elkit.kb.layout import full_digest

__all__ = ["DiskKB"]


class DiskKB(IndexedKB):
    """A KB folder opened for lookups. Opening maps the files; memory grows only with the pages lookups touch.

    Build one with `KBBuilder.build(folder)`, `InMemoryKB.to_disk` or `elkit kb build`.

    Args:
        index: An opened `KBIndex`; use `DiskKB.open(path)` to open a folder.
    """

    def __init__(self, index: KBIndex) -> None:
        self.index = index
        self.normalizer = index.normalizer
        # Bound straight to the index: the exact lookup is the hottest call a linker makes.
        self.get_alias_candidates = index.exact  # type: ignore[method-assign]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> DiskKB:
        """Open a KB folder.

        Raises:
            KBError: The folder is missing, not a KB, or has a missing, truncated or damaged file.
        """
        return cls(KBIndex.open(path))

    def _index(self) -> KBIndex:
        return self.index

    @property
    def path(self) -> Path:
        """The KB folder."""
        assert self.index.path is not None
        return self.index.path

    @property
    def entity_count(self) -> int:
        """The number of entities."""
        return self.index.entity_count

    @property
    def alias_count(self) -> int:
        """The number of distinct aliases."""
        return self.index.alias_count

    def __len__(self) -> int:
        return self.index.entity_count

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and self.index.entity_row(entity_id) is not None

    def __repr__(self) -> str:
        return f"DiskKB({str(self.index.path)!r}, entities={self.entity_count}, aliases={self.alias_count})"

    def resolve(self, entity_id: str) -> str | None:
        """Return the primary id for a primary or other id, or None when unknown."""
        row = self.index.entity_row(entity_id)
        return None if row is None else self.index.entity_id_at(row)

    def get_entity(self, entity_id: str) -> Entity:
        """Return an entity by primary or other id.

        Raises:
            KBError: The id is unknown.
        """
        row = self.index.entity_row(entity_id)
        if row is None:
            raise KBError(f"unknown entity {entity_id!r}")
        return self.index.entity_at(row)

    def entity_ids(self) -> Iterator[str]:
        """Yield every primary entity id."""
        return self.index.iter_entity_ids()

    def aliases(self) -> Iterator[str]:
        """Yield every alias."""
        return self.index.iter_aliases()

    def get_alias_candidates(self, alias: str) -> list[Candidate]:
        """Exact, case-sensitive alias lookup, best prior first (source "exact")."""
        return self.index.exact(alias)

    def get_candidates_batch(self, aliases: Sequence[str]) -> list[list[Candidate]]:
        """`get_alias_candidates` for many aliases."""
        exact = self.index.exact
        return [exact(alias) for alias in aliases]

    def verify(self) -> None:
        """Check every file's full SHA-256 against the digests recorded at build (reads the whole KB).

        Raises:
            KBError: A file differs from what was built.
        """
        for name, spec in self.index.manifest["files"].items():
            expected = spec.get("sha256")
            if expected and full_digest(self.path / name) != expected:
                raise KBError(f"{self.path / name}: contents differ from the build (damaged)")
