"""The controller: hands tasks to sessions, checks answers against what was served, stores them.

Sessions (one per annotator, ``?session=name``) each read the stream in order. With feed overlap on (the
default) every session sees every task; with it off, a task goes to one session only, and a session only ever
answers (and counts) what it was served itself. A task answered in a session is never served to it again (the
store is asked on the session's first request, so this holds across restarts); a task served but not answered is
served again first when the session asks again, and after a restart the stream starts over and skips what is
answered, so it resumes at the first unanswered task. Sessions idle for long, or beyond ``max_sessions``, are
dropped from memory (their unanswered tasks go back to the shared feed) and rebuilt from the store on return.

Answers are committed before the reply. A recipe that learns (ner.teach) learns in a background thread after
that, from a queue, so a request never waits for the model; new suggestions use the newest model there is.

Nothing the client sends is trusted: an answer names a task the server served (by task hash), and its spans
must lie on that task's token boundaries, use the recipe's labels and not overlap; a chosen entity must be one of
the offered options, NIL, or an entity the KB holds.
"""

from __future__ import annotations

import itertools
import queue
import re
import sys
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
_COUNT_REFRESH = 5.0
_ANSWER_FIELDS = ("accept", "_session_id", "_view_id", "_annotator_id", "_timestamp", "answer", SOURCE_INDEX)


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
    last_seen: float = field(default_factory=time.monotonic)


class Controller:
    """Serves a recipe's tasks to sessions and stores their answers.

    Args:
        recipe: The recipe.
        store: Where answers are committed.
        overlap: Every session sees every task (True) or each task goes to one session (False).
        batch_size: Tasks per request by default.
        max_sessions: Sessions kept in memory; the least recently seen beyond this are dropped.
        idle_seconds: Sessions not seen for this long are dropped.
    """

    def __init__(self, recipe: Recipe, store: Store, *, overlap: bool = True, batch_size: int = 10,
                 max_sessions: int = 256, idle_seconds: float = 1800.0) -> None:
        self.recipe = recipe
        self.store = store
        self.overlap = overlap
        self.batch_size = batch_size
        self.max_sessions = max(1, max_sessions)
        self.idle_seconds = idle_seconds
        self._lock = threading.RLock()
        self._sessions: OrderedDict[str, _SessionState] = OrderedDict()
        self._shared: _SessionState | None = None
        self._requeued: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._served: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._claimed: dict[int, str] = {}
        self._count = (0, -_COUNT_REFRESH)
        self.update_errors = 0
        store.add_dataset(recipe.dataset, {"recipe": recipe.name, "labels": list(recipe.labels)})
        self._updates: queue.Queue[list[dict[str, Any]] | None] | None = None
        self._learner: threading.Thread | None = None
        if recipe.update is not None:
            self._updates = queue.Queue()
            self._learner = threading.Thread(target=self._learn, name="elkit-model-updates", daemon=True)
            self._learner.start()

    # --- sessions --------------------------------------------------------------------------------------------

    def _session(self, name: str) -> _SessionState:
        now = time.monotonic()
        state = self._sessions.get(name)
        if state is None:
            self._evict(now)
            answered = self.store.answered(self.recipe.dataset, name)
            state = _SessionState(name, answered, position=self.store.furthest_position(self.recipe.dataset, name))
            self._sessions[name] = state
        self._sessions.move_to_end(name)
        state.last_seen = now
        return state

    def _evict(self, now: float) -> None:
        """Drop idle sessions, and the least recently seen beyond ``max_sessions`` (one slot is kept free)."""
        while self._sessions:
            name, oldest = next(iter(self._sessions.items()))
            if len(self._sessions) < self.max_sessions and now - oldest.last_seen < self.idle_seconds:
                break
            del self._sessions[name]
            for key, task in oldest.outstanding.items():
                if self._claimed.get(key) == name:
                    del self._claimed[key]
                    if not self.overlap:
                        self._requeued[key] = task

    @property
    def session_count(self) -> int:
        """Sessions held in memory."""
        return len(self._sessions)

    def _feed(self, state: _SessionState) -> _SessionState:
        """The state whose iterator feeds this session: its own, or the shared one without overlap."""
        if self.overlap:
            return state
        if self._shared is None:
            self._shared = _SessionState("", self.store.answered(self.recipe.dataset),
                                         position=self.store.furthest_position(self.recipe.dataset))
        return self._shared

    def _remember(self, task: dict[str, Any]) -> None:
        self._served[task["_task_hash"]] = task
        self._served.move_to_end(task["_task_hash"])
        while len(self._served) > _RECENT_LIMIT:
            self._served.popitem(last=False)

    def _next_from_feed(self, feed: _SessionState) -> dict[str, Any] | None:
        if self._requeued:
            return self._requeued.popitem(last=False)[1]
        if feed.iterator is None:
            feed.iterator = self.recipe.stream()
        task = next(feed.iterator, None)
        if task is None:
            feed.exhausted = True
        return task

    def next_tasks(self, session: str, count: int | None = None) -> list[dict[str, Any]]:
        """The next tasks for a session: its unanswered served tasks first, then new ones from the stream."""
        check_session_name(session)
        count = self.batch_size if count is None else max(1, min(count, 100))
        with self._lock:
            state = self._session(session)
            tasks = list(state.outstanding.values())[:count]
            feed = self._feed(state)
            while len(tasks) < count and ((self._requeued and not self.overlap) or not feed.exhausted):
                task = self._next_from_feed(feed)
                if task is None:
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
        task = state.outstanding.get(key)
        if task is None and key in state.answered:
            # An edit of an earlier answer: the task as served, or (after a restart) as stored.
            task = self._served.get(key) or self.store.find_answer(self.recipe.dataset, state.name, key)
        if task is None:
            raise UnknownTaskError(f"task {key} was not served to session {state.name!r}")
        return task

    def submit(self, session: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
        """Check and store a batch of answers (committed before this returns); the recipe learns afterwards.

        Returns:
            ``saved``, ``new``, ``replaced`` and ``unchanged`` counts, the stored ``answers`` (the same answer sent
            twice gets the stored one back) and the session's ``progress``.

        Raises:
            UnknownTaskError: An answer names a task not served to this session.
            AnswerError: An answer does not fit its task (offsets, labels, entity); nothing is stored.
        """
        check_session_name(session)
        with self._lock:
            state = self._session(session)
            checked = [self._check(state, answer, index) for index, answer in enumerate(answers)]
        result = self.store.save_answers(self.recipe.dataset, checked, session_id=session)
        positions = [task.get(SOURCE_INDEX, -1) for task in checked]
        with self._lock:
            state.position = max([state.position, *positions])
            feed = self._feed(state)
            feed.position = max([feed.position, *positions])
            for task in checked:
                key = task["_task_hash"]
                state.outstanding.pop(key, None)
                state.answered.add(key)
                feed.answered.add(key)
            count, when = self._count
            self._count = (count + result.new, when)
        if self._updates is not None and result.new + result.replaced:
            self._updates.put(checked)
        return {"saved": len(checked), "new": result.new, "replaced": result.replaced,
                "unchanged": result.unchanged, "answers": [_public(task) for task in result.stored],
                "progress": self.progress(session)}

    # --- learning --------------------------------------------------------------------------------------------

    def _learn(self) -> None:
        assert self._updates is not None and self.recipe.update is not None
        while True:
            batch = self._updates.get()
            try:
                if batch is None:
                    return
                self.recipe.update(batch)
            except Exception as error:  # a failed update must not stop the server
                self.update_errors += 1
                print(f"elkit annotate: the model update failed ({type(error).__name__}: {error}); the answers are "
                      "stored", file=sys.stderr, flush=True)
            finally:
                self._updates.task_done()

    def wait_for_updates(self) -> None:
        """Block until every queued model update has run (tests, and a clean shutdown)."""
        if self._updates is not None:
            self._updates.join()

    def close(self) -> None:
        """Run the queued updates, then stop the update thread."""
        if self._updates is not None and self._learner is not None:
            self._updates.put(None)
            self._learner.join()
            self._learner = None

    def _check(self, state: _SessionState, answer: dict[str, Any], index: int) -> dict[str, Any]:
        where = f"answers[{index}]"
        key = answer.get("task_hash")
        if not isinstance(key, int) or isinstance(key, bool):
            raise AnswerError(f"{where}: task_hash must be an integer")
        served = self._served_task(state, key)
        verdict = answer.get("answer")
        if verdict not in ANSWERS:
            raise AnswerError(f"{where}: answer must be one of {', '.join(ANSWERS)}, got {verdict!r}")
        result = {name: value for name, value in served.items() if name not in _ANSWER_FIELDS}
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
        if isinstance(served.get(SOURCE_INDEX), int):
            result[SOURCE_INDEX] = served[SOURCE_INDEX]  # the store keeps it beside the task, for progress
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
                entry["kb_id"] = self._check_span_entity(task, entry, kb_id, field_name)
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

    def _check_span_entity(self, task: dict[str, Any], span: dict[str, Any], entity_id: Any, where: str) -> str:
        """A link on an edited span: one the task already had on that span, or an entity the KB holds."""
        if not isinstance(entity_id, str) or not entity_id:
            raise AnswerError(f"{where}: the entity id must be a non-empty string")
        sources = [task.get("spans", []), *(version.get("spans", []) for version in task.get("versions", []))]
        known = {(item.get("start"), item.get("end"), item.get("kb_id"))
                 for source in sources for item in source if isinstance(item, dict)}
        if (span["start"], span["end"], entity_id) in known:
            return entity_id
        kb = self.recipe.kb
        if kb is not None and entity_id in kb:
            return entity_id
        raise AnswerError(f"{where}: entity {entity_id!r} was not offered on this span and is not in the KB")

    def _check_choice(self, task: dict[str, Any], accept: Any, where: str) -> str:
        if not isinstance(accept, list) or len(accept) != 1:
            raise AnswerError(f"{where}.accept must list exactly one entity id (or {NIL!r})")
        return self._check_entity(task, accept[0], f"{where}.accept[0]")

    # --- progress and history --------------------------------------------------------------------------------

    def _dataset_answers(self) -> int:
        count, when = self._count
        now = time.monotonic()
        if now - when >= _COUNT_REFRESH:  # other writers (db-in, another session's server) are picked up too
            count = self.store.count(self.recipe.dataset)
            self._count = (count, now)
        return count

    def progress(self, session: str) -> dict[str, Any]:
        """The session's answers and what is left of the source for it, and the dataset's answers."""
        with self._lock:
            state = self._session(session)
            feed = self._feed(state)
            position = max(state.position, feed.position) if not self.overlap else state.position
            exhausted = feed.exhausted and not state.outstanding and not (self._requeued and not self.overlap)
            dataset_answers = self._dataset_answers()
        total = self.recipe.total
        share = 1.0 if exhausted else (round((position + 1) / total, 4) if total and position >= 0 else 0.0)
        left = 0 if exhausted else (max(0, total - position - 1) if total else None)
        return {
            "session_answers": len(state.answered),
            "session_left": left,
            "dataset_answers": dataset_answers,
            "source_total": total,
            "progress": min(share, 1.0),
            "done": exhausted,
        }

    def history(self, session: str, limit: int = 20) -> list[dict[str, Any]]:
        """The session's latest answers, newest first (the UI lets the annotator change them)."""
        check_session_name(session)
        answers = self.store.recent_answers(self.recipe.dataset, session, limit)
        with self._lock:
            for task in reversed(answers):
                self._remember(task)
        return [_public(task) for task in answers]


def _public(task: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key != SOURCE_INDEX}
