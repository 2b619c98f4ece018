"""What every recipe shares: the `Recipe` record the server serves, and how tasks, labels and patterns are made."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elkit.annotate.hashing import set_hashes
from elkit.doc import Doc
from elkit.doc.task import doc_to_task
from elkit.errors import ConfigError

__all__ = ["SOURCE_INDEX", "Recipe", "check_labels", "check_model_labels", "labels_of", "make_task", "pattern_ruler"]

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


def make_task(doc: Doc, index: int, spans: Iterable[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A hashed task for the ``index``-th source document: text, tokens, ``spans`` (else its entities), ``extra``."""
    task = doc_to_task(doc, include_tokens=True)
    if spans is not None:
        task["spans"] = list(spans)
    task.update(extra)
    task[SOURCE_INDEX] = index
    return set_hashes(task)


def labels_of(nlp: Any) -> tuple[str, ...]:
    """The labels of a pipeline's first trainable component that has labels."""
    for _, component in nlp.components:
        labels = getattr(component, "labels", None)
        if labels and hasattr(component, "update"):
            return tuple(labels)
    return ()


def pattern_ruler(patterns: str | Path) -> Any:
    """An entity ruler loaded from a patterns.jsonl."""
    from elkit.ner import EntityRuler

    return EntityRuler().from_jsonl(patterns)


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Labels stripped, without blanks and repeats.

    Raises:
        ConfigError: A label is over 100 characters or not printable.
    """
    cleaned = tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))
    for label in cleaned:
        if len(label) > 100 or not label.isprintable():
            raise ConfigError(f"label {label!r} must be printable and at most 100 characters")
    return cleaned


def check_model_labels(nlp: Any, labels: Sequence[str]) -> tuple[str, ...]:
    """The labels to ask about: ``labels`` when given, else all the model's.

    Raises:
        ConfigError: The model does not predict one of ``labels``.
    """
    known = labels_of(nlp)
    wanted = check_labels(labels) or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ConfigError(f"the model does not predict {', '.join(unknown)} (it knows {', '.join(known)})")
    return wanted
