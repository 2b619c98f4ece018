"""``review``: several annotators' answers to one text side by side; the reviewer settles on one version.

Texts come most disagreement first (:func:`elkit.annotate.agreement.text_agreement`), each with its agreement in
``meta["agreement"]``; texts with fewer than two usable answers to compare come last, in their stored order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from elkit.annotate.agreement import text_agreement
from elkit.annotate.hashing import set_hashes
from elkit.annotate.recipes.base import SOURCE_INDEX, Recipe
from elkit.annotate.store import Store
from elkit.errors import ConfigError

__all__ = ["review"]


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

    agreements = {key: text_agreement(answers) for key, answers in groups.items()}
    order = sorted(groups, key=lambda key: (agreements[key] is None, agreements[key] or 0.0))

    def stream() -> Iterator[dict[str, Any]]:
        for index, key in enumerate(order):
            answers = groups[key]
            versions: dict[tuple[Any, ...], dict[str, Any]] = {}
            for task in answers:
                entry = versions.setdefault(_version_key(task), {
                    "answer": task.get("answer"), "spans": task.get("spans", []), "sessions": []})
                entry["sessions"].append(task.get("_session_id", ""))
            ordered = sorted(versions.values(), key=lambda version: -len(version["sessions"]))
            first = answers[0]
            task = {"text": first["text"], "tokens": first["tokens"], "spans": ordered[0]["spans"],
                    "versions": ordered, "meta": dict(first.get("meta", {})), SOURCE_INDEX: index}
            agreement = agreements[key]
            if agreement is not None:
                task["meta"]["agreement"] = round(agreement, 4)
            if "options" in first:
                task["options"] = first["options"]
            yield set_hashes(task)

    return Recipe("review", "review", dataset, tuple(label for label in labels if label), stream,
                  total=len(groups), instructions="Settle the conflicts: pick a version or edit the spans.")
