"""BILUO and IOB tag helpers: tags from spans and offsets, spans from tags, and conversions between schemes.

Schemes:
    iob1: ``I-X`` inside an entity and at its start; ``B-X`` only starts an entity that directly follows another
        entity of the same type (the original CoNLL-2003 tags).
    iob2: ``B-X`` starts every entity, ``I-X`` continues it.
    biluo: ``B-X`` begin, ``I-X`` inside, ``L-X`` last, ``U-X`` a one-token entity (``S-``/``E-`` of BIOES are
        read as ``U-``/``L-``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from elkit.errors import DataError

if TYPE_CHECKING:
    from elkit.doc.doc import Doc
    from elkit.doc.span import Span

__all__ = [
    "Scheme",
    "TagError",
    "biluo_to_iob",
    "biluo_to_spans",
    "entities_to_tags",
    "iob1_to_iob2",
    "iob2_to_iob1",
    "iob_to_biluo",
    "offsets_to_biluo",
    "spans_to_biluo",
    "tags_to_entities",
]

Scheme = Literal["iob1", "iob2", "biluo"]
Entity = tuple[int, int, str]
"""(first token, one past the last token, label)."""

_PREFIXES = {"iob1": "BIO", "iob2": "BIO", "biluo": "BILUOSE"}


class TagError(DataError):
    """A tag sequence breaks its scheme.

    Attributes:
        position: Index of the offending tag.
    """

    def __init__(self, message: str, position: int) -> None:
        self.position = position
        super().__init__(message)


def _split(tag: str, position: int, scheme: Scheme) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in _PREFIXES[scheme]:
        raise TagError(f"tag {tag!r} is not valid in the {scheme} scheme", position)
    prefix = tag[0]
    if prefix == "S":
        prefix = "U"
    elif prefix == "E":
        prefix = "L"
    return prefix, tag[2:]


def tags_to_entities(tags: Sequence[str], scheme: Scheme) -> list[Entity]:
    """Read entities from a tag sequence, checking the scheme's rules.

    Args:
        tags: One tag per token.
        scheme: "iob1", "iob2" or "biluo".

    Returns:
        The entities as (start, end, label) token ranges, in order.

    Raises:
        TagError: When a tag is malformed or does not continue an entity as the scheme requires; ``position``
            names the tag.
    """
    if scheme not in _PREFIXES:
        raise DataError(f"unknown tag scheme {scheme!r}: use iob1, iob2 or biluo")
    entities: list[Entity] = []
    open_start = -1
    open_label = ""
    for position, tag in enumerate(tags):
        prefix, label = _split(tag, position, scheme)
        if scheme == "biluo":
            if prefix in "BU" or prefix == "O":
                if open_start >= 0:
                    raise TagError(f"tag {tag!r} after an entity that was not closed with L-{open_label}", position)
                if prefix == "B":
                    open_start, open_label = position, label
                elif prefix == "U":
                    entities.append((position, position + 1, label))
            else:  # I or L
                if open_start < 0 or label != open_label:
                    raise TagError(f"tag {tag!r} does not continue an open entity", position)
                if prefix == "L":
                    entities.append((open_start, position + 1, label))
                    open_start = -1
            continue
        continues = open_start >= 0 and label == open_label
        if prefix == "I" and continues:
            continue
        if open_start >= 0:
            entities.append((open_start, position, open_label))
            open_start = -1
        if prefix == "O":
            continue
        if prefix == "I" and scheme == "iob2":
            raise TagError(
                f"tag {tag!r} does not continue an entity (IOB2 starts every entity with B-)", position
            )
        open_start, open_label = position, label
    if open_start >= 0:
        if scheme == "biluo":
            raise TagError(f"entity {open_label!r} is not closed with L- at the end", len(tags) - 1)
        entities.append((open_start, len(tags), open_label))
    return entities


def entities_to_tags(length: int, entities: Iterable[Entity], scheme: Scheme) -> list[str]:
    """Write tags for non-overlapping entities.

    Args:
        length: Number of tokens.
        entities: (start, end, label) token ranges.
        scheme: "iob1", "iob2" or "biluo".

    Raises:
        DataError: When entities overlap or fall outside ``length``.
    """
    tags = ["O"] * length
    previous_end = -1
    previous_label = ""
    for start, end, label in sorted(entities):
        if not 0 <= start < end <= length:
            raise DataError(f"entity [{start}, {end}) {label!r} is outside the {length} tokens")
        if start < previous_end:
            raise DataError(f"entity [{start}, {end}) {label!r} overlaps the entity before it")
        if scheme == "biluo":
            if end - start == 1:
                tags[start] = f"U-{label}"
            else:
                tags[start] = f"B-{label}"
                for index in range(start + 1, end - 1):
                    tags[index] = f"I-{label}"
                tags[end - 1] = f"L-{label}"
        else:
            begins = scheme == "iob2" or (start == previous_end and label == previous_label)
            tags[start] = f"B-{label}" if begins else f"I-{label}"
            for index in range(start + 1, end):
                tags[index] = f"I-{label}"
        previous_end, previous_label = end, label
    return tags


def iob_to_biluo(tags: Sequence[str], scheme: Literal["iob1", "iob2"] = "iob2") -> list[str]:
    """Convert IOB1 or IOB2 tags to BILUO."""
    return entities_to_tags(len(tags), tags_to_entities(tags, scheme), "biluo")


def biluo_to_iob(tags: Sequence[str], scheme: Literal["iob1", "iob2"] = "iob2") -> list[str]:
    """Convert BILUO tags to IOB2 (or IOB1)."""
    return entities_to_tags(len(tags), tags_to_entities(tags, "biluo"), scheme)


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 tags to IOB2."""
    return entities_to_tags(len(tags), tags_to_entities(tags, "iob1"), "iob2")


def iob2_to_iob1(tags: Sequence[str]) -> list[str]:
    """Convert IOB2 tags to IOB1."""
    return entities_to_tags(len(tags), tags_to_entities(tags, "iob2"), "iob1")


def spans_to_biluo(doc: Doc, spans: Iterable[Span] | None = None) -> list[str]:
    """BILUO tags for ``spans`` (default: ``doc.ents``)."""
    chosen = doc.ents if spans is None else spans
    return entities_to_tags(len(doc), ((span.start, span.end, span.label) for span in chosen), "biluo")


def offsets_to_biluo(doc: Doc, entities: Iterable[tuple[int, int, str]]) -> list[str]:
    """BILUO tags for (start_char, end_char, label) triples.

    Raises:
        AlignmentError: When an entity's offsets do not fall on token boundaries.
    """
    return spans_to_biluo(doc, [doc.char_span(start, end, label) for start, end, label in entities])


def biluo_to_spans(doc: Doc, tags: Sequence[str]) -> list[Span]:
    """Spans of ``doc`` from one BILUO tag per token.

    Raises:
        TagError: When the tags break the scheme.
        DataError: When the number of tags differs from the number of tokens.
    """
    if len(tags) != len(doc):
        raise DataError(f"{len(tags)} tags for a document of {len(doc)} tokens")
    return [doc.span(start, end, label) for start, end, label in tags_to_entities(tags, "biluo")]
