"""Reading a recipe's source: JSONL tasks (text, and optional tokens, spans, meta) or plain text lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from elkit.corpora.jsonl import read_jsonl
from elkit.corpora.texts import read_texts
from elkit.doc import Doc
from elkit.errors import DataError
from elkit.io.lines import sniff_jsonl
from elkit.tokenize import Tokenizer

__all__ = ["check_source", "read_source"]

_JSONL_SUFFIXES = (".jsonl", ".json")


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in _JSONL_SUFFIXES or sniff_jsonl(path)


def read_source(path: str | Path, tokenizer: Tokenizer, labels: Sequence[str] | None = None) -> Iterator[Doc]:
    """Documents from a source: JSONL tasks (text, and optional tokens, spans, meta) or text lines.

    Raises:
        FormatError: A malformed line, misaligned offsets or an unknown label, naming file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: the source file does not exist")
    if _is_jsonl(path):
        yield from read_jsonl(path, tokenizer=tokenizer, labels=set(labels) if labels else None)
        return
    for text, meta in read_texts(path):
        doc = tokenizer(text)
        doc.meta = dict(meta)
        yield doc


def check_source(path: str | Path, tokenizer: Tokenizer, labels: Sequence[str] | None = None) -> int:
    """Read the whole source once so that a bad line stops the command before the server starts.

    Returns:
        The number of documents.
    """
    count = 0
    for _ in read_source(path, tokenizer, labels):
        count += 1
    if not count:
        raise DataError(f"{path}: the source has no texts")
    return count
