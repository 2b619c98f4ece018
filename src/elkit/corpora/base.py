"""What corpus readers share: a document's mentions (overlapping ones in a span group).

Numbered UTF-8 lines, strict or lenient error handling and the read report live in `elkit.io.lines`; they are
re-exported here for older imports.
"""

from __future__ import annotations

from itertools import pairwise

from elkit.doc import Doc, Span
from elkit.io.lines import Line, OnError, ReadReport, handle, iter_lines

__all__ = ["MENTIONS_KEY", "Line", "OnError", "ReadReport", "handle", "iter_lines", "mentions", "set_mentions"]

MENTIONS_KEY = "mentions"
"""Span group holding every mention of a document when some of them overlap (``doc.ents`` cannot)."""


def mentions(doc: Doc) -> list[Span]:
    """Every mention of a document: the ``mentions`` span group when a reader made one, else ``doc.ents``."""
    if MENTIONS_KEY in doc.spans:
        return list(doc.spans[MENTIONS_KEY])
    return list(doc.ents)


def set_mentions(doc: Doc, spans: list[Span], report: ReadReport | None, where: str) -> None:
    """Put spans in ``doc.ents``, or, when they overlap, all in the ``mentions`` group.

    With overlaps, ``doc.ents`` gets the longest non-overlapping spans and the report gets a warning.
    """
    ordered = sorted(spans, key=lambda span: (span.start, span.end))
    if all(first.end <= second.start for first, second in pairwise(ordered)):
        doc.ents = ordered
        return
    doc.spans[MENTIONS_KEY] = spans
    chosen: list[Span] = []
    taken: set[int] = set()
    for span in sorted(spans, key=lambda span: (-(span.end - span.start), span.start)):
        if not taken.intersection(range(span.start, span.end)):
            chosen.append(span)
            taken.update(range(span.start, span.end))
    doc.ents = chosen
    if report is not None:
        report.warn(f"{where}: overlapping mentions; all {len(spans)} kept in doc.spans[{MENTIONS_KEY!r}], "
                    f"{len(chosen)} in doc.ents")
