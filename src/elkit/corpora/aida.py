r"""AIDA CoNLL-YAGO TSV: the CoNLL-2003 tokens with entity links, one document per ``-DOCSTART-`` line.

::

    -DOCSTART- (1 EU)
    EU<TAB>B<TAB>EU<TAB>--NME--
    German<TAB>B<TAB>German<TAB>Germany<TAB>http://en.wikipedia.org/wiki/Germany<TAB>11867<TAB>/m/0345h
    call

A token line has one field, or four (``B``/``I``, the full mention, ``--NME--`` for an entity outside the KB),
or six or seven (the Wikipedia title, URL, page id and an optional Freebase id). Blank lines end sentences.
Mentions become spans labelled ``ENTITY`` (AIDA has no types) whose ``kb_id`` is the Wikipedia title with its
``\uXXXX`` escapes decoded, or ``NIL``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from elkit.doc import NIL, Doc
from elkit.errors import FormatError
from elkit.io.lines import Line, OnError, ReadReport, handle, iter_lines

__all__ = ["AIDA_LABEL", "read_aida", "write_aida"]

AIDA_LABEL = "ENTITY"
_DOCSTART = "-DOCSTART-"
_NIL_MARK = "--NME--"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(title: str) -> str:
    if "\\u" not in title:
        return title
    decoded = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), title)
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16")


class _Mention:
    def __init__(self, start: int, number: int, fields: list[str]) -> None:
        self.start = start
        self.end = start + 1
        self.number = number
        self.fields = fields  # everything after the B/I column


def _parse_document(lines: list[tuple[int, str]], path: str) -> Doc:
    docstart_number, docstart = lines[0]
    words: list[str] = []
    spaces: list[str] = []
    sentence_starts: list[int] = []
    sentence_open = False
    found: list[_Mention] = []
    current: _Mention | None = None
    for number, text in lines[1:]:
        if not text.strip():
            if sentence_open:
                spaces[-1] = "\n"
            sentence_open = False
            continue  # a mention may go on across a sentence break ("Phil" | "Mickelson" in AIDA train)
        fields = text.split("\t")
        if len(fields) not in (1, 4, 6, 7):
            raise FormatError(f"expected 1, 4, 6 or 7 tab-separated fields, found {len(fields)}", path=path,
                              line=number, field="columns")
        if not fields[0]:
            raise FormatError("empty token", path=path, line=number, field="token")
        if not sentence_open:
            sentence_starts.append(len(words))
            sentence_open = True
        index = len(words)
        words.append(fields[0])
        spaces.append(" ")
        if len(fields) == 1:
            current = None
            continue
        marker, rest = fields[1], fields[2:]
        if len(fields) == 4 and rest[1] != _NIL_MARK:
            raise FormatError(f"a 4-field mention line must end with {_NIL_MARK}, found {rest[1]!r}", path=path,
                              line=number, field="link")
        if marker == "B":
            current = _Mention(index, number, rest)
            found.append(current)
        elif marker == "I":
            if current is None or current.end != index:
                raise FormatError("mention continues (I) with no mention (B) on the line before", path=path,
                                  line=number, field="B/I")
            if rest != current.fields:
                raise FormatError(
                    f"mention continues (I) with other fields than its start on line {current.number}: "
                    f"{rest!r} vs {current.fields!r}", path=path, line=number, field="mention")
            current.end = index + 1
        else:
            raise FormatError(f"second field must be B or I, found {marker!r}", path=path, line=number,
                              field="B/I")
    if not words:
        raise FormatError("document has no tokens", path=path, line=docstart_number)
    spaces[-1] = ""
    doc = Doc.from_words(words, spaces)
    doc.set_sentence_starts(sentence_starts)
    spans = []
    for mention in found:
        surface, link, *details = mention.fields
        covered = " ".join(words[mention.start : mention.end])
        attrs: dict[str, Any] = {}
        if surface != covered:
            raise FormatError(f"mention {surface!r} does not match its tokens {covered!r}", path=path,
                              line=mention.number, field="mention")
        if link == _NIL_MARK:
            kb_id = NIL
        else:
            kb_id = _unescape(link)
            if kb_id != link:
                attrs["aida_title"] = link
            attrs["wikipedia_url"], attrs["wikipedia_id"] = details[0], details[1]
            if len(details) > 2:
                attrs["freebase_id"] = details[2]
        spans.append(doc.span(mention.start, mention.end, AIDA_LABEL, kb_id, attrs=attrs))
    doc.ents = spans
    header = docstart[len(_DOCSTART) :].strip()
    doc.meta["id"] = header[1:-1] if header.startswith("(") and header.endswith(")") else header
    doc.meta["source"] = f"{path}:{docstart_number}"
    doc.user_data["aida"] = {"docstart": docstart}
    return doc


def read_aida(
    path: str | Path, *, on_error: OnError = "raise", report: ReadReport | None = None
) -> Iterator[Doc]:
    """Stream whole documents from an AIDA CoNLL-YAGO TSV file.

    Args:
        path: The file.
        on_error: "raise" stops at the first bad line; "skip" skips the document holding it and counts it.
        report: Collects skipped records.

    Raises:
        FormatError: A malformed line in strict mode (a mention continued without a start, a mention string that
            does not match its tokens, a wrong field count), naming file, line and field.
    """
    lines: list[tuple[int, str]] = []
    broken: FormatError | None = None

    def finish() -> Iterator[Doc]:
        if broken is not None:
            handle(broken, on_error, report)
        elif lines:
            try:
                yield _parse_document(lines, str(path))
            except FormatError as error:
                handle(error, on_error, report)

    line: Line
    for line in iter_lines(path):
        number, text = line
        if isinstance(text, FormatError):
            broken = broken or text
            continue
        if text.startswith(_DOCSTART):
            yield from finish()
            lines, broken = [(number, text)], None
            continue
        if not lines:
            if text.strip():
                handle(FormatError("token line before the first -DOCSTART- line", path=path, line=number),
                       on_error, report)
            continue
        lines.append((number, text))
    yield from finish()


def write_aida(docs: Iterable[Doc], output: TextIO) -> int:
    """Write documents as AIDA TSV: ``doc.ents`` with their ``kb_id`` (NIL as ``--NME--``).

    Returns:
        The number of documents written.
    """
    count = 0
    for doc in docs:
        docstart = doc.user_data.get("aida", {}).get("docstart") or f"{_DOCSTART} ({doc.meta.get('id', count)})"
        output.write(docstart + "\n")
        links: dict[int, tuple[str, list[str]]] = {}
        words = doc.words
        for span in doc.ents:
            surface = " ".join(words[span.start : span.end])  # a mention may cross a sentence break
            if span.kb_id in ("", NIL):
                fields = [surface, _NIL_MARK]
            else:
                fields = [surface, span.attrs.get("aida_title", span.kb_id)]
                fields += [span.attrs.get("wikipedia_url", ""), str(span.attrs.get("wikipedia_id", ""))]
                if "freebase_id" in span.attrs:
                    fields.append(span.attrs["freebase_id"])
            for index in range(span.start, span.end):
                links[index] = ("B" if index == span.start else "I", fields)
        for sentence in doc.sents:
            for index in range(sentence.start, sentence.end):
                if index in links:
                    marker, fields = links[index]
                    output.write("\t".join([words[index], marker, *fields]) + "\n")
                else:
                    output.write(words[index] + "\n")
            output.write("\n")
        count += 1
    return count
