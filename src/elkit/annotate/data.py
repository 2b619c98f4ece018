"""Moving annotations in and out of the store: Prodigy JSONL (db-in / db-out) and training examples.

Answers from editing views (ner.manual, ner.correct, review, el.manual) are complete annotations of their text.
Answers from ner.teach are binary: one span, accepted or rejected. Training uses the first kind as gold documents
and, with ``binary=True``, the second kind as :class:`~elkit.doc.SpanAnswer` feedback (accepts and rejects);
without it, binary answers are left out (and counted), because an accepted span says nothing about the rest of
the text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from elkit.annotate.hashing import set_hashes
from elkit.annotate.store import ANSWERS, Store
from elkit.doc import Doc, Example, SpanAnswer
from elkit.doc.task import doc_from_task, doc_to_task
from elkit.errors import DataError, FormatError
from elkit.io.lines import parse_lines
from elkit.tokenize import Tokenizer

__all__ = ["AnnotationData", "export_answers", "import_answers", "load_examples", "read_answers_file", "split_dev"]

BINARY_VIEWS = frozenset({"binary", "ner"})


def _prodigy_session(dataset: str, session: str) -> str | None:
    return f"{dataset}-{session}" if session else None


def _elkit_session(dataset: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    prefix = f"{dataset}-"
    return value[len(prefix):] if value.startswith(prefix) else value


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
            task["tokens"] = doc_to_task(doc, include_tokens=True)["tokens"]
            task["spans"] = [_with_tokens(span, doc) for span in task.get("spans", [])]
        for key in ("_input_hash", "_task_hash"):
            if key in task and (not isinstance(task[key], int) or isinstance(task[key], bool)):
                raise FormatError(f"must be an integer, got {task[key]!r}", field=key)
        return set_hashes(task)

    return list(parse_lines(path, parse))


def _with_tokens(span: dict[str, Any], doc: Doc) -> dict[str, Any]:
    located = doc.char_span(span["start"], span["end"])
    return {**span, "token_start": located.start, "token_end": located.end - 1}


def import_answers(store: Store, dataset: str, tasks: Sequence[dict[str, Any]]) -> int:
    """Store checked tasks in one transaction, each under its own session (``_session_id``); returns new count."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_session.setdefault(_elkit_session(dataset, task.get("_session_id")), []).append(task)
    store.add_dataset(dataset)
    new = 0
    for session, group in by_session.items():
        new += store.add_answers(dataset, [{k: v for k, v in task.items() if k != "_session_id"} for task in group],
                                 session_id=session)
    return new


def export_answers(store: Store, dataset: str, output: TextIO, *, answer: str | None = None) -> int:
    """Write a dataset as Prodigy JSONL (``_session_id`` as ``dataset-session``); returns the count."""
    count = 0
    for task in store.iter_answers(dataset):
        if answer is not None and task.get("answer") != answer:
            continue
        task["_session_id"] = _prodigy_session(dataset, task.get("_session_id", ""))
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
    answers: dict[int, tuple[dict[str, Any], list[SpanAnswer]]] = {}
    data = AnnotationData()
    for name in datasets:
        for task in store.iter_answers(name):
            view = task.get("_view_id", "")
            if task.get("answer") == "ignore":
                data.skip("ignored")
            elif view in BINARY_VIEWS:
                if not binary:
                    data.skip("binary answers (train with --binary to use them)")
                    continue
                entry = answers.setdefault(task["_input_hash"], (task, []))
                for span in task.get("spans", []):
                    entry[1].append(SpanAnswer(span["token_start"], span["token_end"] + 1, span["label"],
                                               task["answer"] == "accept"))
            elif task.get("answer") == "accept":
                manual[task["_input_hash"]] = task
            else:
                data.skip("rejected manual answers")
    for key, task in manual.items():
        if key not in answers:
            data.complete.append(_doc(task))
    for key, (task, found) in answers.items():
        reference = _doc(manual[key]) if key in manual else _doc({**task, "spans": []})
        data.partial.append(Example(reference, complete=key in manual, answers=tuple(found)))
    return data


def split_dev(docs: Sequence[Doc], fraction: float, seed: int = 0) -> tuple[list[Doc], list[Doc]]:
    """Hold out a share of the gold documents for evaluation (at least one when there are two or more)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"the evaluation split must be between 0 and 1, got {fraction}")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    size = max(1, round(len(docs) * fraction)) if len(docs) > 1 else 0
    held = set(order[:size])
    return [doc for index, doc in enumerate(docs) if index not in held], [docs[index] for index in sorted(held)]

