"""Span and Candidate: immutable records over a document's tokens.

A ``Span`` points into a ``Doc`` by token indices; its character offsets are read from the document's tokens,
so the two can never disagree. Changing a span (say, writing its ``kb_id``) makes a new span with
:meth:`Span.replace` that the caller puts back into ``doc.ents`` or a span group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from elkit.errors import DataError

if TYPE_CHECKING:
    from elkit.doc.doc import Doc
    from elkit.doc.token import Token

__all__ = ["NIL", "Candidate", "Span"]

NIL = "NIL"
"""The ``kb_id`` of a mention that refers to an entity outside the knowledge base."""


class _CandidateFields(NamedTuple):
    entity_id: str
    alias: str = ""
    prior: float = 0.0
    scores: Mapping[str, float] = MappingProxyType({})
    score: float | None = None


class Candidate(_CandidateFields):
    """One knowledge-base entity proposed for a mention.

    Immutable. A tuple underneath, so that a KB can make millions of them quickly: lookups build them with
    `Candidate.trusted`, which skips the checks the public constructor makes on values from outside.

    Attributes:
        entity_id: The entity's id in the knowledge base.
        alias: The alias (surface form) through which the entity was found.
        prior: P(entity | alias) from the knowledge base, in [0, 1].
        scores: The score each candidate source gave, by source name ("exact", "fuzzy", "dense", ...).
            Treat it as read-only: lookups may share one mapping between candidates.
        score: The final score the linker gave, or None before linking.
    """

    __slots__ = ()

    def __new__(
        cls,
        entity_id: str,
        alias: str = "",
        prior: float = 0.0,
        scores: Mapping[str, float] | None = None,
        score: float | None = None,
    ) -> Candidate:
        """Check and build a candidate (DataError for an empty id or a prior outside [0, 1])."""
        if not isinstance(entity_id, str) or not entity_id:
            raise DataError(f"Candidate.entity_id must be a non-empty string, got {entity_id!r}")
        if not 0.0 <= prior <= 1.0:
            raise DataError(f"Candidate.prior must be in [0, 1], got {prior!r} for {entity_id!r}")
        return tuple.__new__(cls, (entity_id, alias, prior, {} if scores is None else scores, score))

    @classmethod
    def trusted(cls, entity_id: str, alias: str, prior: float, scores: Mapping[str, float]) -> Candidate:
        """Build a candidate from values already checked (a KB's own data), without checking them again."""
        return tuple.__new__(cls, (entity_id, alias, prior, scores, None))

    def _key(self) -> tuple[Any, ...]:
        return (self.entity_id, self.alias, self.prior, tuple(sorted(self.scores.items())), self.score)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._key())

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def replace(self, **changes: Any) -> Candidate:
        """Return a copy with the given fields changed (checked like the constructor)."""
        return Candidate(**{**self._asdict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Return the candidate as a JSON-ready dict."""
        result: dict[str, Any] = {"entity_id": self.entity_id, "alias": self.alias, "prior": self.prior}
        if self.scores:
            result["scores"] = dict(self.scores)
        if self.score is not None:
            result["score"] = self.score
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        """Build a candidate from :meth:`to_dict` output."""
        return cls(
            entity_id=data["entity_id"],
            alias=data.get("alias", ""),
            prior=float(data.get("prior", 0.0)),
            scores={str(key): float(value) for key, value in data.get("scores", {}).items()},
            score=None if data.get("score") is None else float(data["score"]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Span:
    """A slice of a document's tokens with an optional label and knowledge-base link.

    Attributes:
        doc: The document the span belongs to.
        start: Index of the first token.
        end: Index one past the last token.
        label: The entity type ("" for none).
        kb_id: The linked entity id, ``NIL`` for a mention outside the knowledge base, "" when not linked.
        score: The recognizer's probability for (span, label), or None.
        link_score: The linker's confidence in ``kb_id``, or None.
        candidates: Candidate entities, best first.
        attrs: Extra fields carried through from the source format (read-only by convention).
    """

    doc: Doc = field(repr=False)
    start: int
    end: int
    label: str = ""
    kb_id: str = ""
    score: float | None = None
    link_score: float | None = None
    candidates: tuple[Candidate, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= len(self.doc):
            raise DataError(
                f"Span token range [{self.start}, {self.end}) is empty or outside the document "
                f"({len(self.doc)} tokens)"
            )
        if not isinstance(self.label, str) or not isinstance(self.kb_id, str):
            raise DataError(f"Span label and kb_id must be strings, got {self.label!r} and {self.kb_id!r}")
        if not isinstance(self.candidates, tuple):
            object.__setattr__(self, "candidates", tuple(self.candidates))

    @property
    def start_char(self) -> int:
        """Character offset of the span's start in the document text."""
        return self.doc.token_starts[self.start]

    @property
    def end_char(self) -> int:
        """Character offset one past the span's end in the document text."""
        return self.doc.token_ends[self.end - 1]

    @property
    def text(self) -> str:
        """The covered document text, inner whitespace included."""
        return self.doc.text[self.start_char : self.end_char]

    @property
    def is_linked(self) -> bool:
        """True when the span has a kb_id that is not NIL."""
        return bool(self.kb_id) and self.kb_id != NIL

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[Token]:
        for index in range(self.start, self.end):
            yield self.doc[index]

    def _key(self) -> tuple[Any, ...]:
        return (id(self.doc), self.start, self.end, self.label, self.kb_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return (
            self.doc is other.doc
            and self._key() == other._key()
            and self.score == other.score
            and self.link_score == other.link_score
            and self.candidates == other.candidates
            and dict(self.attrs) == dict(other.attrs)
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def replace(self, **changes: Any) -> Span:
        """Return a copy with the given fields changed (``span.replace(kb_id="Q42")``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the span in the Prodigy task format (``token_end`` is inclusive there)."""
        result: dict[str, Any] = {
            "start": self.start_char,
            "end": self.end_char,
            "token_start": self.start,
            "token_end": self.end - 1,
            "label": self.label,
        }
        if self.kb_id:
            result["kb_id"] = self.kb_id
        if self.score is not None:
            result["score"] = self.score
        if self.link_score is not None:
            result["link_score"] = self.link_score
        if self.candidates:
            result["candidates"] = [candidate.to_dict() for candidate in self.candidates]
        for key, value in self.attrs.items():
            result.setdefault(key, value)
        return result

    def __repr__(self) -> str:
        parts = [f"{self.text!r}", f"tokens={self.start}:{self.end}"]
        if self.label:
            parts.append(f"label={self.label!r}")
        if self.kb_id:
            parts.append(f"kb_id={self.kb_id!r}")
        return f"Span({', '.join(parts)})"
