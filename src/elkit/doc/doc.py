"""Doc: a text, its tokens as character offsets, sentences, entities and named span groups.

Character offsets are the truth. Tokens are two integer lists (starts and ends) over the text; ``Token`` and
``Span`` objects are views built on demand, so a tokenizer can make a ``Doc`` without allocating an object per
token.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, overload

from elkit.doc.span import Span
from elkit.doc.token import Token
from elkit.errors import AlignmentError, DataError

__all__ = ["AlignmentMode", "Doc", "SpanGroups"]

AlignmentMode = Literal["strict", "contract", "expand"]


class SpanGroups(dict[str, list[Span]]):
    """Named groups of spans that may overlap (``doc.spans["mentions"]``); checks that spans belong to the doc."""

    def __init__(self, doc: Doc) -> None:
        super().__init__()
        self._doc = doc

    def __setitem__(self, name: str, spans: Iterable[Span]) -> None:
        spans = list(spans)
        for span in spans:
            if not isinstance(span, Span) or span.doc is not self._doc:
                raise DataError(f"span group {name!r}: {span!r} is not a Span of this document")
        super().__setitem__(name, spans)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_span_groups, (self._doc, dict(self)))


def _rebuild_span_groups(doc: Doc, groups: dict[str, list[Span]]) -> SpanGroups:
    result = SpanGroups(doc)
    for name, spans in groups.items():
        dict.__setitem__(result, name, spans)
    return result


class Doc:
    """A tokenized text with its annotations.

    Args:
        text: The text.
        token_starts: Character offset where each token starts.
        token_ends: Character offset one past where each token ends.
        sentence_starts: Token indices that start a sentence (must include 0 when there are tokens),
            or None when sentences are unknown.
        validate: Check that tokens are non-empty, ordered, inside the text and separated only by
            whitespace. Tokenizers that guarantee this pass False.

    Attributes:
        text: The text.
        spans: Named span groups; spans in a group may overlap.
        token_attrs: Per-token string attributes by name (for instance "pos" and "chunk" from CoNLL files).
        meta: Metadata that travels with the document (document id, title, source).
        user_data: Free storage; readers keep what they need for lossless round trips here.

    Raises:
        DataError: When ``validate`` is set and the offsets are inconsistent.
    """

    __slots__ = ("_ents", "_sentence_starts", "_spans", "meta", "text", "token_attrs", "token_ends",
                 "token_starts", "user_data")

    def __init__(
        self,
        text: str,
        token_starts: Sequence[int],
        token_ends: Sequence[int],
        *,
        sentence_starts: Sequence[int] | None = None,
        validate: bool = True,
    ) -> None:
        if not isinstance(text, str):
            raise DataError(f"Doc text must be a string, got {type(text).__name__}")
        self._initialise(text, list(token_starts), list(token_ends))
        if validate:
            self._check_tokens()
        if sentence_starts is not None:
            self.set_sentence_starts(sentence_starts)

    def _initialise(self, text: str, token_starts: list[int], token_ends: list[int]) -> None:
        self.text = text
        self.token_starts: list[int] = token_starts
        self.token_ends: list[int] = token_ends
        self._sentence_starts: list[int] | None = None
        self._ents: tuple[Span, ...] = ()
        self._spans: SpanGroups | None = None
        self.token_attrs: dict[str, list[str]] = {}
        self.meta: dict[str, Any] = {}
        self.user_data: dict[str, Any] = {}

    @classmethod
    def from_tokenizer(cls, text: str, token_starts: list[int], token_ends: list[int]) -> Doc:
        """Build a document from offsets a tokenizer guarantees, taking the two lists over without a copy.

        The caller must not keep using the lists. Nothing is checked; use the constructor for offsets from
        anywhere else.
        """
        doc = cls.__new__(cls)
        doc._initialise(text, token_starts, token_ends)
        return doc

    @classmethod
    def from_words(cls, words: Sequence[str], spaces: Sequence[bool | str] | None = None) -> Doc:
        """Build a document from words and what follows each of them.

        Args:
            words: The token texts, each non-empty.
            spaces: For each word, True for a following space, False for none, or the exact whitespace
                string. By default every word but the last is followed by one space.

        Raises:
            DataError: When a word is empty, a separator is not whitespace, or the lengths differ.
        """
        if spaces is None:
            spaces = [True] * (len(words) - 1) + [False] if words else []
        if len(spaces) != len(words):
            raise DataError(f"from_words: {len(words)} words but {len(spaces)} spaces")
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        offset = 0
        for index, (word, space) in enumerate(zip(words, spaces, strict=True)):
            if not word:
                raise DataError(f"from_words: word {index} is empty")
            separator = (" " if space else "") if isinstance(space, bool) else space
            if separator and not separator.isspace():
                raise DataError(f"from_words: separator after word {index} is not whitespace: {separator!r}")
            starts.append(offset)
            offset += len(word)
            ends.append(offset)
            offset += len(separator)
            pieces.append(word)
            pieces.append(separator)
        return cls("".join(pieces), starts, ends, validate=False)

    @classmethod
    def from_docs(cls, docs: Sequence[Doc], separator: str = "\n\n") -> Doc:
        """Join documents into one, ``separator`` between texts, keeping tokens, entities, span groups, sentences.

        Each document starts a sentence of the result; a document without sentence boundaries is one sentence
        when any other has them. Token attributes are kept when every document has them.

        Raises:
            DataError: When ``separator`` is not whitespace (it would be text outside every token).
        """
        if separator and not separator.isspace():
            raise DataError(f"from_docs: the separator must be whitespace, got {separator!r}")
        texts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        sentence_starts: list[int] = []
        offsets: list[tuple[int, int]] = []  # each document's first character and first token in the result
        offset = 0
        for doc in docs:
            offsets.append((offset, len(starts)))
            sentence_starts.extend(len(starts) + first for first in (doc._sentence_starts or [0]) if len(doc))
            starts.extend(start + offset for start in doc.token_starts)
            ends.extend(end + offset for end in doc.token_ends)
            texts.append(doc.text)
            offset += len(doc.text) + len(separator)
        joined = cls(separator.join(texts), starts, ends, validate=False)
        if any(doc.has_sentences for doc in docs):
            joined.set_sentence_starts(sentence_starts)
        names = set.intersection(*(set(doc.token_attrs) for doc in docs)) if docs else set()
        for name in sorted(names):
            joined.token_attrs[name] = [value for doc in docs for value in doc.token_attrs[name]]
        groups: dict[str, list[Span]] = {}
        entities: list[Span] = []
        for doc, (_, first) in zip(docs, offsets, strict=True):
            entities.extend(span.replace(doc=joined, start=span.start + first, end=span.end + first)
                            for span in doc.ents)
            for key, spans in doc.spans.items():
                groups.setdefault(key, []).extend(
                    span.replace(doc=joined, start=span.start + first, end=span.end + first) for span in spans)
        joined.ents = entities
        for key, spans in groups.items():
            joined.spans[key] = spans
        return joined

    def _check_tokens(self) -> None:
        if len(self.token_starts) != len(self.token_ends):
            raise DataError(f"{len(self.token_starts)} token starts but {len(self.token_ends)} token ends")
        previous_end = 0
        text = self.text
        for index, (start, end) in enumerate(zip(self.token_starts, self.token_ends, strict=True)):
            if not 0 <= start < end <= len(text):
                raise DataError(f"token {index} has offsets [{start}, {end}) outside the text or empty")
            if start < previous_end:
                raise DataError(f"token {index} at {start} overlaps the token before it (ends at {previous_end})")
            gap = text[previous_end:start]
            if gap and not gap.isspace():
                raise DataError(f"text {gap!r} before token {index} (offset {previous_end}) is in no token")
            previous_end = end
        tail = text[previous_end:]
        if tail and not tail.isspace():
            raise DataError(f"text {tail[:30]!r} at offset {previous_end} after the last token is in no token")

    # --- tokens --------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.token_starts)

    @overload
    def __getitem__(self, key: int) -> Token: ...

    @overload
    def __getitem__(self, key: slice) -> Span: ...

    def __getitem__(self, key: int | slice) -> Token | Span:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise DataError("Doc slices must be contiguous (step 1)")
            return Span(self, start, stop)
        length = len(self)
        if key < 0:
            key += length
        if not 0 <= key < length:
            raise IndexError(f"token index {key} out of range for a document of {length} tokens")
        return Token(self, key)

    def __iter__(self) -> Iterator[Token]:
        for index in range(len(self)):
            yield Token(self, index)

    @property
    def words(self) -> list[str]:
        """The token texts."""
        text = self.text
        return [text[start:end] for start, end in zip(self.token_starts, self.token_ends, strict=True)]

    def token_index_at(self, char_offset: int) -> int | None:
        """Return the index of the token covering ``char_offset``, or None if it falls in whitespace."""
        index = bisect_right(self.token_starts, char_offset) - 1
        if index >= 0 and char_offset < self.token_ends[index]:
            return index
        return None

    # --- spans ---------------------------------------------------------------------------------------------

    @property
    def spans(self) -> SpanGroups:
        """Named span groups (``doc.spans["mentions"]``); spans in a group may overlap.

        Made on first use, so a document nobody adds spans to holds no reference to itself and is freed
        without the cyclic garbage collector.
        """
        groups = self._spans
        if groups is None:
            groups = self._spans = SpanGroups(self)
        return groups

    def span(self, start: int, end: int, label: str = "", kb_id: str = "", **fields: Any) -> Span:
        """Make a span from token indices ``[start, end)``."""
        return Span(self, start, end, label, kb_id, **fields)

    def char_span(
        self,
        start_char: int,
        end_char: int,
        label: str = "",
        kb_id: str = "",
        *,
        alignment_mode: AlignmentMode = "strict",
        **fields: Any,
    ) -> Span:
        """Make a span from character offsets.

        Args:
            start_char: Offset of the first character.
            end_char: Offset one past the last character.
            label: The span's label.
            kb_id: The span's knowledge-base id.
            alignment_mode: "strict" requires the offsets to fall on token boundaries; "contract" keeps only
                tokens wholly inside the offsets; "expand" takes every token the offsets touch.
            **fields: Other ``Span`` fields (score, attrs, ...).

        Raises:
            AlignmentError: When the offsets do not fall on token boundaries in strict mode, or no token is
                left after snapping.
        """
        if not 0 <= start_char < end_char <= len(self.text):
            raise AlignmentError(
                f"span [{start_char}, {end_char}) is empty or outside the text ({len(self.text)} characters)"
            )
        if alignment_mode == "strict":
            start = bisect_left(self.token_starts, start_char)
            end = bisect_left(self.token_ends, end_char)
            if (
                start >= len(self)
                or self.token_starts[start] != start_char
                or end >= len(self)
                or self.token_ends[end] != end_char
            ):
                raise AlignmentError(
                    f"span [{start_char}, {end_char}) {self.text[start_char:end_char]!r} does not fall on token "
                    f"boundaries (tokens near it: {self._tokens_near(start_char, end_char)})"
                )
            return Span(self, start, end + 1, label, kb_id, **fields)
        if alignment_mode == "contract":
            start = bisect_left(self.token_starts, start_char)
            end = bisect_right(self.token_ends, end_char)
        elif alignment_mode == "expand":
            start = bisect_right(self.token_ends, start_char)
            end = bisect_left(self.token_starts, end_char)
        else:
            raise AlignmentError(f"unknown alignment_mode {alignment_mode!r}: use strict, contract or expand")
        if start >= end:
            raise AlignmentError(
                f"span [{start_char}, {end_char}) {self.text[start_char:end_char]!r} covers no whole token "
                f"({alignment_mode} mode)"
            )
        return Span(self, start, end, label, kb_id, **fields)

    def _tokens_near(self, start_char: int, end_char: int) -> str:
        first = max(0, bisect_right(self.token_ends, start_char) - 1)
        last = min(len(self), bisect_left(self.token_starts, end_char) + 1)
        words = [repr(self.text[self.token_starts[i] : self.token_ends[i]]) for i in range(first, last)]
        return ", ".join(words[:8]) or "none"

    @property
    def ents(self) -> tuple[Span, ...]:
        """The named entities: sorted, non-overlapping spans of this document."""
        return self._ents

    @ents.setter
    def ents(self, spans: Iterable[Span]) -> None:
        ordered = sorted(spans, key=lambda span: (span.start, span.end))
        previous: Span | None = None
        for span in ordered:
            if not isinstance(span, Span) or span.doc is not self:
                raise DataError(f"{span!r} is not a Span of this document")
            if previous is not None and span.start < previous.end:
                raise DataError(
                    f"entities overlap: {previous!r} and {span!r}; put overlapping spans in a span group "
                    f"(doc.spans[name]) instead"
                )
            previous = span
        self._ents = tuple(ordered)

    # --- sentences -----------------------------------------------------------------------------------------

    @property
    def has_sentences(self) -> bool:
        """True when sentence boundaries are set."""
        return self._sentence_starts is not None

    @property
    def sentence_starts(self) -> list[int] | None:
        """Token indices that start a sentence, or None when sentences are unknown."""
        return None if self._sentence_starts is None else list(self._sentence_starts)

    def set_sentence_starts(self, starts: Iterable[int]) -> None:
        """Set sentence boundaries from the token indices that start a sentence.

        Raises:
            DataError: When indices are out of range or unordered, or the first token does not start one.
        """
        ordered = sorted(set(starts))
        if len(self) and (not ordered or ordered[0] != 0):
            raise DataError("sentence starts must include token 0")
        if ordered and ordered[-1] >= max(len(self), 1):
            raise DataError(f"sentence start {ordered[-1]} is outside the document ({len(self)} tokens)")
        self._sentence_starts = ordered

    def is_sentence_start(self, index: int) -> bool | None:
        """Return whether token ``index`` starts a sentence (None when sentences are unknown)."""
        if self._sentence_starts is None:
            return None
        position = bisect_left(self._sentence_starts, index)
        return position < len(self._sentence_starts) and self._sentence_starts[position] == index

    @property
    def sents(self) -> Iterator[Span]:
        """The sentences as spans; the whole document is one sentence when boundaries are unknown."""
        if not len(self):
            return
        starts = self._sentence_starts if self._sentence_starts is not None else [0]
        for position, start in enumerate(starts):
            end = starts[position + 1] if position + 1 < len(starts) else len(self)
            yield Span(self, start, end)

    # --- misc ----------------------------------------------------------------------------------------------

    def copy(self) -> Doc:
        """Return a deep-enough copy: new offset lists, spans rebuilt on the copy."""
        result = Doc(self.text, self.token_starts, self.token_ends, validate=False)
        result._sentence_starts = None if self._sentence_starts is None else list(self._sentence_starts)
        result._ents = tuple(span.replace(doc=result) for span in self._ents)
        for name, spans in self.spans.items():
            result.spans[name] = [span.replace(doc=result) for span in spans]
        result.token_attrs = {name: list(values) for name, values in self.token_attrs.items()}
        result.meta = dict(self.meta)
        result.user_data = dict(self.user_data)
        return result

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_doc, (self.text, self.token_starts, self.token_ends), self._state())

    def _state(self) -> dict[str, Any]:
        return {
            "sentence_starts": self._sentence_starts,
            "ents": self._ents,
            "spans": dict(self._spans or {}),
            "token_attrs": self.token_attrs,
            "meta": self.meta,
            "user_data": self.user_data,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._sentence_starts = state["sentence_starts"]
        self._ents = state["ents"]
        if state["spans"]:
            self._spans = _rebuild_span_groups(self, state["spans"])
        self.token_attrs = state["token_attrs"]
        self.meta = state["meta"]
        self.user_data = state["user_data"]

    def __repr__(self) -> str:
        preview = self.text if len(self.text) <= 50 else self.text[:47] + "..."
        return f"Doc({preview!r}, tokens={len(self)}, ents={len(self._ents)})"


def _rebuild_doc(text: str, token_starts: list[int], token_ends: list[int]) -> Doc:
    return Doc(text, token_starts, token_ends, validate=False)
