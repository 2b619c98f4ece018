"""The model in the loop of ``ner.teach``: uncertain suggestions first, gentle updates from each batch of answers."""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from elkit.doc import Doc, Example
from elkit.doc.task import doc_from_task
from elkit.errors import ConfigError
from elkit.tokenize import Tokenizer

__all__ = ["Teacher", "prefer_uncertain", "teach_examples"]


def ner_of(nlp: Any) -> Any:
    """The pipeline's trainable entity recognizer.

    Raises:
        ConfigError: It has none.
    """
    from elkit.ner import SpanNER

    for _, component in nlp.components:
        if isinstance(component, SpanNER):
            return component
    raise ConfigError("the model has no trainable entity recognizer (elkit.SpanNER.v1)")


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


class Teacher:
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
        self.ner = ner_of(nlp)
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
        """(probability, span) suggestions for one text: spans of the wanted labels, at most ``per_text``."""
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
        """Learn from a batch of stored answers (with replay, and rehearsal when on)."""
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
