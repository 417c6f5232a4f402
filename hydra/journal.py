"""The fill journal: every order the cycle sends and every fill, in SQLite (WAL).

A fill is keyed by the broker's execution id and inserted with INSERT OR IGNORE, one commit per
fill, so a replayed execution is never written twice and a crash loses nothing already received.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_ref TEXT PRIMARY KEY,
    cycle_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    symbol TEXT NOT NULL,
    local_symbol TEXT NOT NULL,
    con_id INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    limit_price REAL,
    route TEXT NOT NULL,
    broker TEXT NOT NULL,
    broker_order_id TEXT,
    status TEXT NOT NULL,
    filled INTEGER NOT NULL DEFAULT 0,
    avg_fill_price REAL,
    decision_mid REAL,
    arrival_mid REAL,
    arrival_bid REAL,
    arrival_ask REAL,
    predicted_slippage_price REAL,
    sent_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS orders_cycle ON orders(cycle_id);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY,
    order_ref TEXT NOT NULL,
    cycle_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    symbol TEXT NOT NULL,
    local_symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price REAL NOT NULL,
    fill_time TEXT NOT NULL,
    route TEXT NOT NULL,
    slice INTEGER NOT NULL DEFAULT 0,
    decision_mid REAL,
    arrival_mid REAL,
    predicted_price REAL, predicted_ticks REAL, predicted_bps REAL, predicted_usd REAL,
    actual_price REAL, actual_ticks REAL, actual_bps REAL, actual_usd REAL,
    commission REAL,
    latency_ms REAL,
    broker TEXT NOT NULL,
    account_id TEXT NOT NULL,
    journaled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_time ON fills(fill_time);
CREATE INDEX IF NOT EXISTS fills_cycle ON fills(cycle_id);
"""


class JournalError(RuntimeError):
    pass


@dataclass(frozen=True)
class OrderRecord:
    order_ref: str
    cycle_id: str
    as_of: str
    symbol: str
    local_symbol: str
    con_id: int
    purpose: str
    side: str
    quantity: int
    order_type: str
    limit_price: float | None
    route: str
    broker: str
    broker_order_id: str | None
    status: str
    filled: int
    avg_fill_price: float | None
    decision_mid: float | None
    arrival_mid: float | None
    arrival_bid: float | None
    arrival_ask: float | None
    predicted_slippage_price: float | None
    sent_at: str
    updated_at: str
    message: str = ""


@dataclass(frozen=True)
class FillRecord:
    exec_id: str
    order_ref: str
    cycle_id: str
    as_of: str
    symbol: str
    local_symbol: str
    side: str
    quantity: int
    price: float
    fill_time: str
    route: str
    slice: int
    decision_mid: float | None
    arrival_mid: float | None
    predicted_price: float | None
    predicted_ticks: float | None
    predicted_bps: float | None
    predicted_usd: float | None
    actual_price: float | None
    actual_ticks: float | None
    actual_bps: float | None
    actual_usd: float | None
    commission: float | None
    latency_ms: float | None
    broker: str
    account_id: str


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"the fill journal {self.path} cannot be opened ({exc}); it is left untouched: "
                "move it aside to start a new journal, or restore it from a backup"
            ) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # orders -------------------------------------------------------------------------------
    def record_order(self, order: OrderRecord) -> None:
        row = asdict(order)
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._tx() as db:
            db.execute(f"INSERT INTO orders ({cols}) VALUES ({marks})", row)

    def update_order(
        self, order_ref: str, *, status: str, filled: int, avg_fill_price: float | None,
        message: str = "", broker_order_id: str | None = None,
    ) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE orders SET status=?, filled=?, avg_fill_price=?, message=?, updated_at=?, "
                "broker_order_id=COALESCE(?, broker_order_id) WHERE order_ref=?",
                (status, filled, avg_fill_price, message, _utcnow(), broker_order_id, order_ref),
            )
            if cur.rowcount != 1:
                raise JournalError(f"no journaled order {order_ref!r} to update")

    def order(self, order_ref: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM orders WHERE order_ref=?", (order_ref,)).fetchone()
        return dict(row) if row else None

    def orders_for_cycle(self, cycle_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM orders WHERE cycle_id=? ORDER BY sent_at", (cycle_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    # fills --------------------------------------------------------------------------------
    def record_fill(self, fill: FillRecord) -> bool:
        """Write a fill once; True if new. A known exec_id only gains a late commission."""
        row = asdict(fill) | {"journaled_at": _utcnow()}
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._tx() as db:
            cur = db.execute(f"INSERT OR IGNORE INTO fills ({cols}) VALUES ({marks})", row)
            if cur.rowcount == 1:
                return True
            if fill.commission is not None:
                db.execute(
                    "UPDATE fills SET commission=? WHERE exec_id=? AND commission IS NULL",
                    (fill.commission, fill.exec_id),
                )
            return False

    def has_fill(self, exec_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM fills WHERE exec_id=?", (exec_id,)).fetchone()
        return row is not None

    def fills(
        self, *, since: date | None = None, until: date | None = None,
        symbol: str | None = None, cycle_id: str | None = None,
    ) -> pd.DataFrame:
        """Fills by trade date range (inclusive), symbol and/or cycle, oldest first."""
        clauses, args = [], []
        if since is not None:
            clauses.append("as_of >= ?")
            args.append(since.isoformat())
        if until is not None:
            clauses.append("as_of <= ?")
            args.append(until.isoformat())
        if symbol is not None:
            clauses.append("symbol = ?")
            args.append(symbol.upper())
        if cycle_id is not None:
            clauses.append("cycle_id = ?")
            args.append(cycle_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return pd.read_sql_query(
            f"SELECT * FROM fills {where} ORDER BY fill_time, exec_id", self._db, params=args
        )

    def dump(self) -> str:
        """Every row as JSON lines (used by tests and for quick inspection)."""
        out = []
        for table in ("orders", "fills"):
            for row in self._db.execute(f"SELECT * FROM {table}"):
                out.append(json.dumps({"table": table, **dict(row)}))
        return "\n".join(out)
