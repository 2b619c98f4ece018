"""Raw text input: a ``.txt`` file (one text a line) or JSONL with a "text" field (and optional "meta")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from elkit.errors import FormatError
from elkit.io.lines import OnError, ReadReport, looks_like_jsonl, parse_lines

__all__ = ["read_texts"]


def read_texts(
    path: str | Path,
    *,
    max_length: int = 1_000_000,
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stream (text, meta) pairs. Blank lines are skipped; in JSONL, every key but "text" goes into meta.

    Args:
        path: A JSONL file (its first non-blank line opens a JSON object) or a plain text file.
        max_length: Longest text accepted, in characters.
        on_error: "raise" or "skip" (count bad lines in ``report``).
        report: Collects skipped lines.

    Raises:
        FormatError: Invalid JSON, a missing or empty "text", or a text over ``max_length``, naming file and line.
    """
    is_jsonl: bool | None = None

    def parse(content: str, number: int) -> tuple[str, dict[str, Any]]:
        nonlocal is_jsonl
        if is_jsonl is None:
            is_jsonl = looks_like_jsonl(content)
        text, meta = _parse(content, is_jsonl, max_length)
        meta.setdefault("source", f"{path}:{number}")
        return text, meta

    yield from parse_lines(path, parse, on_error=on_error, report=report)


def _parse(content: str, is_jsonl: bool, max_length: int) -> tuple[str, dict[str, Any]]:
    if is_jsonl:
        try:
            record = json.loads(content)
        except json.JSONDecodeError as error:
            raise FormatError(f"invalid JSON: {error.msg} at column {error.colno}") from error
        if not isinstance(record, dict):
            raise FormatError("each line must be a JSON object")
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FormatError("missing, empty or not a string", field="text")
        meta = record.get("meta", {})
        if not isinstance(meta, dict):
            raise FormatError("must be an object", field="meta")
        meta = dict(meta)
        meta.update({key: value for key, value in record.items() if key not in ("text", "meta")})
    else:
        text, meta = content, {}
    if len(text) > max_length:
        raise FormatError(f"text of {len(text):,} characters is longer than the limit of {max_length:,}",
                          field="text")
    return text, meta
