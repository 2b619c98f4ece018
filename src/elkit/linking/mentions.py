"""The linker's first stage: which spans of a batch of documents are linked, and by which text they are looked up.

A span is linked unless its label is in ``labels_discard``, or (without ``overwrite``) it has a ``kb_id``
already. While training, every gold span (one with a ``kb_id``, NIL included) is a mention instead. With
``abbreviations``, a mention that is an abbreviation its document defines ("coronary heart disease (CHD)") is
looked up by its long form.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from elkit.doc import Doc, Span
from elkit.linking.abbreviations import expand, find_abbreviations

__all__ = ["Mention", "find_mentions", "linkable_spans"]


@dataclass(frozen=True)
class Mention:
    """A span on its way through the linker.

    Attributes:
        doc: Index of its document in the batch.
        position: Index of the span in ``doc.ents``.
        span: The span.
        text: The text its candidates and string features come from: the span's text, or the long form of the
            abbreviation it is.
        block_key: While training, the block of training documents it belongs to, whose share of the learned
            tables its features leave out ("" when nothing is left out).
    """

    doc: int
    position: int
    span: Span
    text: str
    block_key: str = ""


def linkable_spans(doc: Doc, labels_discard: Collection[str], overwrite: bool, training: bool = False
                   ) -> list[tuple[int, Span]]:
    """The spans of ``doc.ents`` to link, with their positions (while training, ``overwrite`` is ignored)."""
    return [
        (position, span) for position, span in enumerate(doc.ents)
        if span.label not in labels_discard and (overwrite or not span.kb_id or training)
    ]


def find_mentions(
    docs: Sequence[Doc],
    *,
    labels_discard: Collection[str],
    overwrite: bool,
    abbreviations: bool,
    block_key: Callable[[Doc], str] | None = None,
) -> list[Mention]:
    """The mentions of a batch of documents, in document and span order.

    Args:
        docs: The documents.
        labels_discard: Labels never linked.
        overwrite: Link spans that have a ``kb_id`` already.
        abbreviations: Look up abbreviations their document defines by their long form.
        block_key: While training: gives each document's block of training documents; only gold spans (those
            with a ``kb_id``) are mentions then. None when predicting.
    """
    training = block_key is not None
    mentions = []
    for number, doc in enumerate(docs):
        spans = linkable_spans(doc, labels_discard, overwrite, training)
        if training:
            spans = [(position, span) for position, span in spans if span.kb_id]
        if not spans:
            continue
        block = block_key(doc) if block_key is not None else ""
        defined = find_abbreviations(doc.text) if abbreviations else {}
        for position, span in spans:
            text = (expand(span.text, defined) if abbreviations else None) or span.text
            mentions.append(Mention(number, position, span, text, block))
    return mentions
