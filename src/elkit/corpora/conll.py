"""CoNLL NER files: one token a line with its tag in the last column, blank lines between sentences.

Covers CoNLL-2003 (``token POS chunk NER``, space-separated, ``-DOCSTART-`` lines between documents) and
two-column files (``token<TAB>tag``, as CrossNER and NCBI's CoNLL version). Tags may be IOB1, IOB2 or BILUO;
the scheme is detected from the first entity unless given. With ``-DOCSTART-`` lines a document holds all its
sentences; without them every sentence is a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from elkit.doc import Doc
from elkit.doc.tags import Scheme, TagError, entities_to_tags, tags_to_entities
from elkit.errors import DataError, FormatError
from elkit.io.lines import Line, OnError, ReadReport, handle, iter_lines

__all__ = ["ConllScheme", "read_conll", "write_conll"]

ConllScheme = Literal["auto", "iob1", "iob2", "biluo"]

_USER_DATA_KEY = "conll"
_DOCSTART = "-DOCSTART-"


@dataclass
class _Sentence:
    lines: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class _FileState:
    path: str
    scheme: ConllScheme
    scheme_line: int = 0
    columns: int = 0
    columns_line: int = 0
    separator: str = " "


def _detect_scheme(tags: list[str]) -> Scheme | None:
    if any(tag[:2] in ("L-", "U-", "S-", "E-") for tag in tags):
        return "biluo"
    for tag in tags:
        if tag.startswith("I-"):
            return "iob1"
        if tag.startswith("B-"):
            return "iob2"
    return None


def _column_names(count: int) -> list[str]:
    middle = count - 2
    if middle == 1:
        return ["pos"]
    if middle == 2:
        return ["pos", "chunk"]
    return [f"column{index}" for index in range(1, middle + 1)]


def _split_line(number: int, text: str, state: _FileState) -> list[str]:
    separator = "\t" if "\t" in text else " "
    fields = text.split(separator)
    if not state.columns:
        state.columns, state.columns_line, state.separator = len(fields), number, separator
        if len(fields) < 2:
            raise FormatError("a token line needs at least 2 columns (token and tag)", path=state.path, line=number)
    if len(fields) != state.columns:
        raise FormatError(
            f"expected {state.columns} columns (as on line {state.columns_line}), found {len(fields)}",
            path=state.path,
            line=number,
            field="columns",
        )
    if any(not item for item in fields):
        raise FormatError("empty column (doubled separator?)", path=state.path, line=number, field="columns")
    return fields


_Parsed = tuple[list[str], list[list[str]], list[tuple[int, int, str]]]


def _parse_sentence(sentence: _Sentence, state: _FileState) -> _Parsed:
    words = [fields[0] for _, fields in sentence.lines]
    tags = [fields[-1] for _, fields in sentence.lines]
    middle = [fields[1:-1] for _, fields in sentence.lines]
    if state.scheme == "auto":
        detected = _detect_scheme(tags)
        if detected is not None:
            state.scheme, state.scheme_line = detected, sentence.lines[0][0]
    scheme: Scheme = "iob1" if state.scheme == "auto" else state.scheme
    try:
        entities = tags_to_entities(tags, scheme)
    except TagError as error:
        source = f" (scheme detected from line {state.scheme_line})" if state.scheme_line else ""
        raise FormatError(
            f"{error}{source}", path=state.path, line=sentence.lines[error.position][0], field="tag"
        ) from error
    return words, middle, entities


def _build_doc(
    sentences: list[_Parsed],
    docstart: str | None,
    state: _FileState,
    first_line: int,
) -> Doc:
    words: list[str] = []
    spaces: list[str] = []
    columns: list[list[str]] = []
    sentence_starts: list[int] = []
    entities: list[tuple[int, int, str]] = []
    for sentence_words, middle, sentence_entities in sentences:
        offset = len(words)
        sentence_starts.append(offset)
        words.extend(sentence_words)
        spaces.extend([" "] * (len(sentence_words) - 1) + ["\n"])
        columns.extend(middle)
        entities.extend((start + offset, end + offset, label) for start, end, label in sentence_entities)
    if spaces:
        spaces[-1] = ""
    doc = Doc.from_words(words, spaces)
    if words:
        doc.set_sentence_starts(sentence_starts)
    doc.ents = [doc.span(start, end, label) for start, end, label in entities]
    if columns and columns[0]:
        for index, name in enumerate(_column_names(state.columns)):
            doc.token_attrs[name] = [row[index] for row in columns]
    doc.user_data[_USER_DATA_KEY] = {
        "docstart": docstart,
        "separator": state.separator,
        "scheme": state.scheme if state.scheme != "auto" else "iob2",
        "columns": _column_names(state.columns) if state.columns else [],
    }
    doc.meta.setdefault("source", f"{state.path}:{first_line}")
    return doc


def read_conll(
    path: str | Path,
    *,
    scheme: ConllScheme = "auto",
    on_error: OnError = "raise",
    report: ReadReport | None = None,
) -> Iterator[Doc]:
    """Stream documents from a CoNLL NER file.

    Args:
        path: The file.
        scheme: The tag scheme, or "auto" to detect it from the first entity ("I-" first: IOB1; "B-": IOB2;
            any "L-"/"U-": BILUO). After detection, a tag that breaks the scheme is an error.
        on_error: "raise" stops at the first bad line; "skip" skips the sentence holding it and counts it.
        report: Collects skipped records.

    Yields:
        One document per ``-DOCSTART-`` section, or per sentence when the file has no such lines.

    Raises:
        FormatError: A malformed line in strict mode, naming file, line and field.
    """
    state = _FileState(path=str(path), scheme=scheme)
    documents_mode: bool | None = None
    docstart: str | None = None
    docstart_line = 0
    pending: list[_Parsed] = []
    sentence = _Sentence()
    broken: FormatError | None = None

    def close_sentence() -> Iterator[Doc]:
        nonlocal sentence, broken
        current, error = sentence, broken
        sentence, broken = _Sentence(), None
        if error is not None:
            handle(error, on_error, report)
            return
        if not current.lines:
            return
        try:
            parsed = _parse_sentence(current, state)
        except FormatError as parse_error:
            handle(parse_error, on_error, report)
            return
        if documents_mode:
            pending.append(parsed)
        else:
            yield _build_doc([parsed], None, state, current.lines[0][0])

    line: Line
    for line in iter_lines(path):
        number, text = line
        if isinstance(text, FormatError):
            broken = broken or text
            sentence.lines.append((number, []))
            continue
        if not text.strip():
            yield from close_sentence()
            continue
        if text.startswith(_DOCSTART):
            yield from close_sentence()
            if documents_mode is None:
                documents_mode = True
            elif not documents_mode:
                handle(FormatError("-DOCSTART- after sentences outside any document", path=path, line=number),
                       on_error, report)
                continue
            if docstart is not None or pending:
                yield _build_doc(pending, docstart, state, docstart_line)
            docstart, docstart_line, pending = text, number, []
            continue
        if documents_mode is None:
            documents_mode = False
        try:
            sentence.lines.append((number, _split_line(number, text, state)))
        except FormatError as error:
            broken = broken or error
            sentence.lines.append((number, []))
    yield from close_sentence()
    if documents_mode and (docstart is not None or pending):
        yield _build_doc(pending, docstart, state, docstart_line)


def write_conll(
    docs: Iterable[Doc],
    output: TextIO,
    *,
    scheme: Scheme | None = None,
    separator: str | None = None,
    docstart: bool | None = None,
) -> int:
    """Write documents as a CoNLL NER file.

    Columns between the token and the tag come from ``doc.token_attrs`` (the columns a CoNLL reader kept).
    Defaults (scheme, separator, ``-DOCSTART-`` line) come from how the document was read, else IOB2, a space,
    and a ``-DOCSTART- -X- -X- O`` line before each document.

    Args:
        docs: The documents; entities come from ``doc.ents``, sentences from the sentence boundaries.
        output: A text stream.
        scheme: Force a tag scheme.
        separator: Force the column separator.
        docstart: Force writing (or not) a ``-DOCSTART-`` line before each document.

    Returns:
        The number of documents written.

    Raises:
        DataError: When a token contains whitespace (it cannot be written as one line) or columns are uneven.
    """
    count = 0
    for doc in docs:
        info = doc.user_data.get(_USER_DATA_KEY, {})
        doc_scheme: Scheme = scheme or info.get("scheme", "iob2")
        doc_separator = separator or info.get("separator", " ")
        columns = info.get("columns") or [name for name in ("pos", "chunk") if name in doc.token_attrs]
        missing = [name for name in columns if name not in doc.token_attrs]
        if missing:
            raise DataError(f"document {count}: token attributes {missing} are missing for the CoNLL columns")
        if docstart is False:
            start_line = None
        elif "docstart" in info and docstart is None:
            start_line = info["docstart"]  # as read: a line, or None for a file without -DOCSTART- lines
        else:
            start_line = info.get("docstart") or doc_separator.join([_DOCSTART, *(["-X-"] * len(columns)), "O"])
        if start_line is not None:
            output.write(start_line + "\n\n")
        words = doc.words
        tags = entities_to_tags(len(doc), ((span.start, span.end, span.label) for span in doc.ents), doc_scheme)
        for sentence in doc.sents:
            sentence_tags = tags[sentence.start : sentence.end]
            if doc_scheme == "iob1" and sentence_tags and sentence_tags[0].startswith("B-"):
                # IOB1 B- marks an entity right after one of the same type; at a sentence start there is none.
                sentence_tags[0] = "I-" + sentence_tags[0][2:]
            for index, tag in zip(range(sentence.start, sentence.end), sentence_tags, strict=True):
                word = words[index]
                if any(character.isspace() for character in word):
                    raise DataError(f"document {count}: token {index} {word!r} contains whitespace")
                fields = [word, *(doc.token_attrs[name][index] for name in columns), tag]
                output.write(doc_separator.join(fields) + "\n")
            output.write("\n")
        count += 1
    return count
