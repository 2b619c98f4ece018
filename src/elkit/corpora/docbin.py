"""spaCy DocBin (``.spacy``) import and export. Needs the optional extra: ``pip install elkit[spacy]``.

Whitespace that is not a single space after a token becomes a whitespace token on the spaCy side, as spaCy's
own tokenizer does, and is folded back into the gaps between tokens on import, so texts survive exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from elkit.doc import Doc
from elkit.errors import ConfigError, DataError, FormatError
from elkit.io.lines import OnError, ReadReport, handle

__all__ = ["doc_from_spacy", "doc_to_spacy", "read_docbin", "write_docbin"]

_META_KEY = "elkit_meta"


def _spacy() -> Any:
    try:
        import spacy
    except ImportError as error:
        raise ConfigError("spaCy DocBin support needs spaCy: pip install 'elkit[spacy]'") from error
    return spacy


def doc_from_spacy(spacy_doc: Any) -> Doc:
    """Convert a spaCy ``Doc``: text, tokens, sentences (if set), entities with ``kb_id_``, span groups, tags."""
    starts: list[int] = []
    ends: list[int] = []
    index_map: dict[int, int] = {}
    for token in spacy_doc:
        if token.is_space and not token.text.strip():
            continue
        index_map[token.i] = len(starts)
        starts.append(token.idx)
        ends.append(token.idx + len(token.text))
    doc = Doc(spacy_doc.text, starts, ends)
    if spacy_doc.has_annotation("SENT_START"):
        sentence_starts = {index_map[sentence.start] for sentence in spacy_doc.sents if sentence.start in index_map}
        if len(doc):
            doc.set_sentence_starts(sentence_starts | {0})

    def convert(span: Any) -> Any:
        return doc.char_span(span.start_char, span.end_char, span.label_, span.kb_id_)

    doc.ents = [convert(span) for span in spacy_doc.ents]
    for name, group in spacy_doc.spans.items():
        doc.spans[name] = [convert(span) for span in group]
    tags = [token.tag_ for token in spacy_doc if token.i in index_map]
    if any(tags):
        doc.token_attrs["pos"] = tags
    doc.meta = dict(spacy_doc.user_data.get(_META_KEY, {}))
    return doc


def doc_to_spacy(doc: Doc, vocab: Any) -> Any:
    """Convert to a spaCy ``Doc`` on ``vocab``, keeping the exact text, entities, span groups and sentences."""
    spacy = _spacy()
    words: list[str] = []
    spaces: list[bool] = []
    token_index: list[int] = []
    sentence_flags: list[bool | None] = []

    def add_whitespace(gap: str) -> None:
        if gap:
            words.append(gap)
            spaces.append(False)
            sentence_flags.append(False if doc.has_sentences else None)

    text = doc.text
    add_whitespace(text[: doc.token_starts[0]] if len(doc) else text)
    for index, (start, end) in enumerate(zip(doc.token_starts, doc.token_ends, strict=True)):
        following = doc.token_starts[index + 1] if index + 1 < len(doc) else len(text)
        gap = text[end:following]
        token_index.append(len(words))
        words.append(text[start:end])
        spaces.append(gap.startswith(" "))
        sentence_flags.append(doc.is_sentence_start(index))
        add_whitespace(gap[1:] if gap.startswith(" ") else gap)
    spacy_doc = spacy.tokens.Doc(
        vocab, words=words, spaces=spaces, sent_starts=sentence_flags if doc.has_sentences else None
    )
    if spacy_doc.text != text:
        raise DataError("internal: spaCy text differs from the elkit text")

    def convert(span: Any) -> Any:
        return spacy.tokens.Span(
            spacy_doc, token_index[span.start], token_index[span.end - 1] + 1, label=span.label, kb_id=span.kb_id
        )

    spacy_doc.ents = [convert(span) for span in doc.ents]
    for name, spans in doc.spans.items():
        spacy_doc.spans[name] = [convert(span) for span in spans]
    if "pos" in doc.token_attrs:
        for index, tag in enumerate(doc.token_attrs["pos"]):
            spacy_doc[token_index[index]].tag_ = tag
    if doc.meta:
        spacy_doc.user_data[_META_KEY] = dict(doc.meta)
    return spacy_doc


def read_docbin(
    path: str | Path, *, on_error: OnError = "raise", report: ReadReport | None = None
) -> Iterator[Doc]:
    """Read documents from a spaCy ``.spacy`` file (loaded whole: DocBin has no streaming reader).

    Raises:
        FormatError: When the file is not a DocBin, or a document cannot be converted.
    """
    spacy = _spacy()
    try:
        doc_bin = spacy.tokens.DocBin(store_user_data=True).from_disk(path)
    except Exception as error:  # DocBin raises zlib, msgpack or value errors on a bad file
        raise FormatError(f"not a spaCy DocBin file: {error}", path=path) from error
    vocab = spacy.blank("en").vocab
    for number, spacy_doc in enumerate(doc_bin.get_docs(vocab), 1):
        try:
            yield doc_from_spacy(spacy_doc)
        except DataError as error:
            handle(FormatError(f"document {number}: {error}", path=path), on_error, report)


def write_docbin(docs: Iterable[Doc], path: str | Path) -> int:
    """Write documents to a spaCy ``.spacy`` file.

    Returns:
        The number of documents written.
    """
    spacy = _spacy()
    vocab = spacy.blank("en").vocab
    doc_bin = spacy.tokens.DocBin(store_user_data=True)
    count = 0
    for doc in docs:
        doc_bin.add(doc_to_spacy(doc, vocab))
        count += 1
    doc_bin.to_disk(path)
    return count
