"""One way to write to Hydra's SQLite files: an IMMEDIATE transaction, committed or rolled back.

IMMEDIATE takes the write lock up front, so two processes sharing a file (a notebook kernel
and the CLI, cron and an operator) queue on the busy timeout instead of failing mid-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from hydra.domain.errors import HydraError

# Off only inside `without_fsync()` (hydra.cycle.replay): every other path keeps SQLite's
# FULL (an fsync per commit). A new thread starts at the default, never relaxed.
_NO_FSYNC: ContextVar[bool] = ContextVar("hydra_sqlite_no_fsync", default=False)


@contextmanager
def without_fsync() -> Iterator[None]:
    """Connections opened inside write each commit to the OS (a killed process loses
    nothing) but never wait for the disk (PRAGMA synchronous=OFF): for a replay, which makes
    its own results durable once at the end (hydra.cycle.replay.flush_to_disk)."""
    token = _NO_FSYNC.set(True)
    try:
        yield
    finally:
        _NO_FSYNC.reset(token)


def synchronous() -> str:
    """The PRAGMA synchronous level for a connection opened now: FULL, or OFF in a replay."""
    return "OFF" if _NO_FSYNC.get() else "FULL"


def relax(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Set synchronous=OFF on `conn` inside `without_fsync()`; elsewhere leave it untouched."""
    if _NO_FSYNC.get():
        conn.execute("PRAGMA synchronous=OFF")
    return conn



class DatabaseLockedError(HydraError, sqlite3.OperationalError):
    """Another process held the file's write lock for longer than the busy timeout."""


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`conn` must be in autocommit mode (isolation_level=None)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"),
                    "?")
        raise DatabaseLockedError(
            f"{path} is locked by another process (waited for the busy timeout): nothing was "
            "written. Find it with `fuser {path}` (a stuck run, a sqlite3 shell left open in a "
            "transaction), let it finish or stop it, then rerun: a rerun resumes the day"
            .replace("{path}", str(path))) from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
