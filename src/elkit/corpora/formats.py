"""One entry point for every corpus format: detect it, read it, write it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, get_args

from elkit.corpora.aida import read_aida, write_aida
from elkit.corpora.conll import ConllScheme, read_conll, write_conll
from elkit.corpora.docbin import read_docbin, write_docbin
from elkit.corpora.jsonl import read_jsonl, write_jsonl
from elkit.corpora.pubtator import read_pubtator, write_pubtator
from elkit.doc import Doc
from elkit.errors import ConfigError, FormatError
from elkit.io.lines import OnError, ReadReport, looks_like_jsonl
from elkit.tokenize import Tokenizer

__all__ = ["FORMATS", "CorpusFormat", "detect_format", "format_from_suffix", "read_corpus", "write_corpus"]

CorpusFormat = Literal["conll", "pubtator", "aida", "jsonl", "docbin"]
FORMATS: tuple[str, ...] = get_args(CorpusFormat)

_SUFFIXES = {".spacy": "docbin", ".jsonl": "jsonl", ".pubtator": "pubtator", ".conll": "conll", ".iob": "conll",
             ".bio": "conll", ".tsv": None, ".txt": None}
_PUBTATOR_HEADER = re.compile(r"^[^|\t\s]+\|[ta]\|")
_TAG = re.compile(r"^(O|[BIELSU]-\S+)$")
_SNIFF_LINES = 50


def format_from_suffix(path: str | Path) -> str | None:
    """The format a file name implies (".spacy", ".jsonl", ".pubtator", ".conll"), or None."""
    return _SUFFIXES.get(Path(path).suffix.lower())


def detect_format(path: str | Path) -> str:
    """Tell a corpus file's format from its content (its first lines), else from its suffix.

    Raises:
        FormatError: When the file cannot be read or matches no format.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError as error:
        raise FormatError(f"cannot open: {error.strerror}", path=path) from error
    if not head.strip():
        raise FormatError("the file is empty", path=path)
    if head[:1] == b"\x78" or Path(path).suffix.lower() == ".spacy":  # zlib stream: spaCy DocBin
        return "docbin"
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()][:_SNIFF_LINES]
    if not lines:
        raise FormatError("the file is empty", path=path)
    first = lines[0]
    if looks_like_jsonl(first):
        return "jsonl"
    if _PUBTATOR_HEADER.match(first):
        return "pubtator"
    if first.startswith("-DOCSTART- ("):
        return "aida"
    for line in lines:
        fields = line.split("\t")
        if len(fields) in (4, 6, 7) and fields[1] in ("B", "I") and (
            fields[3] == "--NME--" or (len(fields) > 4 and fields[4].startswith("http"))
        ):
            return "aida"
    token_lines = [line for line in lines if not line.startswith("-DOCSTART-")]
    if token_lines and all(len(line.split()) >= 2 and _TAG.match(line.split()[-1]) for line in token_lines):
        return "conll"
    suffix_format = format_from_suffix(path)
    if suffix_format:
        return suffix_format
    raise FormatError(
        f"cannot tell the format from the content; pass one of {', '.join(FORMATS)} with --format", path=path
    )


def read_corpus(
    path: str | Path,
    format: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    scheme: ConllScheme = "auto",
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[Doc]:
    """Stream documents from a corpus file of any supported format.

    Args:
        path: The file.
        format: One of ``FORMATS``; detected from the content when None.
        tokenizer: Used by formats that carry raw text (PubTator, JSONL without tokens).
        scheme: Tag scheme for CoNLL files ("auto" detects it).
        on_error: "raise" or "skip" (lenient: bad records are skipped and counted in ``report``).
        report: Collects skipped records and warnings.

    Raises:
        ConfigError: An unknown format name.
        FormatError: Bad input in strict mode.
    """
    chosen = format or detect_format(path)
    if chosen == "conll":
        return read_conll(path, scheme=scheme, on_error=on_error, report=report)
    if chosen == "pubtator":
        return read_pubtator(path, tokenizer=tokenizer, on_error=on_error, report=report)
    if chosen == "aida":
        return read_aida(path, on_error=on_error, report=report)
    if chosen == "jsonl":
        return read_jsonl(path, tokenizer=tokenizer, on_error=on_error, report=report)
    if chosen == "docbin":
        return read_docbin(path, on_error=on_error, report=report)
    raise ConfigError(f"unknown corpus format {chosen!r}: use one of {', '.join(FORMATS)}")


def write_corpus(docs: Iterable[Doc], path: str | Path, format: str, **options: Any) -> int:
    """Write documents to ``path`` in ``format``; options go to the format's writer.

    Returns:
        The number of documents written.

    Raises:
        ConfigError: An unknown format name.
    """
    if format == "docbin":
        return write_docbin(docs, path)
    writers = {"conll": write_conll, "pubtator": write_pubtator, "aida": write_aida, "jsonl": write_jsonl}
    if format not in writers:
        raise ConfigError(f"unknown corpus format {format!r}: use one of {', '.join(FORMATS)}")
    with open(path, "w", encoding="utf-8", newline="\n") as output:
        return writers[format](docs, output, **options)
