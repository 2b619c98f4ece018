"""The entity record a knowledge base stores and returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elkit.errors import KBError

__all__ = ["Entity"]


@dataclass(frozen=True, slots=True)
class Entity:
    """One knowledge-base entity.

    Attributes:
        entity_id: The entity's primary id (a Wikidata QID, a MeSH id, a Wikipedia title, ...).
        name: Its canonical name.
        description: A short description, "" when the KB has none.
        types: Its types (e.g. "PER", "Disease"), possibly empty.
        popularity: A non-negative popularity (link count, page views, ...), 0 when unknown.
        other_ids: Further ids that denote the same entity (a MEDIC concept's OMIM id, a redirect, ...).
        attrs: Any other JSON-ready fields from the source (URLs, source ids). Treat it as read-only.
    """

    entity_id: str
    name: str = ""
    description: str = ""
    types: tuple[str, ...] = ()
    popularity: float = 0.0
    other_ids: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.entity_id, str) or not self.entity_id.strip():
            raise KBError(f"entity_id must be a non-empty string, got {self.entity_id!r}")
        if any(ord(char) < 32 for char in self.entity_id):
            raise KBError(f"entity_id must not contain control characters, got {self.entity_id!r}")
        if not isinstance(self.popularity, int | float) or not math.isfinite(self.popularity) or self.popularity < 0:
            raise KBError(f"popularity of {self.entity_id!r} must be a finite number >= 0, got {self.popularity!r}")
        for name in ("types", "other_ids"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(item, str) and item for item in value):
                raise KBError(f"{name} of {self.entity_id!r} must be a sequence of non-empty strings, got {value!r}")
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict[str, Any]:
        """Return the entity as a JSON-ready dict (GLiNKER-style keys)."""
        record: dict[str, Any] = {"entity_id": self.entity_id, "name": self.name}
        if self.description:
            record["description"] = self.description
        if self.types:
            record["types"] = list(self.types)
        if self.popularity:
            record["popularity"] = self.popularity
        if self.other_ids:
            record["other_ids"] = list(self.other_ids)
        if self.attrs:
            record["attrs"] = dict(self.attrs)
        return record

    def text(self) -> str:
        """Return the text a dense encoder embeds for this entity: name, then description."""
        if self.description:
            return f"{self.name or self.entity_id}: {self.description}"
        return self.name or self.entity_id
