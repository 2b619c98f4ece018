"""Knowledge bases: entities, aliases with priors, alias normalisation, and the indexes candidates come from.

- `InMemoryKB`: mutable, for small KBs and tests.
- `DiskKB`: a compiled KB folder, memory-mapped and read-only; open with `open_kb`.
- `KBBuilder`: streams entities, alias tables, synonym vocabularies, spaCy KBs and corpus mentions into a KB.
"""

from __future__ import annotations

import os

from elkit.kb.base import KnowledgeBase
from elkit.kb.builder import BuildReport, KBBuilder
from elkit.kb.disk import DiskKB
from elkit.kb.entity import Entity
from elkit.kb.memory import InMemoryKB
from elkit.kb.normalize import AliasNormalizer, normalize_alias

__all__ = [
    "AliasNormalizer",
    "BuildReport",
    "DiskKB",
    "Entity",
    "InMemoryKB",
    "KBBuilder",
    "KnowledgeBase",
    "normalize_alias",
    "open_kb",
]


def open_kb(path: str | os.PathLike[str]) -> DiskKB:
    """Open a KB folder built by `elkit kb build` (or `KBBuilder.build`, `InMemoryKB.to_disk`)."""
    return DiskKB.open(path)
