"""The controller: hands tasks to sessions, checks answers against what was served, stores them.

Sessions (one per annotator, ``?session=name``) each read the stream in order. With feed overlap on (the
default) every session sees every task; with it off, a task goes to one session only. A task answered in a
session is never served to it again (the store is asked on the session's first request, so this holds across
restarts); a task served but not answered is served again first when the session asks again, and after a restart
the stream starts over and skips what is answered, so it resumes at the first unanswered task.

Nothing the client sends is trusted: an answer names a task the server served (by task hash), and its spans
must lie on that task's token boundaries, use the recipe's labels and not overlap; a chosen entity must be one of
the offered options, NIL, or an entity the KB holds.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from elkit.annotate.recipes.base import SOURCE_INDEX, Recipe
from elkit.annotate.store import ANSWERS, Store
from elkit.doc import NIL
from elkit.errors import DataError

__all__ = ["AnswerError", "Controller", "UnknownTaskError", "check_session_name"]

_SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
_RECENT_LIMIT = 5_000


class AnswerError(DataError):
    """An answer the client sent does not fit the task it names."""


class UnknownTaskError(AnswerError):
    """An answer names a task this server never served."""


def check_session_name(name: str) -> str:
    """Session names: 1 to 100 letters, digits, ``_ . @ -``."""
    if not isinstance(name, str) or not _SESSION_PATTERN.match(name):
        raise AnswerError(f"session name {name!r} must be 1 to 100 letters, digits or _ . @ -")
    return name


@dataclass
class _SessionState:
    name: str
    answered: set[int]
    iterator: Iterator[dict[str, Any]] | None = None
    outstanding: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)
    position: int = -1
    exhausted: bool = False


class Controller:
    """Serves a recipe's tasks to sessions and stores their answers.

    Args:
        recipe: The recipe.
        store: Where answers are committed.
        overlap: Every session sees every task (True) or each task goes to one session (False).
        batch_size: Tasks per request by default.
    """

    def __init__(self, recipe: Recipe, store: Store, *, overlap: bool = True, batch_size: int = 10) -> None:
        self.recipe = recipe
        self.store = store
        self.overlap = overlap
        self.batch_size = batch_size
        self._lock = threading.RLock()
        self._sessions: dict[str, _SessionState] = {}
        self._shared: _SessionState | None = None
        self._served: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._claimed: dict[int, str] = {}
        store.add_dataset(recipe.dataset, {"recipe": recipe.name, "labels": list(recipe.labels)})

    # --- serving ---------------------------------------------------------------------------------------------

    def _session(self, name: str) -> _SessionState:
        state = self._sessions.get(name)
        if state is None:
            answered = self.store.answered(self.recipe.dataset, None if not self.overlap else name)
            state = _SessionState(name, answered)
            self._sessions[name] = state
        return state

    def _feed(self, state: _SessionState) -> _SessionState:
        """The state whose iterator feeds this session: its own, or the shared one without overlap."""
        if self.overlap:
            return state
        if self._shared is None:
            self._shared = _SessionState("", self.store.answered(self.recipe.dataset))
        return self._shared

    def _remember(self, task: dict[str, Any]) -> None:
        self._served[task["_task_hash"]] = task
        self._served.move_to_end(task["_task_hash"])
        while len(self._served) > _RECENT_LIMIT:
            self._served.popitem(last=False)

    def next_tasks(self, session: str, count: int | None = None) -> list[dict[str, Any]]:
        """The next tasks for a session: its unanswered served tasks first, then new ones from the stream."""
        check_session_name(session)
        count = self.batch_size if count is None else max(1, min(count, 100))
        with self._lock:
            state = self._session(session)
            tasks = list(state.outstanding.values())[:count]
            feed = self._feed(state)
            if feed.iterator is None and not feed.exhausted:
                feed.iterator = self.recipe.stream()
            while len(tasks) < count and not feed.exhausted:
                assert feed.iterator is not None
                task = next(feed.iterator, None)
                if task is None:
                    feed.exhausted = True
                    break
                key = task["_task_hash"]
                if key in state.answered or key in feed.answered or key in state.outstanding:
                    continue
                if not self.overlap and self._claimed.get(key, session) != session:
                    continue
                state.outstanding[key] = task
                self._claimed[key] = session
                self._remember(task)
                tasks.append(task)
            return [_public(task) for task in tasks]

    # --- answers ---------------------------------------------------------------------------------------------

    def _served_task(self, state: _SessionState, key: int) -> dict[str, Any]:
        task = state.outstanding.get(key) or (self._served.get(key) if key in state.answered else None)
        if task is None and key in state.answered:
            # An edit of an answer from before a restart: the stored task is the reference.
            for stored in self.store.iter_answers(self.recipe.dataset, session_id=state.name):
                if stored["_task_hash"] == key:
                    task = stored
                    break
        if task is None:
            raise UnknownTaskError(f"task {key} was not served to session {state.name!r}")
        return task

    def submit(self, session: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
        """Check and store a batch of answers (committed before this returns), then let the recipe learn.

        Raises:
            UnknownTaskError: An answer names a task not served to this session.
            AnswerError: An answer does not fit its task (offsets, labels, entity); nothing is stored.
        """
        check_session_name(session)
        with self._lock:
            state = self._session(session)
            checked = [self._check(state, answer, index) for index, answer in enumerate(answers)]
            positions = [self._served_task(state, task["_task_hash"]).get(SOURCE_INDEX, -1) for task in checked]
        new = self.store.add_answers(self.recipe.dataset, checked, session_id=session)
        with self._lock:
            state.position = max([state.position, *positions])
            for task in checked:
                key = task["_task_hash"]
                state.outstanding.pop(key, None)
                state.answered.add(key)
                self._feed(state).answered.add(key)
        if self.recipe.update is not None:
            self.recipe.update(checked)
        return {"saved": len(checked), "new": new, "progress": self.progress(session)}

    def _check(self, state: _SessionState, answer: dict[str, Any], index: int) -> dict[str, Any]:
        where = f"answers[{index}]"
        key = answer.get("task_hash")
        if not isinstance(key, int) or isinstance(key, bool):
            raise AnswerError(f"{where}: task_hash must be an integer")
        served = self._served_task(state, key)
        verdict = answer.get("answer")
        if verdict not in ANSWERS:
            raise AnswerError(f"{where}: answer must be one of {', '.join(ANSWERS)}, got {verdict!r}")
        result = {name: value for name, value in served.items() if name != SOURCE_INDEX and name != "answer"}
        result["answer"] = verdict
        view = self.recipe.view
        if view in ("spans", "review") and verdict == "accept":
            result["spans"] = self._check_spans(served, answer.get("spans"), where)
        elif view == "choice" and verdict == "accept":
            chosen = self._check_choice(served, answer.get("accept"), where)
            result["accept"] = [chosen]
            result["spans"] = [{**span, "kb_id": chosen} for span in served.get("spans", [])]
        elif answer.get("spans") is not None and answer.get("spans") != served.get("spans"):
            if view in ("binary", "choice"):
                raise AnswerError(f"{where}: this view does not take edited spans")
            result["spans"] = self._check_spans(served, answer.get("spans"), where)
        result.pop("versions", None)
        result["_view_id"] = view
        result["_annotator_id"] = f"{self.recipe.dataset}-{state.name}"
        result["_timestamp"] = int(time.time())
        return result

    def _check_spans(self, task: dict[str, Any], spans: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(spans, list):
            raise AnswerError(f"{where}.spans must be a list")
        tokens = task["tokens"]
        starts = {token["start"]: token["id"] for token in tokens}
        ends = {token["end"]: token["id"] for token in tokens}
        labels = set(self.recipe.labels)
        result = []
        for position, span in enumerate(spans):
            field_name = f"{where}.spans[{position}]"
            if not isinstance(span, dict):
                raise AnswerError(f"{field_name}: must be an object")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if not all(isinstance(value, int) and not isinstance(value, bool) for value in (start, end)):
                raise AnswerError(f"{field_name}: start and end must be integers")
            if start not in starts or end not in ends or start >= end:
                raise AnswerError(f"{field_name}: [{start}, {end}) does not fall on the task's token boundaries")
            if label not in labels:
                raise AnswerError(f"{field_name}: unknown label {label!r} (labels: {', '.join(sorted(labels))})")
            entry = {"start": start, "end": end, "token_start": starts[start], "token_end": ends[end],
                     "label": label, "text": task["text"][start:end]}
            kb_id = span.get("kb_id")
            if kb_id:
                entry["kb_id"] = self._check_entity(task, kb_id, field_name)
            result.append(entry)
        result.sort(key=lambda item: (item["start"], item["end"]))
        for previous, current in itertools.pairwise(result):
            if current["start"] < previous["end"]:
                raise AnswerError(f"{where}: spans [{previous['start']}, {previous['end']}) and "
                                  f"[{current['start']}, {current['end']}) overlap")
        return result

    def _check_entity(self, task: dict[str, Any], entity_id: Any, where: str) -> str:
        if not isinstance(entity_id, str) or not entity_id:
            raise AnswerError(f"{where}: the entity id must be a non-empty string")
        offered = {option.get("id") for option in task.get("options", [])}
        if entity_id == NIL or entity_id in offered:
            return entity_id
        kb = self.recipe.kb
        if kb is not None and entity_id in kb:
            return entity_id
        if kb is None and not task.get("options"):
            return entity_id
        raise AnswerError(f"{where}: entity {entity_id!r} is not among the options and not in the KB")

    def _check_choice(self, task: dict[str, Any], accept: Any, where: str) -> str:
        if not isinstance(accept, list) or len(accept) != 1:
            raise AnswerError(f"{where}.accept must list exactly one entity id (or {NIL!r})")
        return self._check_entity(task, accept[0], f"{where}.accept[0]")

    # --- progress and history --------------------------------------------------------------------------------

    def progress(self, session: str) -> dict[str, Any]:
        """Answers so far (this session and the dataset) and the share of the source read."""
        with self._lock:
            state = self._session(session)
            feed = self._feed(state)
            position = state.position
            exhausted = feed.exhausted and not state.outstanding
        total = self.recipe.total
        share = 1.0 if exhausted else (round((position + 1) / total, 4) if total and position >= 0 else 0.0)
        return {
            "session_answers": len(state.answered),
            "dataset_answers": self.store.count(self.recipe.dataset),
            "source_total": total,
            "progress": share,
            "done": exhausted,
        }

    def history(self, session: str, limit: int = 20) -> list[dict[str, Any]]:
        """The session's latest answers, newest first (the UI lets the annotator change them)."""
        check_session_name(session)
        answers = self.store.answers(self.recipe.dataset, session_id=session)[-limit:]
        with self._lock:
            for task in answers:
                self._remember(task)
        return [_public(task) for task in reversed(answers)]


def _public(task: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key != SOURCE_INDEX}
