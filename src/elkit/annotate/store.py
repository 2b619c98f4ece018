"""The answer store: datasets of annotated examples in a SQL database (SQLAlchemy).

SQLite is the default (``$ELKIT_HOME/elkit.db``, or ``~/.elkit/elkit.db``), opened in WAL mode with full
synchronous commits, so an answer the server has acknowledged survives a killed process. Any SQLAlchemy URL
works too, PostgreSQL included (``postgresql+psycopg://user@host/db``).

An example is one answered task. It is unique per (dataset, task hash, session): answering the same task again in
the same session replaces the earlier answer (the history in the UI edits answers this way), so nothing is ever
stored twice.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from elkit.annotate.hashing import set_hashes
from elkit.errors import DataError, StoreError

__all__ = ["ANSWERS", "Store", "default_database_url"]

ANSWERS = ("accept", "reject", "ignore")
_NAME_LIMIT = 200


def default_database_url() -> str:
    """``$ELKIT_DATABASE`` when set, else SQLite in ``$ELKIT_HOME/elkit.db`` (or ``~/.elkit/elkit.db``)."""
    url = os.environ.get("ELKIT_DATABASE")
    if url:
        return url
    home = os.environ.get("ELKIT_HOME")
    folder = Path(home) if home else Path.home() / ".elkit"
    return f"sqlite:///{folder / 'elkit.db'}"


def _now() -> datetime:
    return datetime.now(UTC)


class _Base(DeclarativeBase):
    pass


class _Dataset(_Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME_LIMIT), unique=True, nullable=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class _Example(_Base):
    __tablename__ = "examples"
    __table_args__ = (UniqueConstraint("dataset_id", "task_hash", "session_id", name="one_answer_per_session"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    input_hash: Mapped[int] = mapped_column(BigInteger, index=True)
    task_hash: Mapped[int] = mapped_column(BigInteger)
    session_id: Mapped[str] = mapped_column(String(_NAME_LIMIT), default="")
    answer: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset or session name: 1 to 200 printable characters without surrounding blanks."""
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > _NAME_LIMIT:
        raise DataError(f"{what} name {name!r} must be 1 to {_NAME_LIMIT} characters without surrounding blanks")
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
                event.listen(self.engine, "connect", _sqlite_pragmas)
            _Base.metadata.create_all(self.engine)
        except (SQLAlchemyError, OSError) as error:
            raise StoreError(f"cannot open the database {self._display_url()}: {error}") from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time; serialising writes in the process avoids "database is locked".
        self._write_lock = threading.Lock() if self._is_sqlite else _NoLock()

    def _display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else self.url

    def __repr__(self) -> str:
        return f"Store({self._display_url()!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # --- datasets --------------------------------------------------------------------------------------------

    def _dataset(self, session: Session, name: str) -> _Dataset | None:
        return session.scalars(select(_Dataset).where(_Dataset.name == name)).first()

    def _require_dataset(self, session: Session, name: str) -> _Dataset:
        dataset = self._dataset(session, name)
        if dataset is None:
            known = ", ".join(self.datasets()) or "none"
            raise StoreError(f"no dataset {name!r} in {self._display_url()} (datasets: {known})")
        return dataset

    def datasets(self) -> list[str]:
        """Dataset names, in order of creation."""
        with self._sessions() as session:
            return list(session.scalars(select(_Dataset.name).order_by(_Dataset.id)))

    def __contains__(self, name: object) -> bool:
        with self._sessions() as session:
            return isinstance(name, str) and self._dataset(session, name) is not None

    def add_dataset(self, name: str, meta: Mapping[str, Any] | None = None) -> None:
        """Create a dataset unless it exists (the meta of an existing one is kept)."""
        check_name(name)
        with self._write_lock, self._sessions() as session:
            if self._dataset(session, name) is None:
                session.add(_Dataset(name=name, meta=dict(meta or {})))
                self._commit(session)

    def drop_dataset(self, name: str) -> int:
        """Delete a dataset and its examples; returns how many examples were deleted."""
        with self._write_lock, self._sessions() as session:
            dataset = self._require_dataset(session, name)
            count = session.scalar(select(func.count()).where(_Example.dataset_id == dataset.id)) or 0
            session.execute(delete(_Example).where(_Example.dataset_id == dataset.id))
            session.delete(dataset)
            self._commit(session)
            return int(count)

    # --- answers ---------------------------------------------------------------------------------------------

    def add_answers(self, dataset: str, tasks: Sequence[Mapping[str, Any]], session_id: str = "") -> int:
        """Store answered tasks in one transaction, committed before this returns.

        A task already answered in the same session (same task hash) has its answer replaced.

        Args:
            dataset: The dataset (created when missing).
            tasks: Tasks with an "answer" of accept, reject or ignore; hashes are added when missing.
            session_id: The annotator's session name ("" for imports without one).

        Returns:
            How many tasks were new (the rest replaced earlier answers).

        Raises:
            DataError: A task without a valid answer.
            StoreError: The database refused the write; nothing was stored.
        """
        prepared = []
        for index, raw in enumerate(tasks):
            task = set_hashes(dict(raw))
            if task.get("answer") not in ANSWERS:
                raise DataError(f"task {index}: answer must be one of {', '.join(ANSWERS)}, got {task.get('answer')!r}")
            prepared.append(task)
        self.add_dataset(dataset)
        new = 0
        with self._write_lock, self._sessions() as session:
            dataset_row = self._require_dataset(session, dataset)
            for task in prepared:
                existing = session.scalars(select(_Example).where(
                    _Example.dataset_id == dataset_row.id,
                    _Example.task_hash == task["_task_hash"],
                    _Example.session_id == session_id,
                )).first()
                if existing is None:
                    session.add(_Example(
                        dataset_id=dataset_row.id, input_hash=task["_input_hash"], task_hash=task["_task_hash"],
                        session_id=session_id, answer=task["answer"], content=task,
                    ))
                    new += 1
                else:
                    existing.answer = task["answer"]
                    existing.content = task
                    existing.updated = _now()
                # Flush per task so two copies of one task in the same batch meet the unique check.
                session.flush()
            self._commit(session)
        return new

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
            query = select(_Example).where(_Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(_Example.session_id == session_id)
            for row in session.scalars(query.order_by(_Example.id)).yield_per(500):
                task = dict(row.content)
                task["answer"] = row.answer
                task["_input_hash"] = row.input_hash
                task["_task_hash"] = row.task_hash
                task["_session_id"] = row.session_id
                yield task

    def answers(self, dataset: str, *, session_id: str | None = None) -> list[dict[str, Any]]:
        """All of :meth:`iter_answers` as a list."""
        return list(self.iter_answers(dataset, session_id=session_id))

    def answered(self, dataset: str, session_id: str | None = None) -> set[int]:
        """Task hashes answered in a session (any session when None); empty when the dataset does not exist."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return set()
            query = select(_Example.task_hash).where(_Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(_Example.session_id == session_id)
            return set(session.scalars(query))

    def count(self, dataset: str, session_id: str | None = None) -> int:
        """How many examples a dataset holds (in one session when given)."""
        with self._sessions() as session:
            dataset_row = self._dataset(session, dataset)
            if dataset_row is None:
                return 0
            query = select(func.count()).where(_Example.dataset_id == dataset_row.id)
            if session_id is not None:
                query = query.where(_Example.session_id == session_id)
            return int(session.scalar(query) or 0)

    def stats(self, dataset: str) -> dict[str, Any]:
        """Counts for one dataset: examples, answers by kind, sessions, inputs, creation time and meta."""
        with self._sessions() as session:
            dataset_row = self._require_dataset(session, dataset)
            rows = session.execute(
                select(_Example.answer, _Example.session_id, _Example.input_hash)
                .where(_Example.dataset_id == dataset_row.id)
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
