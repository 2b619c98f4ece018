"""Databases for the store tests: a SQLite file, and a fresh schema on the PostgreSQL server at 127.0.0.1:5432.

The PostgreSQL tests run against the real server the development and CI machines start (trust auth, database
``test``); they are skipped, saying why, only when nothing answers on 127.0.0.1:5432. ``$ELKIT_TEST_POSTGRES``
points them at another server.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES = os.environ.get("ELKIT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KINDS = ("sqlite", "postgres")


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    """Whether anything accepts connections on the PostgreSQL port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards."""
    if not postgres_answers():
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432 (the PostgreSQL store tests need one)")
    from sqlalchemy import create_engine, text

    schema = f"elkit_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def database(kind: str, folder: Path, name: str = "db") -> Iterator[str]:
    """A database URL of the given kind ("sqlite" or "postgres")."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / (name + '.sqlite')}"
    else:
        with postgres_schema() as url:
            yield url
