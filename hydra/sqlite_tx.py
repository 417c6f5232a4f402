"""One way to write to Hydra's SQLite files: an IMMEDIATE transaction, committed or rolled back.

IMMEDIATE takes the write lock up front, so two processes sharing a file (a notebook kernel
and the CLI, cron and an operator) queue on the busy timeout instead of failing mid-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`conn` must be in autocommit mode (isolation_level=None)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
