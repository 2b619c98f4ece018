"""Input and task hashes, as Prodigy uses them to tell examples apart.

The input hash identifies the text; the task hash identifies the question asked about it (the text plus the
suggested spans, label and options). Both are signed 32-bit integers, so they fit Prodigy's ``_input_hash`` and
``_task_hash`` fields and move between the two tools unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["input_hash", "set_hashes", "task_hash"]

_INPUT_KEYS = ("text",)
_TASK_KEYS = ("spans", "label", "options")
_SPAN_KEYS = ("start", "end", "label", "kb_id")


def _digest(value: Any) -> int:
    encoded = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=4).digest(), "big", signed=True)


def input_hash(task: Mapping[str, Any]) -> int:
    """The hash of a task's input (its text)."""
    return _digest({key: task.get(key) for key in _INPUT_KEYS})


def _question(task: Mapping[str, Any]) -> dict[str, Any]:
    question: dict[str, Any] = {}
    for key in _TASK_KEYS:
        if key not in task:
            continue
        value = task[key]
        if key == "spans":
            value = [{name: span.get(name) for name in _SPAN_KEYS if name in span} for span in value]
        elif key == "options":
            value = [option.get("id") for option in value]
        question[key] = value
    return question


def task_hash(task: Mapping[str, Any], input_hash_value: int | None = None) -> int:
    """The hash of the question: the input hash plus the suggested spans, label and option ids."""
    base = input_hash(task) if input_hash_value is None else input_hash_value
    return _digest([base, _question(task)])


def set_hashes(task: dict[str, Any], *, overwrite: bool = False) -> dict[str, Any]:
    """Add ``_input_hash`` and ``_task_hash`` to a task (in place) unless it has them; returns the task."""
    if overwrite or "_input_hash" not in task:
        task["_input_hash"] = input_hash(task)
    if overwrite or "_task_hash" not in task:
        task["_task_hash"] = task_hash(task, task["_input_hash"])
    return task
