"""The Prodigy task format: one JSON object per document.

``{"text": ..., "tokens": [{"text", "start", "end", "id", "ws"}], "spans": [{"start", "end", "token_start",
"token_end", "label", "kb_id"?}], "sentences": [{"start", "end", "token_start", "token_end"}]?, "meta": {...},
"answer": ...}``. ``token_end`` is inclusive, as in Prodigy. ``sentences`` is elkit's addition: it is written when
the document has sentence boundaries, so that they survive the round trip. Keys elkit does not use are kept and
written back, so a task survives a round trip through ``Doc``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from elkit.doc.doc import Doc
from elkit.doc.span import Candidate, Span
from elkit.errors import DataError, FormatError

__all__ = ["MakeDoc", "doc_from_task", "doc_to_task"]

MakeDoc = Callable[[str, Collection[int]], Doc]
"""Tokenizes a text so that token boundaries fall on the given character offsets."""

_SPAN_FIELDS = frozenset({"start", "end", "token_start", "token_end", "label", "kb_id", "score", "link_score",
                          "candidates"})
_TOKEN_FIELDS = frozenset({"text", "start", "end", "id", "ws"})
_SENTENCE_FIELDS = frozenset({"start", "end", "token_start", "token_end"})
_OWN_KEYS = ("text", "tokens", "spans", "sentences", "meta")
_EXTRA_KEY = "task_extra"
_TOKEN_EXTRA_KEY = "task_token_extra"


def _require(condition: bool, message: str, field: str) -> None:
    if not condition:
        raise FormatError(message, field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _doc_from_tokens(text: str, tokens: Any) -> Doc:
    _require(isinstance(tokens, list), "must be a list of token objects", "tokens")
    starts: list[int] = []
    ends: list[int] = []
    extras: dict[int, dict[str, Any]] = {}
    for index, token in enumerate(tokens):
        field = f"tokens[{index}]"
        _require(isinstance(token, dict), "must be an object", field)
        start, end = token.get("start"), token.get("end")
        _require(_is_int(start) and _is_int(end), "needs integer start and end", field)
        _require(0 <= start < end <= len(text), f"offsets [{start}, {end}) are outside the text", field)
        if "text" in token:
            _require(
                token["text"] == text[start:end],
                f"text {token['text']!r} differs from the text at [{start}, {end}): {text[start:end]!r}",
                field,
            )
        if "id" in token:
            _require(token["id"] == index, f"id {token['id']!r} should be {index}", field)
        extra = {key: value for key, value in token.items() if key not in _TOKEN_FIELDS}
        if extra:
            extras[index] = extra
        starts.append(start)
        ends.append(end)
    try:
        doc = Doc(text, starts, ends)
    except DataError as error:
        raise FormatError(str(error), field="tokens") from error
    # A string attribute on every token (such as "pos" from a CoNLL file) becomes a token attribute.
    shared = set.intersection(*(set(extra) for extra in extras.values())) if len(extras) == len(starts) else set()
    for name in sorted(shared):
        if all(isinstance(extra[name], str) for extra in extras.values()):
            doc.token_attrs[name] = [extras[index].pop(name) for index in range(len(starts))]
    extras = {index: extra for index, extra in extras.items() if extra}
    if extras:
        doc.user_data[_TOKEN_EXTRA_KEY] = extras
    return doc


def _span_from_dict(doc: Doc, data: Any, field: str, labels: Collection[str] | None) -> Span:
    _require(isinstance(data, dict), "must be an object", field)
    start, end = data.get("start"), data.get("end")
    _require(_is_int(start) and _is_int(end), "needs integer start and end", field)
    label = data.get("label", "")
    _require(isinstance(label, str), f"label must be a string, got {label!r}", field)
    if labels is not None:
        _require(label in labels, f"unknown label {label!r} (known: {', '.join(sorted(labels))})", field)
    kb_id = data.get("kb_id", "")
    _require(isinstance(kb_id, str), f"kb_id must be a string, got {kb_id!r}", field)
    if "text" in data:
        _require(
            0 <= start < end <= len(doc.text) and data["text"] == doc.text[start:end],
            f"text {data['text']!r} differs from the document text at [{start}, {end})",
            field,
        )
    try:
        candidates = tuple(Candidate.from_dict(item) for item in data.get("candidates", ()))
        span = doc.char_span(
            start,
            end,
            label,
            kb_id,
            score=data.get("score"),
            link_score=data.get("link_score"),
            candidates=candidates,
            attrs={key: value for key, value in data.items() if key not in _SPAN_FIELDS},
        )
    except (DataError, KeyError, TypeError, ValueError) as error:
        raise FormatError(str(error), field=field) from error
    for name, value in (("token_start", span.start), ("token_end", span.end - 1)):
        if name in data:
            _require(data[name] == value, f"{name} {data[name]!r} does not match offsets (expected {value})", field)
    return span


def _sentence_list(task: Mapping[str, Any]) -> list[Any]:
    sentences = task.get("sentences", [])
    _require(isinstance(sentences, list), "must be a list of sentence objects", "sentences")
    return sentences


def _sentence_starts(doc: Doc, sentences: list[Any]) -> list[int]:
    """The token starts of ``sentences``, checked: in order, on token boundaries, covering every token."""
    _require(bool(sentences) or not len(doc), "is empty but the text has tokens", "sentences")
    starts: list[int] = []
    expected = 0  # the token the next sentence must start at
    for index, sentence in enumerate(sentences):
        field = f"sentences[{index}]"
        _require(isinstance(sentence, dict), "must be an object", field)
        unknown = sorted(set(sentence) - _SENTENCE_FIELDS)
        _require(not unknown, f"unknown key(s) {', '.join(map(repr, unknown))}", field)
        start, end = sentence.get("start"), sentence.get("end")
        _require(_is_int(start) and _is_int(end) and start < end, "needs integer start and end, start < end", field)
        first, last = doc.token_index_at(start), doc.token_index_at(end - 1)
        _require(first is not None and doc.token_starts[first] == start,
                 f"start {start} is not the start of a token", field)
        _require(last is not None and doc.token_ends[last] == end, f"end {end} is not the end of a token", field)
        assert first is not None and last is not None
        _require(first == expected, f"starts at token {first}; it should start at token {expected}, where the "
                                    "previous sentence (or the text) ends", field)
        for name, value in (("token_start", first), ("token_end", last)):
            if name in sentence:
                _require(sentence[name] == value,
                         f"{name} {sentence[name]!r} does not match offsets (expected {value})", field)
        starts.append(first)
        expected = last + 1
    _require(expected == len(doc), f"the sentences end at token {expected - 1}, not at the last token "
                                   f"{len(doc) - 1}", "sentences")
    return starts


def doc_from_task(
    task: Mapping[str, Any],
    make_doc: MakeDoc,
    *,
    labels: Collection[str] | None = None,
    spans_key: str | None = None,
    max_length: int = 10_000_000,
) -> Doc:
    """Build a document from a Prodigy task.

    Args:
        task: The parsed JSON object.
        make_doc: Tokenizer used when the task has no "tokens"; it must put token boundaries on span offsets.
        labels: When given, span labels outside this set are an error.
        spans_key: Put the spans in ``doc.spans[spans_key]`` (they may overlap) instead of ``doc.ents``.
        max_length: Longest text accepted, in characters.

    Raises:
        FormatError: Naming the field that is missing, mistyped or misaligned.
    """
    _require(isinstance(task, Mapping), "a task must be a JSON object", "task")
    text = task.get("text")
    _require(isinstance(text, str), "missing or not a string", "text")
    _require(bool(text.strip()), "empty (or whitespace only)", "text")
    _require(len(text) <= max_length, f"{len(text):,} characters is over the limit of {max_length:,}", "text")
    raw_spans = task.get("spans", [])
    _require(isinstance(raw_spans, list), "must be a list", "spans")
    if "tokens" in task:
        doc = _doc_from_tokens(text, task["tokens"])
    else:
        boundaries: set[int] = set()
        for raw in [*raw_spans, *_sentence_list(task)]:
            if isinstance(raw, dict) and _is_int(raw.get("start")) and _is_int(raw.get("end")):
                boundaries.update(offset for offset in (raw["start"], raw["end"]) if 0 <= offset <= len(text))
        doc = make_doc(text, boundaries)
        doc.user_data["task_had_tokens"] = False
    spans = [_span_from_dict(doc, raw, f"spans[{index}]", labels) for index, raw in enumerate(raw_spans)]
    if spans_key is not None:
        doc.spans[spans_key] = spans
    else:
        try:
            doc.ents = spans
        except DataError as error:
            raise FormatError(f"{error} (read with a spans key to keep overlapping spans)", field="spans") from error
    if "sentences" in task:
        doc.set_sentence_starts(_sentence_starts(doc, _sentence_list(task)))
    meta = task.get("meta", {})
    _require(isinstance(meta, dict), "must be an object", "meta")
    doc.meta = dict(meta)
    extra = {key: value for key, value in task.items() if key not in _OWN_KEYS}
    if extra:
        doc.user_data[_EXTRA_KEY] = extra
    return doc


def doc_to_task(doc: Doc, *, include_tokens: bool | None = None, spans_key: str | None = None) -> dict[str, Any]:
    """Write a document as a Prodigy task; token attributes (``doc.token_attrs``) become token keys.

    Args:
        doc: The document.
        include_tokens: Write the "tokens" list. By default it is written unless the document was read from a
            task without tokens.
        spans_key: Write ``doc.spans[spans_key]`` instead of ``doc.ents``.
    """
    if include_tokens is None:
        include_tokens = doc.user_data.get("task_had_tokens", True)
    task: dict[str, Any] = {"text": doc.text}
    if include_tokens:
        token_extra: dict[int, dict[str, Any]] = doc.user_data.get(_TOKEN_EXTRA_KEY, {})
        tokens = []
        last = len(doc) - 1
        for index, (start, end) in enumerate(zip(doc.token_starts, doc.token_ends, strict=True)):
            following = doc.token_starts[index + 1] if index < last else len(doc.text)
            token = {"text": doc.text[start:end], "start": start, "end": end, "id": index, "ws": following > end}
            for name, values in doc.token_attrs.items():
                token[name] = values[index]
            token.update(token_extra.get(index, {}))
            tokens.append(token)
        task["tokens"] = tokens
    spans = doc.ents if spans_key is None else doc.spans.get(spans_key, [])
    task["spans"] = [span.to_dict() for span in spans]
    if doc.has_sentences and len(doc):
        task["sentences"] = [{"start": sentence.start_char, "end": sentence.end_char, "token_start": sentence.start,
                              "token_end": sentence.end - 1} for sentence in doc.sents]
    if doc.meta:
        task["meta"] = dict(doc.meta)
    task.update(doc.user_data.get(_EXTRA_KEY, {}))
    return task
