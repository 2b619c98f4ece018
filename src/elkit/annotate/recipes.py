"""Annotation recipes: what a session shows, in which order, and what the model learns from the answers.

A recipe turns a source file (and a model, patterns or a KB) into a stream of tasks in the Prodigy format:
``{"text", "tokens", "spans", "meta", "_input_hash", "_task_hash"}`` plus what its view needs ("options" for
entity choices, "versions" for review). The server serves the stream and stores the answers; the recipe checks
them and, for ``ner.teach``, updates the model.

Views:
    spans: edit spans over the tokens (ner.manual, ner.correct).
    binary: accept or reject one suggested span (ner.teach).
    choice: choose the KB entity of one mention, or NIL (el.manual).
    review: pick or edit one of several annotators' versions (review).
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elkit.annotate.hashing import set_hashes
from elkit.annotate.store import Store
from elkit.corpora.jsonl import read_jsonl
from elkit.corpora.texts import read_texts
from elkit.doc import NIL, Doc, Example
from elkit.doc.task import doc_from_task, doc_to_task
from elkit.errors import ConfigError, DataError
from elkit.tokenize import Tokenizer

__all__ = ["Recipe", "el_manual", "ner_correct", "ner_manual", "ner_teach", "prefer_uncertain", "review"]

RECIPES = ("ner.manual", "ner.correct", "ner.teach", "el.manual", "review")
SOURCE_INDEX = "_source_index"


@dataclass
class Recipe:
    """A configured recipe, ready to be served.

    Attributes:
        name: The recipe's name ("ner.manual", ...).
        view: How the front end shows a task: "spans", "binary", "choice" or "review".
        dataset: Where answers are stored.
        labels: The labels an answer may use.
        stream: Makes a fresh iterator over the tasks, in order (called once per session, and after restarts).
        total: How many source texts there are (for the progress bar), when known.
        update: Called with each batch of stored answers (ner.teach updates its model here).
        kb: The knowledge base, for entity search and checking chosen ids (el.manual).
        instructions: One line shown above the task.
    """

    name: str
    view: str
    dataset: str
    labels: tuple[str, ...]
    stream: Callable[[], Iterator[dict[str, Any]]]
    total: int | None = None
    update: Callable[[list[dict[str, Any]]], None] | None = None
    kb: Any = None
    instructions: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


# --- sources ---------------------------------------------------------------------------------------------------


def _is_jsonl(path: Path) -> bool:
    if path.suffix.lower() in (".jsonl", ".json"):
        return True
    with open(path, "rb") as stream:
        head = stream.read(64).lstrip()
    return head.startswith(b"{")


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


def _task(doc: Doc, index: int, spans: Iterable[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    task = doc_to_task(doc, include_tokens=True)
    if spans is not None:
        task["spans"] = list(spans)
    task.update(extra)
    task[SOURCE_INDEX] = index
    return set_hashes(task)


def _labels_of(nlp: Any) -> tuple[str, ...]:
    for _, component in nlp.components:
        labels = getattr(component, "labels", None)
        if labels and hasattr(component, "update"):
            return tuple(labels)
    return ()


def _ner_of(nlp: Any) -> Any:
    from elkit.ner import SpanNER

    for _, component in nlp.components:
        if isinstance(component, SpanNER):
            return component
    raise ConfigError("the model has no trainable entity recognizer (elkit.SpanNER.v1)")


def _ruler(patterns: str | Path) -> Any:
    from elkit.ner import EntityRuler

    return EntityRuler().from_jsonl(patterns)


def _check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))
    for label in cleaned:
        if len(label) > 100 or not label.isprintable():
            raise ConfigError(f"label {label!r} must be printable and at most 100 characters")
    return cleaned


# --- ner.manual and ner.correct ----------------------------------------------------------------------------------


def ner_manual(dataset: str, source: str | Path, labels: Sequence[str], *, patterns: str | Path | None = None,
               tokenizer: Tokenizer | None = None) -> Recipe:
    """Highlight entity spans by hand; spans snap to tokens, and ``patterns`` pre-highlight their matches.

    Raises:
        ConfigError: No labels.
        FormatError: A bad source line or a source span with an unknown label.
    """
    tokenizer = tokenizer or Tokenizer()
    ruler = _ruler(patterns) if patterns is not None else None
    labels = _check_labels(list(labels) + (list(ruler.labels) if ruler is not None else []))
    if not labels:
        raise ConfigError("ner.manual needs at least one --label (or patterns that name labels)")
    total = check_source(source, tokenizer, labels)

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer, labels)):
            if ruler is not None:
                ruler(doc)
            yield _task(doc, index)

    return Recipe("ner.manual", "spans", dataset, labels, stream, total=total,
                  instructions="Select the entities: drag over the words, then pick the label.")


def ner_correct(dataset: str, source: str | Path, model: str | Path, labels: Sequence[str] = (), *,
                nlp: Any = None) -> Recipe:
    """The model's entities pre-highlighted for the annotator to fix (only ``labels`` when given)."""
    from elkit.packaging import load

    nlp = nlp if nlp is not None else load(model)
    known = _labels_of(nlp)
    wanted = _check_labels(labels) or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ConfigError(f"the model does not predict {', '.join(unknown)} (it knows {', '.join(known)})")
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            doc.ents = []
            predicted = nlp(doc)
            spans = [span.to_dict() for span in predicted.ents if span.label in wanted]
            yield _task(predicted, index, spans)

    return Recipe("ner.correct", "spans", dataset, wanted, stream, total=total,
                  instructions="Correct the model's entities: remove wrong ones, add missed ones.")


# --- ner.teach ---------------------------------------------------------------------------------------------------


def prefer_uncertain(scored: Iterable[tuple[float, dict[str, Any]]], *, bias: float = 0.0,
                     decay: float = 0.9) -> Iterator[dict[str, Any]]:
    """Keep the tasks the model is least sure about, judged against a moving average of what it has seen.

    A task's uncertainty is ``1 - |2p - 1|`` (1 at p = 0.5). An exponential moving average (and variance) of the
    uncertainties tracks the stream; a task is emitted when its uncertainty is at least the average plus
    ``bias`` standard deviations, so the sorter adapts as the model (and so its scores) change.

    Args:
        scored: (probability, task) pairs.
        bias: Positive values are pickier, negative ones let more through.
        decay: Weight of the past in the moving average.
    """
    mean: float | None = None
    variance = 0.0
    for probability, task in scored:
        uncertainty = 1.0 - abs(2.0 * probability - 1.0)
        if mean is None:
            mean = uncertainty
        deviation = uncertainty - mean
        if uncertainty >= mean + bias * math.sqrt(variance):
            yield task
        mean += (1.0 - decay) * deviation
        variance = decay * (variance + (1.0 - decay) * deviation * deviation)


def teach_examples(tasks: Iterable[dict[str, Any]]) -> list[Example]:
    """Binary examples from ner.teach answers (ignored ones are left out); answers on one text are merged."""
    from elkit.doc.example import SpanAnswer

    grouped: dict[int, tuple[Doc, list[SpanAnswer]]] = {}
    for task in tasks:
        if task.get("answer") not in ("accept", "reject"):
            continue
        key = task["_input_hash"]
        if key not in grouped:
            doc = doc_from_task({"text": task["text"], "tokens": task["tokens"]}, Tokenizer())
            grouped[key] = (doc, [])
        for span in task.get("spans", []):
            grouped[key][1].append(SpanAnswer(span["token_start"], span["token_end"] + 1, span["label"],
                                              task["answer"] == "accept"))
    return [Example(doc, complete=False, answers=tuple(answers)) for doc, answers in grouped.values() if answers]


class _Teacher:
    """The model in the loop: suggestions from its current state, updates from each batch of answers.

    Each batch of answers is one small step, so the update is built to be gentle and to use every answer more
    than once: its own AdamW at ``learning_rate_scale`` times the model's learning rates, no dropout, the new
    answers together with up to ``replay`` earlier ones (sampled from the last ``memory``), and, with
    ``rehearse``, a step towards the starting model's predictions on up to ``rehearse_texts`` texts the stream
    has read (not the answered ones: rehearsing those would pull the answered spans back).
    """

    def __init__(self, nlp: Any, labels: tuple[str, ...], *, min_probability: float, per_text: int,
                 rehearse: bool, learning_rate_scale: float = 0.05, replay: int = 100, rehearse_texts: int = 16,
                 memory: int = 1000, seed: int = 0) -> None:
        import torch

        self.nlp = nlp
        self.ner = _ner_of(nlp)
        self.labels = labels
        self.min_probability = min_probability
        self.per_text = per_text
        self.rehearse = rehearse
        self.replay = replay
        self.rehearse_texts = rehearse_texts
        self.lock = threading.Lock()
        groups = [{"params": group["params"], "lr": group["lr"] * learning_rate_scale}
                  for group in self.ner.make_optimizer().param_groups]
        self.optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        if rehearse:
            self.ner.begin_rehearsal()
        self.answered: deque[Example] = deque(maxlen=memory)
        self.read: deque[Doc] = deque(maxlen=memory)
        self.random = random.Random(seed)
        self.updates = 0
        self.losses: dict[str, float] = {}

    def suggestions(self, doc: Doc) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            scores = self.ner.predict([doc])[0]
            self.read.append(doc)
        found = []
        for start, end, label, probability in scores.spans(self.min_probability):
            if label in self.labels:
                span = doc.span(start, end, label, score=probability)
                found.append((probability, span.to_dict()))
            if len(found) >= self.per_text:
                break
        return found

    def update(self, answers: list[dict[str, Any]]) -> None:
        examples = teach_examples(answers)
        if not examples:
            return
        with self.lock:
            earlier = list(self.answered)
            batch = examples + self.random.sample(earlier, min(self.replay, len(earlier)))
            self.ner.update(batch, drop=0.0, sgd=self.optimizer, losses=self.losses)
            if self.rehearse:
                read = list(self.read)
                texts = self.random.sample(read, min(self.rehearse_texts, len(read))) if read else \
                    [example.reference for example in examples]
                self.ner.rehearse(texts, drop=0.0, sgd=self.optimizer, losses=self.losses)
            self.answered.extend(examples)
            self.updates += 1


def ner_teach(dataset: str, source: str | Path, model: str | Path, labels: Sequence[str] = (), *,
              patterns: str | Path | None = None, nlp: Any = None, min_probability: float = 0.05,
              per_text: int = 8, bias: float = 0.0, rehearse: bool = True, sort: bool = True,
              learning_rate_scale: float = 0.05, replay: int = 100) -> Recipe:
    """Accept or reject one suggested span at a time; the model learns from every batch of answers.

    Suggestions come from the model (every span and label it gives at least ``min_probability``) and from
    ``patterns``; the most uncertain ones are kept by :func:`prefer_uncertain`.

    Args:
        dataset: Where answers go.
        source: Texts.
        model: A trained pipeline with an entity recognizer.
        labels: Labels to ask about (default: all of the model's).
        patterns: Pattern matches are suggested too (label from the pattern).
        nlp: An already loaded pipeline (instead of loading ``model``).
        min_probability: Spans below this are not suggested.
        per_text: At most this many model suggestions per text.
        bias: The uncertainty sorter's bias (see :func:`prefer_uncertain`).
        rehearse: Rehearse the starting model's predictions on texts read from the stream against forgetting.
        sort: Keep only uncertain suggestions (False: every suggestion, in text order).
        learning_rate_scale: The updates' learning rates are the model's own times this (answers come in
            batches of a few spans, so full training rates would wreck the model).
        replay: Each update also learns again from up to this many earlier answers.
    """
    from elkit.packaging import load

    nlp = nlp if nlp is not None else load(model)
    known = _labels_of(nlp)
    wanted = _check_labels(labels) or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ConfigError(f"the model does not predict {', '.join(unknown)} (it knows {', '.join(known)})")
    teacher = _Teacher(nlp, wanted, min_probability=min_probability, per_text=per_text, rehearse=rehearse,
                       learning_rate_scale=learning_rate_scale, replay=replay)
    ruler = _ruler(patterns) if patterns is not None else None
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)

    def scored() -> Iterator[tuple[float, dict[str, Any]]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            doc.ents = []
            suggestions = teacher.suggestions(doc)
            seen = {(span["start"], span["end"], span["label"]) for _, span in suggestions}
            if ruler is not None:
                matched = ruler(doc.copy())
                for span in matched.ents:
                    key = (span.start_char, span.end_char, span.label)
                    if key not in seen:
                        suggestions.append((0.5, {**span.to_dict(), "pattern": True}))
                        seen.add(key)
            for probability, span in suggestions:
                yield probability, _task(doc, index, [span], meta={**doc.meta, "score": round(probability, 4)})

    def stream() -> Iterator[dict[str, Any]]:
        if sort:
            return prefer_uncertain(scored(), bias=bias)
        return (task for _, task in scored())

    recipe = Recipe("ner.teach", "binary", dataset, wanted, stream, total=total, update=teacher.update,
                    instructions="Is the highlighted span an entity of this label? Accept (a), reject (x) or "
                                 "skip (space).")
    recipe.stats["teacher"] = teacher
    return recipe


# --- el.manual ---------------------------------------------------------------------------------------------------


def entity_option(kb: Any, entity_id: str, score: float | None = None) -> dict[str, Any]:
    """How the front end shows one KB entity."""
    entity = kb.get_entity(entity_id)
    option: dict[str, Any] = {"id": entity.entity_id, "name": entity.name or entity.entity_id,
                              "description": entity.description, "type": ", ".join(entity.types)}
    if score is not None:
        option["score"] = round(float(score), 4)
    return option


def _linking_pipeline(kb: str | Path | None, model: str | Path | None, cache_dir: str | Path | None) -> Any:
    from elkit.linking import EntityLinker
    from elkit.linking.builder import create_simple
    from elkit.packaging import load

    if model is not None:
        nlp = load(model)
        if any(isinstance(component, EntityLinker) for _, component in nlp.components):
            if kb is not None:
                for _, component in nlp.components:
                    if isinstance(component, EntityLinker):
                        component.set_kb(kb)
            return nlp
        if kb is None:
            raise ConfigError(f"{model}: the model has no entity linker, so el.manual needs --kb")
    if kb is None:
        raise ConfigError("el.manual needs --kb (a KB folder or an entities.jsonl) or a --model with a linker")
    kb_path = Path(kb)
    if kb_path.is_file():
        return create_simple(kb_path, ner_model=model, cache_dir=cache_dir, show_progress=True)
    return create_simple(kb=kb_path, ner_model=model, cache_dir=cache_dir, show_progress=True)


def el_manual(dataset: str, source: str | Path, *, kb: str | Path | None = None, model: str | Path | None = None,
              patterns: str | Path | None = None, top_k: int = 10, cache_dir: str | Path | None = None,
              nlp: Any = None) -> Recipe:
    """Choose the KB entity (or NIL) of each mention, from scored candidates or by searching the KB.

    Mentions come from the source's spans when it has them, else from ``patterns``, else from the model (an NER
    model, or KB alias patterns when there is none). Candidates and scores come from the entity linker.
    """
    from elkit.linking import EntityLinker

    nlp = nlp if nlp is not None else _linking_pipeline(kb, model, cache_dir)
    linker = next((component for _, component in nlp.components if isinstance(component, EntityLinker)), None)
    if linker is None:
        raise ConfigError("el.manual needs a pipeline with an entity linker")
    knowledge = linker.kb
    ruler = _ruler(patterns) if patterns is not None else None
    tokenizer = nlp.tokenizer
    total = check_source(source, tokenizer)
    stats = {"mentions": 0}

    def stream() -> Iterator[dict[str, Any]]:
        for index, doc in enumerate(read_source(source, tokenizer)):
            if doc.ents:
                found = linker(doc)
            elif ruler is not None:
                found = linker(ruler(doc))
            else:
                found = nlp(doc)
            for span in found.ents:
                options = [entity_option(knowledge, candidate.entity_id, candidate.score)
                           for candidate in span.candidates[:top_k] if candidate.entity_id in knowledge]
                options.append({"id": NIL, "name": "None of these (NIL)", "description": "", "type": ""})
                mention = {key: value for key, value in span.to_dict().items()
                           if key in ("start", "end", "token_start", "token_end", "label")}
                suggestion = span.kb_id if span.kb_id and span.kb_id != NIL else None
                yield _task(found, index, [mention], options=options,
                            meta={**found.meta, "suggested": suggestion} if suggestion else dict(found.meta))

    return Recipe("el.manual", "choice", dataset, (), stream, total=total, kb=knowledge, stats=stats,
                  instructions="Which entity does the highlighted mention refer to? Pick one, search, or NIL.")


# --- review ------------------------------------------------------------------------------------------------------


def _version_key(task: dict[str, Any]) -> tuple[Any, ...]:
    spans = tuple(sorted((span["start"], span["end"], span.get("label", ""), span.get("kb_id", ""))
                         for span in task.get("spans", [])))
    return task.get("answer"), spans, tuple(task.get("accept", []))


def review(dataset: str, inputs: Sequence[str], store: Store) -> Recipe:
    """Several annotators' answers to the same text side by side; the reviewer settles on one version.

    Args:
        dataset: Where the reviewed answers go.
        inputs: Datasets with the answers to review.
        store: The store holding them.
    """
    if not inputs:
        raise ConfigError("review needs at least one input dataset")
    for name in inputs:
        if name not in store:
            raise ConfigError(f"review: no dataset {name!r} (datasets: {', '.join(store.datasets()) or 'none'})")
    labels: dict[str, None] = {}
    groups: dict[int, list[dict[str, Any]]] = {}
    for name in inputs:
        for task in store.iter_answers(name):
            groups.setdefault(task["_input_hash"], []).append(task)
            for span in task.get("spans", []):
                labels.setdefault(span.get("label", ""), None)

    def stream() -> Iterator[dict[str, Any]]:
        for index, answers in enumerate(groups.values()):
            versions: dict[tuple[Any, ...], dict[str, Any]] = {}
            for task in answers:
                entry = versions.setdefault(_version_key(task), {
                    "answer": task.get("answer"), "spans": task.get("spans", []), "sessions": []})
                entry["sessions"].append(task.get("_session_id", ""))
            ordered = sorted(versions.values(), key=lambda version: -len(version["sessions"]))
            first = answers[0]
            task = {"text": first["text"], "tokens": first["tokens"], "spans": ordered[0]["spans"],
                    "versions": ordered, "meta": dict(first.get("meta", {})), SOURCE_INDEX: index}
            if "options" in first:
                task["options"] = first["options"]
            yield set_hashes(task)

    return Recipe("review", "review", dataset, tuple(label for label in labels if label), stream,
                  total=len(groups), instructions="Settle the conflicts: pick a version or edit the spans.")
