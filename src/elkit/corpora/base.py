"""What every corpus reader shares: numbered UTF-8 lines, strict or lenient error handling, a read report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Literal

from elkit.doc import Doc, Span
from elkit.errors import FormatError

__all__ = ["MENTIONS_KEY", "Line", "OnError", "ReadReport", "iter_lines", "mentions"]

OnError = Literal["raise", "skip"]
"""``raise``: the first bad record stops reading with a FormatError. ``skip``: bad records are skipped,
counted and kept in the ``ReadReport``."""

MENTIONS_KEY = "mentions"
"""Span group holding every mention of a document when some of them overlap (``doc.ents`` cannot)."""

Line = tuple[int, str | FormatError]
"""A 1-based line number and the line's text without its line break, or the error that decoding it gave."""


@dataclass
class ReadReport:
    """What a reader met besides good records.

    Attributes:
        skipped: Bad records skipped in lenient mode, as the errors that describe them.
        warnings: Records read, but with something worth knowing (a mention string that differs from the text
            by whitespace only, overlapping mentions moved to a span group).
        max_kept: How many errors and warnings are kept in full; the counts go on past it.
    """

    skipped: list[FormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped_count: int = 0
    warning_count: int = 0
    max_kept: int = 1000

    def skip(self, error: FormatError) -> None:
        """Record a skipped bad record."""
        self.skipped_count += 1
        if len(self.skipped) < self.max_kept:
            self.skipped.append(error)

    def warn(self, message: str) -> None:
        """Record a warning."""
        self.warning_count += 1
        if len(self.warnings) < self.max_kept:
            self.warnings.append(message)


def handle(error: FormatError, on_error: OnError, report: ReadReport | None) -> None:
    """Raise ``error`` in strict mode; record it in lenient mode."""
    if on_error == "raise":
        raise error
    if report is not None:
        report.skip(error)


def iter_lines(path: str | Path) -> Iterator[Line]:
    """Yield numbered lines of a UTF-8 file, streaming, without line breaks.

    A line that is not valid UTF-8 is yielded as a FormatError so the reader can fail or skip its record. A
    byte-order mark at the start is dropped.

    Raises:
        FormatError: When the file cannot be opened.
    """
    try:
        handle_ = open(path, "rb")  # noqa: SIM115 - closed in the finally below, while streaming
    except OSError as error:
        raise FormatError(f"cannot open: {error.strerror}", path=path) from error
    try:
        for number, raw in enumerate(handle_, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, FormatError(
                    f"not valid UTF-8: byte {raw[error.start]:#04x} at column {error.start + 1}", path=path, line=number
                )
                continue
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text.rstrip("\r\n")
    finally:
        handle_.close()


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
