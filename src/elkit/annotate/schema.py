"""The answer store's tables: datasets, examples (answered tasks), the audit of replaced answers, dataset locks.

:func:`migrate` brings a database made by an earlier elkit up to date (it adds, never drops).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "NAME_LIMIT",
    "AnswerAudit",
    "Base",
    "Dataset",
    "DatasetLockRow",
    "Example",
    "migrate",
    "now",
    "row_task",
    "sqlite_pragmas",
]

NAME_LIMIT = 200


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The tables' declarative base."""


class Dataset(Base):
    """A named dataset."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LIMIT), unique=True, nullable=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Example(Base):
    """One answered task: unique per dataset, task hash and session."""

    __tablename__ = "examples"
    __table_args__ = (UniqueConstraint("dataset_id", "task_hash", "session_id", name="one_answer_per_session"),
                      Index("examples_by_session", "dataset_id", "session_id", "updated"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    input_hash: Mapped[int] = mapped_column(BigInteger, index=True)
    task_hash: Mapped[int] = mapped_column(BigInteger)
    session_id: Mapped[str] = mapped_column(String(NAME_LIMIT), default="")
    answer: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    source_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AnswerAudit(Base):
    """Answers that a later, different answer to the same task in the same session replaced."""

    __tablename__ = "answer_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    task_hash: Mapped[int] = mapped_column(BigInteger)
    session_id: Mapped[str] = mapped_column(String(NAME_LIMIT), default="")
    answer: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    answered: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replaced: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class DatasetLockRow(Base):
    """Who serves a dataset (see :mod:`elkit.annotate.locks`)."""

    __tablename__ = "dataset_locks"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(NAME_LIMIT))
    pid: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(NAME_LIMIT), default="")
    acquired: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    heartbeat: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


def row_task(row: Example) -> dict[str, Any]:
    """A stored example as a task with its answer, hashes and ``_session_id``."""
    task = dict(row.content)
    task["answer"] = row.answer
    task["_input_hash"] = row.input_hash
    task["_task_hash"] = row.task_hash
    task["_session_id"] = row.session_id
    return task


def migrate(engine: Engine) -> None:
    """Bring a database made by an earlier elkit up to date (new columns and indexes; nothing is dropped)."""
    inspector = inspect(engine)
    columns = {column["name"] for column in inspector.get_columns("examples")}
    indexes = {index["name"] for index in inspector.get_indexes("examples")}
    with engine.begin() as connection:
        if "source_index" not in columns:
            connection.execute(text("ALTER TABLE examples ADD COLUMN source_index INTEGER"))
        if "examples_by_session" not in indexes:
            connection.execute(text(
                "CREATE INDEX IF NOT EXISTS examples_by_session ON examples (dataset_id, session_id, updated)"))


def sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL, full synchronous commits, foreign keys and a busy timeout for every SQLite connection."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
