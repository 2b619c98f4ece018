"""PubTator files: a title line, an abstract line, then one line per mention or relation, blank line after.

::

    10192393|t|A common human skin tumour is caused by ...
    10192393|a|WNT signalling orchestrates ...
    10192393<TAB>15<TAB>26<TAB>skin tumour<TAB>DiseaseClass<TAB>D012878
    2234245<TAB>CID<TAB>D008094<TAB>D014786

Offsets are on ``title + " " + abstract``. The mention's type becomes the span label and its id the span's
``kb_id``, kept whole: a composite id (``D001|D002`` for alternatives, ``D001+D002`` for a conjunction) stays
one string; :func:`split_ids` splits it. An id of ``-1`` (no id) becomes ``NIL``. Relation lines are not
entities: they are kept in ``doc.meta["relations"]`` and written back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from elkit.corpora.base import mentions, set_mentions
from elkit.doc import NIL, Doc, Span
from elkit.errors import DataError, FormatError
from elkit.io.lines import Line, OnError, ReadReport, handle, iter_lines
from elkit.tokenize import Tokenizer, split_sentences

__all__ = ["read_pubtator", "split_ids", "write_pubtator"]

_HEADER = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$", re.DOTALL)
_NO_ID = "-1"


def split_ids(kb_id: str) -> list[str]:
    """Split a composite PubTator id ("D001|D002" or "D001+D002") into its parts."""
    return [part for part in re.split(r"[|+]", kb_id) if part]


class _Record:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.error: FormatError | None = None


def _iter_records(path: str | Path) -> Iterator[_Record]:
    record = _Record()
    line: Line
    for line in iter_lines(path):
        number, text = line
        if isinstance(text, FormatError):
            record.error = record.error or text
            record.lines.append((number, ""))
            continue
        if not text.strip():
            if record.lines:
                yield record
                record = _Record()
            continue
        record.lines.append((number, text))
    if record.lines:
        yield record


def _parse_record(
    record: _Record, path: str, tokenizer: Tokenizer, on_error: OnError, report: ReadReport | None
) -> Doc:
    if record.error is not None:
        raise record.error
    header: dict[str, tuple[str, int]] = {}
    pmid = ""
    body: list[tuple[int, list[str]]] = []
    for number, text in record.lines:
        match = _HEADER.match(text)
        if match and "\t" not in text.split("|", 2)[0]:
            identifier, kind, content = match.groups()
            if pmid and identifier != pmid:
                raise FormatError(f"document id {identifier!r} differs from {pmid!r} above", path=path, line=number,
                                  field="id")
            if kind in header:
                raise FormatError(f"second |{kind}| line for document {identifier}", path=path, line=number)
            if body:
                raise FormatError(f"|{kind}| line after annotation lines", path=path, line=number)
            pmid = identifier
            header[kind] = (content, number)
            continue
        if not header:
            raise FormatError("annotation line before the document's |t| title line", path=path, line=number)
        body.append((number, text.split("\t")))
    if "t" not in header:
        raise FormatError("document has no |t| title line", path=path, line=record.lines[0][0])
    title = header["t"][0]
    abstract = header.get("a", ("", 0))[0]
    text = title + " " + abstract if "a" in header else title
    if not text.strip():
        raise FormatError(f"document {pmid} has an empty title and abstract", path=path, line=record.lines[0][0])
    raw_mentions: list[tuple[int, int, int, str, str, str, list[str]]] = []
    relations: list[list[str]] = []
    for number, fields in body:
        if fields[0] != pmid:
            error = FormatError(f"document id {fields[0]!r} differs from {pmid!r}", path=path, line=number,
                                field="id")
            handle(error, on_error, report)
            continue
        if len(fields) >= 4 and not fields[1].lstrip("-").isdigit() and not fields[2].lstrip("-").isdigit():
            relations.append(fields[1:])
            continue
        try:
            raw_mentions.append(_parse_mention(number, fields, text, path, report))
        except FormatError as error:
            handle(error, on_error, report)
    boundaries = {offset for mention in raw_mentions for offset in mention[1:3]}
    if "a" in header:
        boundaries.add(len(title) + 1)
    doc = tokenizer(text, boundaries)
    spans: list[Span] = []
    for number, start, end, surface, label, identifier, extra in raw_mentions:
        attrs: dict[str, Any] = {}
        if extra:
            attrs["pubtator_extra"] = extra
        if surface != text[start:end]:
            attrs["pubtator_mention"] = surface
        kb_id = NIL if identifier.strip() == _NO_ID else identifier.strip()
        if identifier == "" or identifier != identifier.strip():
            attrs["pubtator_id"] = identifier  # written back as found (empty, or with stray spaces)
            if identifier and report is not None:
                report.warn(f"{path}:{number}: id {identifier!r} has stray spaces; linked as {kb_id!r}")
        try:
            spans.append(doc.char_span(start, end, label, kb_id, attrs=attrs))
        except DataError as error:  # the tokenizer honours boundaries, so this is a bug, not bad data
            raise FormatError(str(error), path=path, line=number) from error
    starts = set(split_sentences(doc))
    if "a" in header and len(title.strip()):
        abstract_token = doc.token_index_at(len(title) + 1)
        if abstract_token is not None:
            starts.add(abstract_token)
    inside = {index for span in spans for index in range(span.start + 1, span.end)}
    if len(doc):
        doc.set_sentence_starts(starts - inside)
    set_mentions(doc, spans, report, f"{path}:{record.lines[0][0]}")
    doc.meta["id"] = pmid
    if relations:
        doc.meta["relations"] = relations
    if "a" in header:
        doc.meta["title_length"] = len(title)
    return doc


def _parse_mention(
    number: int, fields: list[str], text: str, path: str, report: ReadReport | None
) -> tuple[int, int, int, str, str, str, list[str]]:
    if len(fields) < 5:
        raise FormatError(
            f"a mention line needs at least 5 tab-separated fields (id, start, end, mention, type), found "
            f"{len(fields)}",
            path=path,
            line=number,
            field="columns",
        )
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError as error:
        raise FormatError(f"offsets {fields[1]!r}, {fields[2]!r} are not integers", path=path, line=number,
                          field="start/end") from error
    if not 0 <= start < end <= len(text):
        raise FormatError(f"offsets [{start}, {end}) are outside the text ({len(text)} characters)", path=path,
                          line=number, field="start/end")
    surface, label = fields[3], fields[4]
    identifier = fields[5] if len(fields) > 5 else ""
    if not label:
        raise FormatError("empty mention type", path=path, line=number, field="type")
    found = text[start:end]
    if surface != found:
        if surface.strip() != found.strip():
            raise FormatError(f"mention {surface!r} does not match the text at [{start}, {end}): {found!r}",
                              path=path, line=number, field="mention")
        if report is not None:
            report.warn(f"{path}:{number}: mention {surface!r} differs from the text {found!r} by whitespace only")
    return number, start, end, surface, label, identifier, fields[6:]


def read_pubtator(
    path: str | Path,
    *,
    tokenizer: Tokenizer | None = None,
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[Doc]:
    """Stream documents from a PubTator file.

    Args:
        path: The file.
        tokenizer: Tokenizes title and abstract; token boundaries are forced onto every mention's offsets.
        on_error: "raise" stops at the first bad line; "skip" skips the bad mention line (or the whole document
            when its title or abstract is broken) and counts it.
        report: Collects skipped records and warnings.

    Raises:
        FormatError: A malformed line in strict mode, naming file, line and field.
    """
    tokenizer = tokenizer or Tokenizer()
    for record in _iter_records(path):
        try:
            yield _parse_record(record, str(path), tokenizer, on_error, report)
        except FormatError as error:
            handle(error, on_error, report)


def write_pubtator(docs: Iterable[Doc], output: TextIO) -> int:
    """Write documents as PubTator; ``kb_id`` "NIL" is written as "-1".

    The text is split into title and abstract at ``doc.meta["title_length"]`` (set by the reader); without it
    the whole text is the title. Line breaks in the text are written as spaces, which keeps every offset.

    Returns:
        The number of documents written.
    """
    count = 0
    for doc in docs:
        pmid = str(doc.meta.get("id", count))
        title_length = doc.meta.get("title_length")
        # Newlines become spaces: same length, so every offset stays valid.
        text = doc.text.replace("\r", " ").replace("\n", " ")
        if isinstance(title_length, int) and 0 <= title_length < len(text) and text[title_length] == " ":
            title, abstract = text[:title_length], text[title_length + 1 :]
        else:
            title, abstract = text, None
        output.write(f"{pmid}|t|{title}\n")
        if abstract is not None:
            output.write(f"{pmid}|a|{abstract}\n")
        for span in mentions(doc):
            identifier = span.attrs.get("pubtator_id", _NO_ID if span.kb_id == NIL else span.kb_id)
            surface = span.attrs.get("pubtator_mention", span.text)
            fields = [pmid, str(span.start_char), str(span.end_char), surface, span.label]
            if identifier or span.attrs.get("pubtator_extra"):
                fields.append(identifier)
            fields.extend(span.attrs.get("pubtator_extra", []))
            output.write("\t".join(fields) + "\n")
        for relation in doc.meta.get("relations", []):
            output.write("\t".join([pmid, *relation]) + "\n")
        output.write("\n")
        count += 1
    return count

