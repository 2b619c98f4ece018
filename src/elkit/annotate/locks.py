"""One server per dataset and database: a lock held in the database itself, not in a file beside it.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection the server keeps open; the
database drops it the moment that connection goes, so a killed server never leaves a stale lock behind.

SQLite: a row in ``dataset_locks`` naming the owner (a random token, the host and the process id) with a
heartbeat the owner refreshes. A row is stale, and taken over, when its process is gone (same host) or its
heartbeat is older than :data:`STALE_AFTER` seconds (another host sharing the file).

Both write the owner into ``dataset_locks`` so that a refused server can say who holds the dataset.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from elkit.annotate.schema import DatasetLockRow
from elkit.errors import StoreError

if TYPE_CHECKING:
    from elkit.annotate.store import Store

__all__ = ["STALE_AFTER", "DatasetLock", "DatasetLockedError"]

STALE_AFTER = 60.0
HEARTBEAT = 15.0
_ADVISORY_NAMESPACE = 0x656C6B  # "elk": the first key of the two-key advisory lock; the dataset id is the second


class DatasetLockedError(StoreError):
    """Another server already serves the dataset from this database."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class DatasetLock:
    """The right to serve one dataset of one database; refused while another live server holds it.

    Args:
        store: The store.
        dataset: The dataset (created when missing).
        purpose: Shown to a refused server ("elkit annotate ner.manual").

    Raises:
        DatasetLockedError: Another live server holds the dataset.
    """

    def __init__(self, store: Store, dataset: str, purpose: str = "elkit annotate") -> None:
        self.store = store
        self.dataset = dataset
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()[:200]
        self.pid = os.getpid()
        self.purpose = purpose[:200]
        store.add_dataset(dataset)
        self.dataset_id = store.dataset_id(dataset)
        self._connection: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if store.is_sqlite:
            self._acquire_row()
            self._thread = threading.Thread(target=self._beat, name="elkit-lock-heartbeat", daemon=True)
            self._thread.start()
        else:
            self._acquire_advisory()

    def __enter__(self) -> DatasetLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _holder(self, row: Any) -> str:
        since = row.acquired.isoformat(timespec="seconds") if row.acquired else "an unknown time"
        return (f"dataset {self.dataset!r} in {self.store.display_url} is already served by {row.purpose} "
                f"(process {row.pid} on {row.host}, since {since}); stop that server or use another dataset")

    def _record(self, session: Any) -> None:
        now = datetime.now(UTC)
        session.execute(delete(DatasetLockRow).where(DatasetLockRow.dataset_id == self.dataset_id))
        session.add(DatasetLockRow(dataset_id=self.dataset_id, token=self.token, host=self.host, pid=self.pid,
                                   purpose=self.purpose, acquired=now, heartbeat=now))

    def _stale(self, row: Any) -> bool:
        if row.host == self.host:
            return not _process_alive(row.pid)
        heartbeat = row.heartbeat if row.heartbeat.tzinfo else row.heartbeat.replace(tzinfo=UTC)
        return datetime.now(UTC) - heartbeat > timedelta(seconds=STALE_AFTER)

    def _acquire_row(self) -> None:
        for attempt in range(2):
            with self.store.write_session() as session:
                row = session.scalars(
                    select(DatasetLockRow).where(DatasetLockRow.dataset_id == self.dataset_id)).first()
                if row is not None and not self._stale(row):
                    raise DatasetLockedError(self._holder(row))
                self._record(session)
                try:
                    self.store.commit(session)
                    return
                except StoreError:
                    if attempt:  # another process wrote its row between our read and our write: read it again
                        raise

    def _acquire_advisory(self) -> None:
        try:
            connection = self.store.engine.connect()
            held = connection.execute(text("SELECT pg_try_advisory_lock(:space, :key)"),
                                      {"space": _ADVISORY_NAMESPACE, "key": self.dataset_id}).scalar()
            connection.commit()
        except SQLAlchemyError as error:
            raise StoreError(f"{self.store.display_url}: cannot take the dataset lock: {error}") from error
        if not held:
            connection.close()
            with self.store.write_session() as session:
                row = session.scalars(
                    select(DatasetLockRow).where(DatasetLockRow.dataset_id == self.dataset_id)).first()
            if row is None:
                raise DatasetLockedError(f"dataset {self.dataset!r} in {self.store.display_url} is already served "
                                         "by another server; stop it or use another dataset")
            raise DatasetLockedError(self._holder(row))
        self._connection = connection
        with self.store.write_session() as session:
            self._record(session)
            self.store.commit(session)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            try:
                with self.store.write_session() as session:
                    row = session.scalars(select(DatasetLockRow).where(
                        DatasetLockRow.dataset_id == self.dataset_id, DatasetLockRow.token == self.token)).first()
                    if row is not None:
                        row.heartbeat = datetime.now(UTC)
                        self.store.commit(session)
            except StoreError:
                continue  # a busy database: the next beat tries again, well before the row goes stale

    def release(self) -> None:
        """Give the dataset back (also done by the database when the process dies)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            with self.store.write_session() as session:
                session.execute(delete(DatasetLockRow).where(DatasetLockRow.dataset_id == self.dataset_id,
                                                             DatasetLockRow.token == self.token))
                self.store.commit(session)
        except StoreError as error:
            # Not fatal: the row names this process, so once it has exited the next server takes the lock over.
            print(f"elkit annotate: could not remove the lock row of {self.dataset!r}: {error}", file=sys.stderr)
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"),
                                         {"space": _ADVISORY_NAMESPACE, "key": self.dataset_id})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
