"""Moving annotations in and out of the store: Prodigy JSONL (db-in / db-out) and training examples.

Answers from editing views (ner.manual, ner.correct, review, el.manual) are complete annotations of their text.
Answers from ner.teach are binary: one span, accepted or rejected. Training uses the first kind as gold documents
and, with ``binary=True``, the second kind as :class:`~elkit.doc.SpanAnswer` feedback (accepts and rejects);
without it, binary answers are left out (and counted), because an accepted span says nothing about the rest of
the text.

Entity-linking answers (the "choice" view: el.manual's, or Prodigy's entity-linking choice tasks read by db-in)
link one mention each: their text's gold document has every linked mention of all of them (the latest answer per
mention wins), merged into the text's latest editing answer when there is one. Prodigy's "none of these" options
(``NIL``, ``NIL_otherLink``, ``NIL_ambiguous``, ``NEL...``) become elkit's ``NIL``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from elkit.annotate.hashing import set_hashes
from elkit.annotate.store import ANSWERS, Store
from elkit.doc import NIL, Doc, Example, Span, SpanAnswer
from elkit.doc.task import doc_from_task, doc_to_task
from elkit.errors import AlignmentError, DataError, FormatError
from elkit.io.lines import parse_lines
from elkit.tokenize import Tokenizer

__all__ = ["AnnotationData", "LinkCounts", "export_answers", "import_answers", "is_nil_option", "link_counts",
           "load_examples", "read_answers_file", "split_dev"]

BINARY_VIEWS = frozenset({"binary", "ner"})
CHOICE_VIEW = "choice"
SESSION_NAME = "_session_name"
"""Written by db-out next to Prodigy's ``_session_id`` ("dataset-session"): the session as stored, so that an
import into another dataset keeps it instead of prefixing it again."""
NIL_CHOICE = "nil_choice"
"""Where an imported answer keeps the "none of these" option it chose (``NIL_ambiguous``) when it became NIL."""

_NIL_OPTION = re.compile(r"(?:NIL|NEL)(?:[_:\-].*)?", re.IGNORECASE)


def _prodigy_session(dataset: str, session: str) -> str | None:
    return f"{dataset}-{session}" if session else None


def _elkit_session(dataset: str, task: dict[str, Any]) -> str:
    """The session an imported task is stored under.

    Its ``_session_name`` when it has one, else its ``_session_id`` without the target dataset's prefix.
    """
    name = task.get(SESSION_NAME)
    if isinstance(name, str) and name:
        return name
    value = task.get("_session_id")
    if not isinstance(value, str) or not value:
        return ""
    prefix = f"{dataset}-"
    return value[len(prefix):] if value.startswith(prefix) else value


def is_nil_option(option_id: str) -> bool:
    """Whether a choice option id means "none of these" (``NIL``, ``NIL_otherLink``, ``NIL_ambiguous``, ``NEL``)."""
    return _NIL_OPTION.fullmatch(option_id) is not None


def _is_choice(task: dict[str, Any]) -> bool:
    view = task.get("_view_id")
    return view == CHOICE_VIEW or (view is None and "options" in task)


def read_answers_file(path: str | Path, *, default_answer: str = "accept",
                      tokenizer: Tokenizer | None = None) -> list[dict[str, Any]]:
    """Read and check a JSONL file of answered tasks (Prodigy's db-out format, or plain tasks).

    Every line is checked before anything is returned: the text, tokens and span offsets must agree, and an
    answer, when present, must be accept, reject or ignore. Tasks without tokens get them.

    Raises:
        FormatError: Naming the file, line and field of the first bad record.
    """
    tokenizer = tokenizer or Tokenizer()
    if default_answer not in ANSWERS:
        raise DataError(f"the default answer must be one of {', '.join(ANSWERS)}")
    def parse(content: str, number: int) -> dict[str, Any]:
        del number
        try:
            task = json.loads(content)
        except json.JSONDecodeError as error:
            raise FormatError(f"invalid JSON: {error.msg} at column {error.colno}") from None
        doc = doc_from_task(task, tokenizer, spans_key="_check")
        answer = task.get("answer", default_answer)
        if answer not in ANSWERS:
            raise FormatError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}", field="answer")
        task["answer"] = answer
        if "tokens" not in task:
            doc = _word_tokens(task, tokenizer, doc)
            task["tokens"] = doc_to_task(doc, include_tokens=True)["tokens"]
            task["spans"] = [_with_tokens(span, doc) for span in task.get("spans", [])]
        for key in ("_input_hash", "_task_hash"):
            if key in task and (not isinstance(task[key], int) or isinstance(task[key], bool)):
                raise FormatError(f"must be an integer, got {task[key]!r}", field=key)
        for key in ("_session_id", SESSION_NAME):
            if task.get(key) is not None and not isinstance(task[key], str):
                raise FormatError(f"must be a string, got {task[key]!r}", field=key)
        choice = _is_choice(task)
        if choice:
            _check_choice(task)
        set_hashes(task)  # before the link is put on the span: the task hash names the question, not the answer
        if choice:
            _link_choice(task)
        return task

    return list(parse_lines(path, parse))


def _word_tokens(task: dict[str, Any], tokenizer: Tokenizer, forced: Doc) -> Doc:
    """The tokens of a task read without "tokens".

    The tokenizer's own tokens, or ``forced`` (tokenized to fit the span and sentence offsets) when an offset splits
    a token between punctuation ("U.S." of "U.S.-based") but never inside a word.

    Raises:
        FormatError: An offset falls inside a word (between two letters or digits), naming the span or sentence.
    """
    text = task["text"]
    plain = tokenizer(text)
    aligned = True
    for key in ("spans", "sentences"):
        for index, item in enumerate(task.get(key, [])):
            start, end = item["start"], item["end"]
            try:
                plain.char_span(start, end)
            except AlignmentError:
                aligned = False
                if _inside_word(text, start) or _inside_word(text, end):
                    raise FormatError(
                        f"offsets [{start}, {end}) ({text[start:end]!r}) are not on word boundaries (the text has no "
                        f"\"tokens\" to say otherwise); fix the offsets or give the task its tokens",
                        field=f"{key}[{index}]") from None
    return plain if aligned else forced


def _inside_word(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1].isalnum() and text[offset].isalnum()


def _check_choice(task: dict[str, Any]) -> None:
    """Check an entity-linking choice task: options with ids, one span, at most one accepted id among the options.

    Raises:
        FormatError: Bad options, not exactly one span, an accept list that is not one id among the options (or
            none in an accepted answer).
    """
    options = task.get("options")
    if not isinstance(options, list) or not options:
        raise FormatError("an entity-linking choice task needs a non-empty list of options", field="options")
    offered: list[str] = []
    for index, option in enumerate(options):
        if not isinstance(option, dict) or not isinstance(option.get("id"), str) or not option["id"].strip():
            raise FormatError('must be an object with a non-empty string "id"', field=f"options[{index}]")
        offered.append(option["id"])
    spans = task.get("spans", [])
    if len(spans) != 1:
        raise FormatError(f"an entity-linking choice task needs exactly one span (the mention it links), got "
                          f"{len(spans)}", field="spans")
    accept = task.get("accept", [])
    if not isinstance(accept, list) or not all(isinstance(item, str) for item in accept):
        raise FormatError(f"must be a list of option ids, got {accept!r}", field="accept")
    if len(accept) > 1:
        raise FormatError(f"an entity-linking answer chooses one entity, got {len(accept)}: {accept!r}",
                          field="accept")
    span = spans[0]
    if accept and accept[0] not in offered and accept[0] != span.get("kb_id"):
        # el.manual's own answers may link an entity found by searching the KB: their span carries it already
        raise FormatError(f"{accept[0]!r} is not among the options ({', '.join(offered)})", field="accept[0]")
    if task["answer"] == "accept" and not accept:
        raise FormatError("an accepted entity-linking answer must choose one option", field="accept")


def _link_choice(task: dict[str, Any]) -> None:
    """Make a checked choice task look like el.manual's answers.

    It gets ``_view_id`` "choice"; when accepted, the chosen id (NIL for a "none of these" option) goes on its span
    and in ``accept``.
    """
    task.setdefault("_view_id", CHOICE_VIEW)
    if task["answer"] != "accept":
        return
    chosen = task["accept"][0]
    kb_id = NIL if is_nil_option(chosen) else chosen
    if kb_id != chosen:
        task[NIL_CHOICE] = chosen
    task["accept"] = [kb_id]
    task["spans"] = [{**task["spans"][0], "kb_id": kb_id}]


def _with_tokens(span: dict[str, Any], doc: Doc) -> dict[str, Any]:
    located = doc.char_span(span["start"], span["end"])
    return {**span, "token_start": located.start, "token_end": located.end - 1}


def import_answers(store: Store, dataset: str, tasks: Sequence[dict[str, Any]]) -> int:
    """Store checked tasks in one transaction, each under its own session (``_session_id``); returns new count."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_session.setdefault(_elkit_session(dataset, task), []).append(task)
    store.add_dataset(dataset)
    new = 0
    for session, group in by_session.items():
        new += store.add_answers(dataset, [{key: value for key, value in task.items()
                                            if key not in ("_session_id", SESSION_NAME)} for task in group],
                                 session_id=session)
    return new


def export_answers(store: Store, dataset: str, output: TextIO, *, answer: str | None = None) -> int:
    """Write a dataset as Prodigy JSONL; returns the count.

    ``_session_id`` is Prodigy's ``dataset-session``; ``_session_name`` is the session as stored, which db-in
    takes when it is there.
    """
    count = 0
    for task in store.iter_answers(dataset):
        if answer is not None and task.get("answer") != answer:
            continue
        session = task.get("_session_id") or ""
        task["_session_id"] = _prodigy_session(dataset, session)
        task[SESSION_NAME] = session
        output.write(json.dumps(task, ensure_ascii=False) + "\n")
        count += 1
    return count


@dataclass
class AnnotationData:
    """Training material from datasets.

    Attributes:
        complete: Gold documents (latest accepted manual answer per text).
        partial: Examples with binary answers (only with ``binary=True``), with the gold entities of the same
            text when it also has a manual answer.
        skipped: Counts of answers left out, by reason.
    """

    complete: list[Doc] = field(default_factory=list)
    partial: list[Example] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count an answer left out."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def examples(self) -> list[Doc | Example]:
        """Everything to train on."""
        return [*self.complete, *self.partial]


def _doc(task: dict[str, Any]) -> Doc:
    spans = [{key: span[key] for key in ("start", "end", "label", "kb_id") if key in span}
             for span in task.get("spans", [])]
    return doc_from_task({"text": task["text"], "tokens": task["tokens"], "spans": spans,
                          "meta": task.get("meta", {})}, Tokenizer())


def load_examples(store: Store, datasets: Iterable[str], *, binary: bool = False) -> AnnotationData:
    """Turn answered tasks into training material (see the module docstring)."""
    manual: dict[int, dict[str, Any]] = {}
    linked: dict[int, tuple[dict[str, Any], dict[tuple[int, int], dict[str, Any]]]] = {}
    texts: dict[int, None] = {}  # the texts with a gold document, in the order first answered
    answers: dict[int, tuple[dict[str, Any], list[SpanAnswer]]] = {}
    data = AnnotationData()
    for name in datasets:
        for task in store.iter_answers(name):
            view = task.get("_view_id", "")
            key = task["_input_hash"]
            if task.get("answer") == "ignore":
                data.skip("ignored")
            elif view in BINARY_VIEWS:
                if not binary:
                    data.skip("binary answers (train with --binary to use them)")
                    continue
                entry = answers.setdefault(key, (task, []))
                for span in task.get("spans", []):
                    entry[1].append(SpanAnswer(span["token_start"], span["token_end"] + 1, span["label"],
                                               task["answer"] == "accept"))
            elif task.get("answer") != "accept":
                data.skip("rejected manual answers")
            elif view == CHOICE_VIEW:  # one mention linked: gathered per text, the latest answer per mention
                mentions = linked[key][1] if key in linked else {}
                linked[key] = (task, mentions)
                for span in task.get("spans", []):
                    mentions[(span["start"], span["end"])] = span
                texts.setdefault(key)
            else:
                manual[key] = task
                texts.setdefault(key)
    gold = {key: _gold_doc(manual.get(key), linked.get(key), data) for key in texts}
    data.complete.extend(doc for key, doc in gold.items() if key not in answers)
    for key, (task, found) in answers.items():
        reference = gold[key] if key in gold else _doc({**task, "spans": []})
        data.partial.append(Example(reference, complete=key in gold, answers=tuple(found)))
    return data


def _gold_doc(manual: dict[str, Any] | None,
              linked: tuple[dict[str, Any], dict[tuple[int, int], dict[str, Any]]] | None,
              data: AnnotationData) -> Doc:
    """A text's gold document: its latest editing answer's spans (if any) with every linked mention put on them."""
    if linked is None:
        assert manual is not None
        return _doc(manual)
    last_choice, mentions = linked
    doc = _doc(manual if manual is not None else {**last_choice, "spans": []})
    spans = list(doc.ents)
    for (start, end), raw in sorted(mentions.items()):
        kb_id = raw.get("kb_id") or ""
        same = [index for index, span in enumerate(spans) if (span.start_char, span.end_char) == (start, end)]
        if same:
            spans[same[0]] = spans[same[0]].replace(kb_id=kb_id or spans[same[0]].kb_id)
        elif any(span.start_char < end and start < span.end_char for span in spans):
            data.skip("entity links of mentions that overlap another span of their text")
        else:
            try:
                spans.append(doc.char_span(start, end, raw.get("label", ""), kb_id))
            except AlignmentError:
                data.skip("entity links off the token boundaries of their text's editing answer")
    doc.ents = sorted(spans, key=lambda span: span.start)
    return doc


@dataclass
class LinkCounts:
    """The entity links of a dataset's gold documents (as `load_examples` builds them).

    Attributes:
        mentions: Mentions with a link (an entity id or NIL).
        entities: Distinct entity ids linked (NIL not counted).
        nil: Mentions linked to NIL.
        unlinked: Other mentions (entities without a link).
    """

    mentions: int = 0
    entities: int = 0
    nil: int = 0
    unlinked: int = 0

    @property
    def nil_share(self) -> float:
        """The share of linked mentions that are NIL (0 without links)."""
        return self.nil / self.mentions if self.mentions else 0.0


def link_counts(store: Store, dataset: str) -> LinkCounts:
    """Count the linked mentions, distinct entities and NIL links of a dataset's accepted answers."""
    data = load_examples(store, [dataset], binary=True)
    docs = [*data.complete, *(example.reference for example in data.partial if example.complete)]
    spans: list[Span] = [span for doc in docs for span in doc.ents]
    ids = [span.kb_id for span in spans if span.kb_id]
    return LinkCounts(mentions=len(ids), entities=len({entity for entity in ids if entity != NIL}),
                      nil=ids.count(NIL), unlinked=len(spans) - len(ids))


def split_dev(docs: Sequence[Doc], fraction: float, seed: int = 0) -> tuple[list[Doc], list[Doc]]:
    """Hold out a share of the gold documents for evaluation (at least one when there are two or more)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"the evaluation split must be between 0 and 1, got {fraction}")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    size = max(1, round(len(docs) * fraction)) if len(docs) > 1 else 0
    held = set(order[:size])
    return [doc for index, doc in enumerate(docs) if index not in held], [docs[index] for index in sorted(held)]

