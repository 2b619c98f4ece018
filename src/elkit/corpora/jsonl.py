"""JSON Lines in the Prodigy task format, one document a line (see :mod:`elkit.doc.task`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from elkit.doc import Doc
from elkit.doc.task import doc_from_task, doc_to_task
from elkit.errors import FormatError
from elkit.io.lines import OnError, ReadReport, parse_lines
from elkit.tokenize import Tokenizer

__all__ = ["read_jsonl", "write_jsonl"]


def read_jsonl(
    path: str | Path,
    *,
    tokenizer: Tokenizer | None = None,
    labels: Collection[str] | None = None,
    spans_key: str | None = None,
    max_length: int = 10_000_000,
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[Doc]:
    """Stream documents from a JSONL file of Prodigy tasks; blank lines are ignored.

    Args:
        path: The file.
        tokenizer: Tokenizes tasks that have no "tokens"; span offsets become token boundaries.
        labels: When given, a span label outside this set is an error.
        spans_key: Read spans into ``doc.spans[spans_key]`` (overlaps allowed) instead of ``doc.ents``.
        max_length: Longest text accepted, in characters; a longer one is an error, not a truncation.
        on_error: "raise" stops at the first bad line; "skip" skips it and counts it.
        report: Collects skipped records.

    Raises:
        FormatError: Invalid JSON, a missing or mistyped field, or misaligned span offsets, naming file, line
            and field.
    """
    tokenizer = tokenizer or Tokenizer()

    def parse(text: str, number: int) -> Doc:
        del number
        try:
            task = json.loads(text)
        except json.JSONDecodeError as error:
            raise FormatError(f"invalid JSON: {error.msg} at column {error.colno}") from None
        return doc_from_task(task, tokenizer, labels=labels, spans_key=spans_key, max_length=max_length)

    yield from parse_lines(path, parse, on_error=on_error, report=report)


def write_jsonl(
    docs: Iterable[Doc], output: TextIO, *, include_tokens: bool | None = None, spans_key: str | None = None
) -> int:
    """Write documents as Prodigy tasks, one JSON object a line (UTF-8, not ASCII-escaped).

    Args:
        docs: The documents.
        output: A text stream.
        include_tokens: Write "tokens"; by default as the document was read (always for other sources).
        spans_key: Write this span group instead of ``doc.ents``.

    Returns:
        The number of documents written.
    """
    count = 0
    for doc in docs:
        task = doc_to_task(doc, include_tokens=include_tokens, spans_key=spans_key)
        output.write(json.dumps(task, ensure_ascii=False) + "\n")
        count += 1
    return count
