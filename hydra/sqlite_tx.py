"""One way to write to Hydra's SQLite files: an IMMEDIATE transaction, committed or rolled back.

IMMEDIATE takes the write lock up front, so two processes sharing a file (a notebook kernel
and the CLI, cron and an operator) queue on the busy timeout instead of failing mid-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.domain.errors import HydraError


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
