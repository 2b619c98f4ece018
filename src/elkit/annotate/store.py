"""The answer store: datasets of annotated examples in a SQL database (SQLAlchemy).

SQLite is the default (``$ELKIT_HOME/elkit.db``, or ``~/.elkit/elkit.db``), opened in WAL mode with full
synchronous commits, so an answer the server has acknowledged survives a killed process. Any SQLAlchemy URL
works too, PostgreSQL included (``postgresql+psycopg://user@host/db``).

An example is one answered task. It is unique per (dataset, task hash, session). Saving is idempotent: the same
answer again (a retry, a second tab, two requests at once) leaves the one stored row as it is and hands it back;
a different answer to the same task in the same session replaces it (the later wins) and the replaced version is
kept in the ``answer_audit`` table. Concurrent writers that race on the unique key are retried, never answered
with an error.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from elkit.annotate.hashing import set_hashes
from elkit.annotate.schema import (
    NAME_LIMIT,
    AnswerAudit,
    Base,
    Dataset,
    DatasetLockRow,
    Example,
    migrate,
    now,
    row_task,
    sqlite_pragmas,
)
from elkit.errors import DataError, StoreError

__all__ = ["ANSWERS", "SOURCE_INDEX", "SaveResult", "Store", "default_database_url"]

ANSWERS = ("accept", "reject", "ignore")
SOURCE_INDEX = "_source_index"
_RETRIES = 5
_VOLATILE = frozenset({"_timestamp", SOURCE_INDEX})


def default_database_url() -> str:
    """``$ELKIT_DATABASE`` when set, else SQLite in ``$ELKIT_HOME/elkit.db`` (or ``~/.elkit/elkit.db``)."""
    url = os.environ.get("ELKIT_DATABASE")
    if url:
        return url
    home = os.environ.get("ELKIT_HOME")
    folder = Path(home) if home else Path.home() / ".elkit"
    return f"sqlite:///{folder / 'elkit.db'}"


@dataclass
class SaveResult:
    """What one call of :meth:`Store.save_answers` did.

    Attributes:
        new: Tasks answered for the first time in their session.
        replaced: Earlier answers a different answer replaced (the earlier ones are in the audit table).
        unchanged: The same answer again: nothing was written.
        stored: The stored answers, in the order given (as :meth:`Store.iter_answers` returns them).
    """

    new: int = 0
    replaced: int = 0
    unchanged: int = 0
    stored: list[dict[str, Any]] = field(default_factory=list)


def _signature(task: Mapping[str, Any]) -> str:
    """What makes two answers the same answer (everything but the time it was given)."""
    return json.dumps({key: value for key, value in task.items() if key not in _VOLATILE}, sort_keys=True,
                      ensure_ascii=False, default=str)


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset or session name: 1 to 200 printable characters without surrounding blanks."""
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > NAME_LIMIT:
        raise DataError(f"{what} name {name!r} must be 1 to {NAME_LIMIT} characters without surrounding blanks")
    if not name.isprintable():
        raise DataError(f"{what} name {name!r} has control characters")
    return name


class Store:
    """Datasets of answered tasks in a SQL database.

    Args:
        url: A SQLAlchemy URL or a path to a SQLite file; None uses :func:`default_database_url`.

    Raises:
        StoreError: The database cannot be opened or created.
    """

    def __init__(self, url: str | Path | None = None) -> None:
        if url is None:
            url = default_database_url()
        text = str(url)
        if "://" not in text:
            text = f"sqlite:///{Path(text).expanduser().resolve()}"
        self.url = text
        self._is_sqlite = text.startswith("sqlite")
        try:
            if self._is_sqlite and text.startswith("sqlite:///") and text != "sqlite:///:memory:":
                Path(text.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                text,
                connect_args={"check_same_thread": False, "timeout": 30} if self._is_sqlite else {},
                pool_pre_ping=not self._is_sqlite,
            )
            if self._is_sqlite:
                event.listen(self.engine, "connect", sqlite_pragmas)
            Base.metadata.create_all(self.engine)
            migrate(self.engine)
        except (SQLAlchemyError, OSError) as error:
            raise StoreError(f"cannot open the database {self._display_url()}: {error}") from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time; serialising writes in the process avoids "database is locked".
        self._write_lock = threading.Lock() if self._is_sqlite else _NoLock()
        self._dataset_ids: dict[str, int] = {}

    def _display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else self.url

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return self._display_url()

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self._is_sqlite

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A database session that holds the process's write lock (SQLite takes one writer at a time)."""
        with self._write_lock, self._sessions() as session:
            yield session

    def commit(self, session: Session) -> None:
        """Commit, or roll back and raise :class:`StoreError`."""
        self._commit(session)

    def dataset_id(self, name: str) -> int:
        """The database id of a dataset (cached).

        Raises:
            StoreError: There is no such dataset.
        """
        cached = self._dataset_ids.get(name)
        if cached is None:
            with self._sessions() as session:
                cached = self._require_dataset(session, name).id
            self._dataset_ids[name] = cached
        return cached

    def __repr__(self) -> str:
        return f"Store({self._display_url()!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # --- datasets --------------------------------------------------------------------------------------------

    def _dataset(self, session: Session, name: str) -> Dataset | None:
        return session.scalars(select(Dataset).where(Dataset.name == name)).first()

    def _require_dataset(self, session: Session, name: str) -> Dataset:
        dataset = self._dataset(session, name)
        if dataset is None:
            known = ", ".join(self.datasets()) or "none"
            raise StoreError(f"no dataset {name!r} in {self._display_url()} (datasets: {known})")
        return dataset

    def datasets(self) -> list[str]:
        """Dataset names, in order of creation."""
        with self._sessions() as session:
            return list(session.scalars(select(Dataset.name).order_by(Dataset.id)))

    def __contains__(self, name: object) -> bool:
        with self._sessions() as session:
            return isinstance(name, str) and self._dataset(session, name) is not None

    def add_dataset(self, name: str, meta: Mapping[str, Any] | None = None) -> None:
        """Create a dataset unless it exists (the meta of an existing one is kept)."""
        check_name(name)
        with self._write_lock, self._sessions() as session:
            if self._dataset(session, name) is None:
                session.add(Dataset(name=name, meta=dict(meta or {})))
                self._commit(session)

    def drop_dataset(self, name: str) -> int:
        """Delete a dataset and its examples; returns how many examples were deleted."""
        with self._write_lock, self._sessions() as session:
            dataset = self._require_dataset(session, name)
            count = session.scalar(select(func.count()).where(Example.dataset_id == dataset.id)) or 0
            for table in (Example, AnswerAudit, DatasetLockRow):
                session.execute(delete(table).where(table.dataset_id == dataset.id))
            session.delete(dataset)
            self._commit(session)
            self._dataset_ids.pop(name, None)
            return int(count)

    # --- answers ---------------------------------------------------------------------------------------------

    def add_answers(self, dataset: str, tasks: Sequence[Mapping[str, Any]], session_id: str = "") -> int:
        """Store answered tasks (see :meth:`save_answers`); returns how many were new."""
        return self.save_answers(dataset, tasks, session_id).new

    def save_answers(self, dataset: str, tasks: Sequence[Mapping[str, Any]], session_id: str = "") -> SaveResult:
        """Store answered tasks in one transaction, committed before this returns.

        The same answer to a task already stored in the session changes nothing; a different one replaces it
        and the replaced answer goes to the audit table. A task's ``_source_index`` (its position in the source,
        set by the annotation server) is kept in its own column, not in the stored task.

        Args:
            dataset: The dataset (created when missing).
            tasks: Tasks with an "answer" of accept, reject or ignore; hashes are added when missing.
            session_id: The annotator's session name ("" for imports without one).

        Raises:
            DataError: A task without a valid answer.
            StoreError: The database refused the write; nothing was stored.
        """
        prepared: list[tuple[dict[str, Any], int | None]] = []
        for index, raw in enumerate(tasks):
            task = set_hashes({key: value for key, value in raw.items() if key != SOURCE_INDEX})
            if task.get("answer") not in ANSWERS:
                raise DataError(f"task {index}: answer must be one of {', '.join(ANSWERS)}, got {task.get('answer')!r}")
            position = raw.get(SOURCE_INDEX)
            prepared.append((task, position if isinstance(position, int) and not isinstance(position, bool) else None))
        if dataset not in self._dataset_ids:
            self.add_dataset(dataset)
        dataset_id = self.dataset_id(dataset)
        for attempt in range(_RETRIES):
            try:
                return self._save(dataset_id, prepared, session_id)
            except (IntegrityError, OperationalError) as error:
                # Another writer stored the same task (unique key) or held the database: read again and retry.
                if attempt == _RETRIES - 1:
                    raise StoreError(f"{self._display_url()}: the write failed and was rolled back: {error}") from error
            except SQLAlchemyError as error:
                raise StoreError(f"{self._display_url()}: the write failed and was rolled back: {error}") from error
        raise AssertionError("unreachable")

    def _save(self, dataset_id: int, prepared: list[tuple[dict[str, Any], int | None]],
              session_id: str) -> SaveResult:
        result = SaveResult()
        rows: dict[int, Example] = {}
        with self._write_lock, self._sessions() as session:
            try:
                for task, position in prepared:
                    key = task["_task_hash"]
                    row = rows.get(key) or session.scalars(select(Example).where(
                        Example.dataset_id == dataset_id, Example.task_hash == key,
                        Example.session_id == session_id).with_for_update()).first()
                    if row is None:
                        row = Example(dataset_id=dataset_id, input_hash=task["_input_hash"], task_hash=key,
                                       session_id=session_id, answer=task["answer"], content=task,
                                       source_index=position)
                        session.add(row)
                        # Flush per task so two copies of one task in the same batch meet the unique check.
                        session.flush()
                        result.new += 1
                    elif _signature({**row.content, "answer": row.answer}) == _signature(task):
                        result.unchanged += 1
                    else:
                        session.add(AnswerAudit(dataset_id=dataset_id, task_hash=key, session_id=session_id,
                                                 answer=row.answer, content=row.content, answered=row.updated))
                        row.answer = task["answer"]
                        row.content = task
                        row.updated = now()
                        if position is not None:
                            row.source_index = position
                        session.flush()
                        result.replaced += 1
                    rows[key] = row
                    result.stored.append(row_task(row))
                session.commit()
            except SQLAlchemyError:
                session.rollback()
                raise
        return result

    def _commit(self, session: Session) -> None:
        try:
            session.commit()
        except SQLAlchemyError as error:
            session.rollback()
            raise StoreError(f"{self._display_url()}: the write failed and was rolled back: {error}") from error

    def iter_answers(self, dataset: str, *, session_id: str | None = None) -> Iterator[dict[str, Any]]:
        """The dataset's tasks in the order they were first answered, each with ``_session_id``."""
        with self._sessions() as session:
            dataset_row = self._require_dataset(session, dataset)
            query = select(Example).where(Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(Example.session_id == session_id)
            for row in session.scalars(query.order_by(Example.id)).yield_per(500):
                yield row_task(row)

    def recent_answers(self, dataset: str, session_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """A session's latest answers (by when they were last given), newest first; reads only ``limit`` rows."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return []
            query = (select(Example).where(Example.dataset_id == dataset_row.id, Example.session_id == session_id)
                     .order_by(Example.updated.desc(), Example.id.desc()).limit(limit))
            return [row_task(row) for row in session.scalars(query)]

    def find_answer(self, dataset: str, session_id: str, task_hash: int) -> dict[str, Any] | None:
        """A session's stored answer to one task, or None."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return None
            row = session.scalars(select(Example).where(
                Example.dataset_id == dataset_row.id, Example.session_id == session_id,
                Example.task_hash == task_hash)).first()
            return None if row is None else row_task(row)

    def furthest_position(self, dataset: str, session_id: str | None = None) -> int:
        """The largest source position answered (in a session when given); -1 when none is known."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return -1
            query = select(func.max(Example.source_index)).where(Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(Example.session_id == session_id)
            found = session.scalar(query)
            return -1 if found is None else int(found)

    def audit(self, dataset: str) -> list[dict[str, Any]]:
        """Replaced answers, oldest first: each with its session, task hash, answer, content and both times."""
        with self._sessions() as session:
            dataset_row = self._require_dataset(session, dataset)
            rows = session.scalars(select(AnswerAudit).where(AnswerAudit.dataset_id == dataset_row.id)
                                   .order_by(AnswerAudit.id))
            return [{"session_id": row.session_id, "task_hash": row.task_hash, "answer": row.answer,
                     "content": dict(row.content), "answered": row.answered.isoformat(),
                     "replaced": row.replaced.isoformat()} for row in rows]

    def answers(self, dataset: str, *, session_id: str | None = None) -> list[dict[str, Any]]:
        """All of :meth:`iter_answers` as a list."""
        return list(self.iter_answers(dataset, session_id=session_id))

    def answered(self, dataset: str, session_id: str | None = None) -> set[int]:
        """Task hashes answered in a session (any session when None); empty when the dataset does not exist."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return set()
            query = select(Example.task_hash).where(Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(Example.session_id == session_id)
            return set(session.scalars(query))

    def count(self, dataset: str, session_id: str | None = None) -> int:
        """How many examples a dataset holds (in one session when given)."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return 0
            query = select(func.count()).where(Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(Example.session_id == session_id)
            return int(session.scalar(query) or 0)

    def stats(self, dataset: str) -> dict[str, Any]:
        """Counts for one dataset: examples, answers by kind, sessions, inputs, creation time and meta."""
        with self._sessions() as session:
            dataset_row = self._require_dataset(session, dataset)
            rows = session.execute(
                select(Example.answer, Example.session_id, Example.input_hash)
                .where(Example.dataset_id == dataset_row.id)
            ).all()
            answers = Counter(row.answer for row in rows)
            return {
                "dataset": dataset_row.name,
                "created": dataset_row.created.isoformat() if dataset_row.created else None,
                "meta": dict(dataset_row.meta or {}),
                "examples": len(rows),
                "inputs": len({row.input_hash for row in rows}),
                "sessions": sorted({row.session_id for row in rows}),
                **{answer: answers.get(answer, 0) for answer in ANSWERS},
            }


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def merge_answers(tasks: Iterable[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """Group answered tasks by input hash, keeping their order."""
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for task in tasks:
        groups.setdefault(int(task["_input_hash"]), []).append(task)
    return groups
