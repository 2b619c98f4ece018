"""The one reader of line-based files: numbered UTF-8 lines, errors that name the file and line, strict or lenient.

Every line-based reader (corpora, KB sources, patterns, answer files) reads through this module:

- `iter_lines`: every line with its 1-based number; a line that is not UTF-8 comes as a `FormatError` value, so a
  reader of multi-line records can mark the whole record bad.
- `read_lines`: the decodable lines; an undecodable one stops reading (strict) or is counted and skipped (lenient).
- `parse_lines`: each non-blank line through a parser; a `FormatError` it raises is located at the file and line,
  then raised (strict) or counted and skipped (lenient).
- `looks_like_jsonl` / `sniff_jsonl`: the one "is this JSONL?" rule (the first non-blank line opens an object).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, TypeVar

from elkit.errors import FormatError

__all__ = [
    "Line",
    "OnError",
    "ReadReport",
    "handle",
    "iter_lines",
    "looks_like_jsonl",
    "parse_lines",
    "read_lines",
    "sniff_jsonl",
]

Parsed = TypeVar("Parsed")

OnError = Literal["raise", "skip"]
"""``raise``: the first bad record stops reading with a FormatError. ``skip``: bad records are skipped,
counted and kept in the ``ReadReport``."""

Line = tuple[int, str | FormatError]
"""A 1-based line number and the line's text without its line break, or the error that decoding it gave."""

_BYTE_ORDER_MARK = "\ufeff"


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
    """Yield numbered lines of a UTF-8 file (gzip-compressed when its name ends in ".gz"), streaming.

    Lines come without their line breaks. A line that is not valid UTF-8 is yielded as a FormatError so the reader
    can fail or skip its record. A byte-order mark at the start is dropped.

    Raises:
        FormatError: When the file cannot be opened, or a compressed file is damaged.
    """
    try:
        stream = gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise FormatError(f"cannot open: {error.strerror}", path=path) from error
    try:
        for number, raw in _numbered(stream, path):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, FormatError(
                    f"not valid UTF-8: byte {raw[error.start]:#04x} at column {error.start + 1}", path=path, line=number
                )
                continue
            if number == 1 and text.startswith(_BYTE_ORDER_MARK):
                text = text[1:]
            yield number, text.rstrip("\r\n")
    finally:
        stream.close()


def _numbered(stream: IO[bytes], path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(1-based number, raw line) pairs; a damaged gzip stream becomes a FormatError naming the line."""
    number = 0
    try:
        for number, raw in enumerate(stream, 1):
            yield number, raw
    except (OSError, EOFError, zlib.error) as error:
        raise FormatError(f"the compressed file is damaged after line {number}: {error}", path=path) from error


def read_lines(
    path: str | Path, *, on_error: OnError = "raise", report: ReadReport | None = None
) -> Iterator[tuple[int, str]]:
    """Yield (1-based number, text) for every line of a UTF-8 file, blank ones included.

    Args:
        path: The file.
        on_error: "raise" stops at a line that is not UTF-8; "skip" skips it and counts it in ``report``.
        report: Collects skipped lines.

    Raises:
        FormatError: The file cannot be opened, or (strict) a line is not UTF-8, naming the file and line.
    """
    for number, text in iter_lines(path):
        if isinstance(text, FormatError):
            handle(text, on_error, report)
            continue
        yield number, text


def parse_lines(
    path: str | Path,
    parse: Callable[[str, int], Parsed],
    *,
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[Parsed]:
    """Parse each non-blank line of a UTF-8 file; a bad line fails or is skipped, located at its file and line.

    Args:
        path: The file.
        parse: Turns a line's text and number into a record; raises FormatError for a bad line (the file and
            line are added to the error when it has none).
        on_error: "raise" at the first bad line, or "skip" it and count it in ``report``.
        report: Collects skipped lines.

    Raises:
        FormatError: The file cannot be opened, or (strict) a line is not UTF-8 or does not parse.
    """
    for number, text in read_lines(path, on_error=on_error, report=report):
        if not text.strip():
            continue
        try:
            record = parse(text, number)
        except FormatError as error:
            handle(error.at(path, number), on_error, report)
            continue
        yield record


def looks_like_jsonl(first_line: str) -> bool:
    """Tell JSON Lines from other text by a file's first non-blank line: it opens a JSON object."""
    return first_line.lstrip(_BYTE_ORDER_MARK).lstrip().startswith("{")


def sniff_jsonl(path: str | Path) -> bool:
    """Whether a file's first non-blank line opens a JSON object (`looks_like_jsonl`); False for an empty file.

    Raises:
        FormatError: When the file cannot be opened.
    """
    with closing(iter_lines(path)) as lines:
        for _, text in lines:
            if isinstance(text, FormatError):
                return False
            if text.strip():
                return looks_like_jsonl(text)
    return False
