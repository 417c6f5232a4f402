"""The fill journal: parent orders, child orders, fills and risk decisions, in SQLite (WAL).

A fill is keyed by its execution id and written once, one commit per fill, so a crash loses
nothing already received. IB corrects an execution by re-sending it with the same execId stem
and new digits after the last dot: the correction replaces the fill (the old values are kept in
`fill_corrections`), it never adds a second one.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hydra.domain.errors import HydraError
from hydra.domain.fills import exec_stem, is_later
from hydra.execution import fill_codec
from hydra.faults import kill_point
from hydra.sqlite_tx import DatabaseLockedError, immediate, synchronous

SCHEMA_VERSION = 3  # 3: compact fills (fill_codec); a schema-2 journal migrates on open
BUSY_TIMEOUT_SECONDS = 30.0  # how long a writer waits for another process holding the lock

_EMPTY_FILLS: dict[tuple[str, ...], pd.DataFrame] = {}  # Journal.cycle_fills: by column names

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
    route TEXT NOT NULL,
    broker TEXT NOT NULL,
    status TEXT NOT NULL,
    filled INTEGER NOT NULL DEFAULT 0,
    avg_fill_price REAL,
    decision_mid REAL,
    arrival_mid REAL,
    arrival_bid REAL,
    arrival_ask REAL,
    predicted_slippage_price REAL,
    participation REAL,
    sent_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS orders_cycle ON orders(cycle_id);
CREATE TABLE IF NOT EXISTS child_orders (
    child_ref TEXT PRIMARY KEY,
    parent_ref TEXT NOT NULL REFERENCES orders(order_ref),
    cycle_id TEXT NOT NULL,
    slice INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    limit_price REAL NOT NULL,
    bid REAL, ask REAL, mid REAL,
    broker_order_id TEXT,
    status TEXT NOT NULL,
    filled INTEGER NOT NULL DEFAULT 0,
    avg_fill_price REAL,
    sent_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS child_parent ON child_orders(parent_ref);
CREATE INDEX IF NOT EXISTS child_cycle ON child_orders(cycle_id);
CREATE INDEX IF NOT EXISTS child_sent ON child_orders(sent_at);
CREATE TABLE IF NOT EXISTS fill_corrections (
    exec_stem TEXT NOT NULL,
    replaced_exec_id TEXT NOT NULL,
    new_exec_id TEXT NOT NULL,
    old_quantity INTEGER, old_price REAL,
    new_quantity INTEGER, new_price REAL,
    corrected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS risk_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    cycle_id TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    parent_ref TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    checks TEXT NOT NULL,
    reasons TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_cycle ON risk_decisions(cycle_id);
CREATE TABLE IF NOT EXISTS risk_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cycle_targets (
    cycle_id TEXT PRIMARY KEY,
    target INTEGER NOT NULL,
    local_symbol TEXT NOT NULL,
    signal TEXT NOT NULL,
    run_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""


def _unjournalable(fill: FillRecord) -> str | None:
    """Why a fill cannot be a row of the journal (None: it can)."""
    if not str(fill.exec_id or "").strip():
        return "it has no execution id"
    if not isinstance(fill.quantity, int) or isinstance(fill.quantity, bool) or fill.quantity <= 0:
        return f"quantity {fill.quantity!r} is not a positive whole number of contracts"
    if not isinstance(fill.price, int | float) or not math.isfinite(fill.price) or fill.price <= 0:
        return f"price {fill.price!r} is not a price"
    if not str(fill.fill_time or "").strip():
        return "it has no fill time"
    return None


class JournalError(HydraError, RuntimeError):
    pass


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]




@dataclass(frozen=True)
class OrderRecord:
    """A parent order: what the cycle decided to trade."""

    order_ref: str
    cycle_id: str
    as_of: str
    symbol: str
    local_symbol: str
    con_id: int
    purpose: str
    side: str
    quantity: int
    route: str
    broker: str
    status: str
    filled: int
    avg_fill_price: float | None
    decision_mid: float | None
    arrival_mid: float | None
    arrival_bid: float | None
    arrival_ask: float | None
    predicted_slippage_price: float | None
    participation: float | None
    sent_at: str
    updated_at: str
    message: str = ""


@dataclass(frozen=True)
class ChildRecord:
    """One order actually sent to the broker (a slice or a reprice of a parent)."""

    child_ref: str
    parent_ref: str
    cycle_id: str
    slice: int
    attempt: int
    side: str
    quantity: int
    limit_price: float
    bid: float | None
    ask: float | None
    mid: float | None
    broker_order_id: str | None
    status: str
    filled: int
    avg_fill_price: float | None
    sent_at: str
    updated_at: str
    message: str = ""


@dataclass(frozen=True)
class FillRecord:
    exec_id: str
    order_ref: str
    parent_ref: str | None
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
    tick: float | None
    point_value: float | None
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


def read_fill_frame(path: Path, symbol: str | None = None, full: bool = True) -> pd.DataFrame:
    """Journal.fill_frame without a Journal (read only: the file is opened mode=ro)."""
    rows, contexts, kept, texts = _read_fills(path, symbol, full)
    frame = fill_codec.decode_frame(_arrow_frame(rows), contexts, kept, texts, full)
    return _report_order(frame, texts["fill_time"])


def read_fill_columns(path: Path, symbol: str | None = None) -> fill_codec.FillColumns:
    """Journal.fill_columns without a Journal (read only: the file is opened mode=ro)."""
    rows, contexts, kept, texts = _read_fills(path, symbol, False, order_ref=False)
    return fill_codec.fill_columns(rows, contexts, kept, texts["fill_time"],
                                   lambda stems: fill_order_refs(path, stems))


def fill_order_refs(path: Path, stems: list[str]) -> dict[str, str]:
    """The order refs of some fills, by execId stem (read only)."""
    out: dict[str, str] = {}
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        for k in range(0, len(stems), 500):
            part = stems[k:k + 500]
            out.update(db.execute(f"SELECT exec_stem, order_ref FROM fill_rows WHERE exec_stem "
                                  f"IN ({', '.join('?' * len(part))})", part).fetchall())
    finally:
        db.close()
    return out


def _read_fills(path: Path, symbol: str | None, full: bool, order_ref: bool = True
                ) -> tuple[Any, pd.DataFrame, pd.DataFrame, dict[str, dict[str, str]]]:
    """The raw read both fast reads decode: fill rows (Arrow), contexts, kept values, time
    text; one read transaction, so every part is the same snapshot."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(f"file:{Path(path).resolve()}?mode=ro") as conn, conn.cursor() as cur:
        # one batch: Arrow types each column from the rows it has seen, and a column whose
        # first rows are all NULL (commissions not reported yet) would be typed wrong
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(2**30)})

        def arrow(sql: str, params: list[Any] | None = None) -> Any:
            cur.execute(sql, params or [])
            return cur.fetch_arrow_table()

        def read(sql: str, params: list[Any] | None = None) -> pd.DataFrame:
            return _arrow_frame(arrow(sql, params))

        # not autocommit: one read transaction, so every part below is the same snapshot
        contexts = read("SELECT * FROM fill_contexts")
        where, args = "", []
        if symbol:
            mine = contexts["id"][contexts["symbol"] == symbol.upper()]
            if len(mine) < len(contexts):  # else every fill is of this symbol: no filter
                where = "WHERE context IN (SELECT id FROM fill_contexts WHERE symbol = ?)"
                args = [symbol.upper()]
        rows = fill_codec.decode_raw_money(
            arrow(fill_codec.read_sql(where, full, order_ref), args),
            lambda name: arrow(fill_codec.money_column_sql(name, where), args)[name])
        kept = read(fill_codec.kept_sql(where), args)
        texts = {"fill_time": dict(read(fill_codec.TEXT_TIME_SQL).iloc[:, :2].itertuples(
            index=False))}
        if full:
            texts["journaled_at"] = dict(read(fill_codec.TEXT_JOURNALED_SQL).itertuples(
                index=False))
    return rows, contexts, kept, texts


def _arrow_frame(table: Any) -> pd.DataFrame:
    return table.to_pandas()


def _micros(times: pd.Series) -> np.ndarray:
    return times.dt.as_unit("us").astype("int64").to_numpy()


def _report_order(frame: pd.DataFrame, text_times: dict[str, str]) -> pd.DataFrame:
    """ORDER BY fill_time, exec_id (Journal.fills' order, so sums add up in the same order)
    without sorting a million strings: a stable sort on the time, then runs of equal times by
    execId. Canonical UTC times order as their text does; a journal holding other time text
    (`text_times`, rare) is sorted by the text itself, as SQL would."""
    if not len(frame):
        return frame
    if text_times:  # rare: sort by the text, as SQL does (canonical times rebuilt as text)
        text = [text_times.get(stem) or fill_codec.decode_time(int(u)) for stem, u in
                zip(frame["exec_stem"], _micros(frame["fill_time"]), strict=True)]
        keys = pd.DataFrame({"t": text, "e": frame["exec_id"].astype(str)})
        order = keys.sort_values(["t", "e"], kind="stable").index.to_numpy()
        return frame.iloc[order].reset_index(drop=True)
    key = _micros(frame["fill_time"])
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    if (ordered[1:] == ordered[:-1]).any():
        ids = frame["exec_id"].to_numpy().astype(str)
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1, [len(ordered)]])
        for a, b in itertools.pairwise(bounds):
            if b - a > 1:  # numpy orders text by code point, as SQLite's BINARY does UTF-8
                seg = order[a:b]
                order[a:b] = seg[np.argsort(ids[seg], kind="stable")]
    return frame.iloc[order].reset_index(drop=True)


def _where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A WHERE clause of the conditions whose value is given (None or "" leaves one out)."""
    used = [(sql, value) for sql, value in conditions if value not in (None, "")]
    if not used:
        return "", []
    return "WHERE " + " AND ".join(sql for sql, _ in used), [v for _, v in used]


def _utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _insert(db: sqlite3.Connection, table: str, row: dict[str, Any], verb: str = "INSERT"
            ) -> sqlite3.Cursor:
    cols = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    return db.execute(f"{verb} INTO {table} ({cols}) VALUES ({marks})", row)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise JournalError(
                        f"the fill journal {self.path} is not a SQLite file; it was left "
                        "untouched: move it aside to start a new journal, or restore a backup")
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS,
                                       isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous()}")  # FULL but in a replay
            self._contexts: dict[tuple[Any, ...], int] = {}
            self._open_schema()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise DatabaseLockedError(
                    f"the fill journal {self.path} is locked by another process (waited "
                    f"{BUSY_TIMEOUT_SECONDS:g} s): nothing was written and nothing is lost. "
                    f"Find it with `fuser {self.path}` (a stuck run, a sqlite3 shell left in a "
                    "transaction), let it finish or stop it, then rerun") from exc
            raise JournalError(
                f"the fill journal {self.path} cannot be opened ({exc}); it is left untouched: "
                "move it aside to start a new journal, or restore it from a backup"
            ) from exc

    def _has_meta(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        return row is not None

    def _open_schema(self) -> None:
        """Create the schema, or migrate a schema-2 journal in place (one transaction)."""
        version = self._db.execute(
            "SELECT value FROM meta WHERE key='schema_version'"
        ).fetchone() if self._has_meta() else None
        found = int(version[0]) if version is not None else None
        if found is not None and found not in (2, SCHEMA_VERSION):
            raise JournalError(
                f"the fill journal {self.path} has schema {found}; this Hydra writes "
                f"schema {SCHEMA_VERSION} (and migrates schema 2). It was left untouched: move "
                "it aside (keep it for the record) to start a new journal")
        if found == SCHEMA_VERSION:
            return
        with self._fill_tx() as db:
            if self._has_meta():  # another process may have migrated while we waited
                again = db.execute("SELECT value FROM meta WHERE key='schema_version'"
                                   ).fetchone()
                found = int(again[0]) if again is not None else None
                if found == SCHEMA_VERSION:
                    return
            # executescript would commit: run the statements one by one inside the transaction
            for statement in (*_statements(_SCHEMA), *_statements(fill_codec.SCHEMA)):
                db.execute(statement)
            if found == 2:
                db.execute("ALTER TABLE fills RENAME TO fills_v2")  # kept until proven copied
                self._migrate_v2(db)
            db.execute(fill_codec.view_sql())
            for trigger in fill_codec.triggers_sql():
                db.execute(trigger)
            if found == 2:
                self._verify_v2(db)
                db.execute("DROP TABLE fills_v2")  # its indexes go with it
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))

    def _migrate_v2(self, db: sqlite3.Connection) -> None:
        """Schema 2's fills table into fill_rows, every row and value kept, then dropped.
        Its fill_corrections, orders and the other tables are the same in schema 3."""
        old = db.execute("SELECT * FROM fills_v2 ORDER BY rowid")
        while batch := old.fetchmany(10_000):
            for row in batch:
                self._write_row(db, dict(row), "INSERT")

    def _verify_v2(self, db: sqlite3.Connection) -> None:
        """The new view must give back every schema-2 row, value for value, before the old
        table is dropped; else the whole migration rolls back and the journal is untouched."""
        cols = ", ".join(r[1] for r in db.execute("PRAGMA table_info(fills_v2)"))
        [(n_old,)] = db.execute("SELECT COUNT(*) FROM fills_v2").fetchall()
        [(n_new,)] = db.execute("SELECT COUNT(*) FROM fills").fetchall()
        [(lost,)] = db.execute(f"SELECT COUNT(*) FROM (SELECT {cols} FROM fills_v2 EXCEPT "
                               f"SELECT {cols} FROM fills)").fetchall()
        if n_old != n_new or lost:
            raise JournalError(
                f"migrating the fill journal {self.path} to schema {SCHEMA_VERSION} would not "
                f"keep every fill ({n_old} before, {n_new} after, {lost} differing); nothing was "
                "changed. Keep this file and report it: this Hydra cannot open it")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    # parent orders ---------------------------------------------------------------------
    def record_order(self, order: OrderRecord) -> None:
        with self._tx() as db:
            _insert(db, "orders", asdict(order))

    def update_order(self, order_ref: str, *, status: str, filled: int,
                     avg_fill_price: float | None, message: str = "") -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE orders SET status=?, filled=?, avg_fill_price=?, message=?, updated_at=? "
                "WHERE order_ref=?",
                (status, filled, avg_fill_price, message, _utcnow(), order_ref))
            if cur.rowcount != 1:
                raise JournalError(f"no journaled order {order_ref!r} to update")

    def order(self, order_ref: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM orders WHERE order_ref=?", (order_ref,)).fetchone()
        return dict(row) if row else None

    def record_target(self, cycle_id: str, target: int, local_symbol: str, signal: str,
                      run_id: str) -> dict[str, Any]:
        """The day's target, written once before the first order: a rerun finishes THIS
        target instead of changing its mind mid-day. Returns the target on record."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO cycle_targets VALUES (?, ?, ?, ?, ?, ?)",
                       (cycle_id, int(target), local_symbol, signal, run_id, _utcnow()))
        found = self.target_for(cycle_id)
        assert found is not None
        return found

    def target_for(self, cycle_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM cycle_targets WHERE cycle_id=?",
                               (cycle_id,)).fetchone()
        return dict(row) if row else None

    def orders_for_cycle(self, cycle_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM orders WHERE cycle_id=? ORDER BY sent_at", (cycle_id,)).fetchall()
        return [dict(r) for r in rows]

    # child orders ----------------------------------------------------------------------
    def record_child(self, child: ChildRecord) -> None:
        with self._tx() as db:
            _insert(db, "child_orders", asdict(child))

    def update_child(self, child_ref: str, *, status: str, filled: int,
                     avg_fill_price: float | None, message: str = "",
                     broker_order_id: str | None = None) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE child_orders SET status=?, filled=?, avg_fill_price=?, message=?, "
                "updated_at=?, broker_order_id=COALESCE(?, broker_order_id) WHERE child_ref=?",
                (status, filled, avg_fill_price, message, _utcnow(), broker_order_id, child_ref))
            if cur.rowcount != 1:
                raise JournalError(f"no journaled child order {child_ref!r} to update")

    def child(self, child_ref: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT * FROM child_orders WHERE child_ref=?", (child_ref,)).fetchone()
        return dict(row) if row else None

    def children(self, *, cycle_id: str | None = None, parent_ref: str | None = None
                 ) -> pd.DataFrame:
        where, args = _where([("cycle_id = ?", cycle_id), ("parent_ref = ?", parent_ref)])
        return pd.read_sql_query(
            f"SELECT * FROM child_orders {where} ORDER BY sent_at, child_ref", self._db,
            params=args)

    def child_orders_sent(self, *, cycle_id: str | None = None, since: str | None = None) -> int:
        if cycle_id is not None:
            row = self._db.execute(
                "SELECT COUNT(*) FROM child_orders WHERE cycle_id=?", (cycle_id,)).fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM child_orders WHERE sent_at >= ?", (since or "",)).fetchone()
        return int(row[0])

    # fills -----------------------------------------------------------------------------
    @contextmanager
    def _fill_tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; contexts it added are cached only once it has committed."""
        self._pending: dict[tuple[Any, ...], int] = {}
        with self._tx() as db:
            yield db
        self._contexts.update(self._pending)

    def _context(self, db: sqlite3.Connection, row: dict[str, Any]) -> int:
        key = tuple(row[c] for c in fill_codec.CONTEXT)
        found = self._contexts.get(key) or self._pending.get(key)
        if found is not None:
            return found
        match = " AND ".join(f"{c} IS ?" for c in fill_codec.CONTEXT)
        hit = db.execute(f"SELECT id FROM fill_contexts WHERE {match} ORDER BY id LIMIT 1",
                         key).fetchone()
        if hit is None:
            cols = ", ".join(fill_codec.CONTEXT)
            hit = db.execute(f"INSERT INTO fill_contexts ({cols}) VALUES "
                             f"({', '.join('?' * len(key))}) RETURNING id", key).fetchone()
        self._pending[key] = int(hit[0])
        return int(hit[0])

    def _write_row(self, db: sqlite3.Connection, row: dict[str, Any], verb: str
                   ) -> sqlite3.Cursor:
        encoded = fill_codec.encode_row(row, self._context(db, row))
        if verb == "UPDATE":
            sets = ", ".join(f"{k}=:{k}" for k in encoded if k != "exec_stem")
            return db.execute(f"UPDATE fill_rows SET {sets} WHERE exec_stem=:exec_stem", encoded)
        return _insert(db, "fill_rows", encoded, verb)

    def record_fill(self, fill: FillRecord) -> bool:
        """Write a fill once; True if new. A correction (same stem) replaces it in place."""
        problem = _unjournalable(fill)
        if problem:  # loud: a fill the journal cannot hold must never pass for a duplicate
            raise JournalError(f"fill {fill.exec_id!r} ({fill.order_ref}) cannot be journaled: "
                               f"{problem}; nothing was written. The execution is at the broker: "
                               "fix the broker reply's cause, then `hydra sync-fills` adds it")
        row = asdict(fill) | {"exec_stem": exec_stem(fill.exec_id), "journaled_at": _utcnow()}
        with self._fill_tx() as db:
            if self._write_row(db, row, "INSERT OR IGNORE").rowcount == 1:
                kill_point("while_journaling")  # inside the transaction, before the commit
                return True
            old = db.execute("SELECT * FROM fills WHERE exec_stem=?",
                             (row["exec_stem"],)).fetchone()
            if old is not None and old["exec_id"] != fill.exec_id and is_later(
                    fill.exec_id, old["exec_id"]):
                db.execute(
                    "INSERT INTO fill_corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (row["exec_stem"], old["exec_id"], fill.exec_id, old["quantity"],
                     old["price"], fill.quantity, fill.price, _utcnow()))
                self._write_row(db, row, "UPDATE")
            elif fill.commission is not None:
                stem, tail = fill_codec.split_exec_id(fill.exec_id)
                db.execute("UPDATE fill_rows SET commission=? WHERE exec_stem=? AND "
                           "exec_tail IS ? AND commission IS NULL",
                           (fill_codec.encode_money(fill.commission), stem, tail))
            return False

    def record_fills(self, fills: Iterable[FillRecord]) -> int:
        """Many fills in one transaction (bulk loads, benchmarks); duplicates ignored."""
        n = 0
        with self._fill_tx() as db:
            for fill in fills:
                row = asdict(fill) | {"exec_stem": exec_stem(fill.exec_id),
                                      "journaled_at": _utcnow()}
                n += self._write_row(db, row, "INSERT OR IGNORE").rowcount
        return n

    def has_fill(self, exec_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM fill_rows WHERE exec_stem=? AND exec_tail IS ?",
                               fill_codec.split_exec_id(exec_id)).fetchone()
        return row is not None

    def fill_is_complete(self, exec_id: str) -> bool:
        """Journaled with its commission: nothing a later report could add."""
        row = self._db.execute(
            "SELECT commission FROM fill_rows WHERE exec_stem=? AND exec_tail IS ?",
            fill_codec.split_exec_id(exec_id)).fetchone()
        return row is not None and row[0] is not None

    def fills(
        self, *, since: date | None = None, until: date | None = None,
        symbol: str | None = None, cycle_id: str | None = None, limit: int | None = None,
    ) -> pd.DataFrame:
        """Fills by trade date range (inclusive), symbol and/or cycle, oldest first."""
        where, args = _where([
            ("as_of >= ?", since.isoformat() if since else None),
            ("as_of <= ?", until.isoformat() if until else None),
            ("symbol = ?", symbol.upper() if symbol else None),
            ("cycle_id = ?", cycle_id),
        ])
        tail = f" LIMIT {int(limit)}" if limit else ""
        return pd.read_sql_query(
            f"SELECT * FROM fills {where} ORDER BY fill_time, exec_id{tail}", self._db,
            params=args)

    def cycle_fills(self, cycle_id: str) -> pd.DataFrame:
        """`fills(cycle_id=...)`, the same frame; a cycle without a fill (most replayed days)
        is answered by one indexed lookup and a copy of the empty frame pandas builds for
        this journal's columns, instead of a full read_sql (which costs milliseconds even for
        no rows). The empty frame depends only on the view's column names, which are part of
        the key, so a schema with other columns gets its own."""
        cur = self._db.execute("SELECT 1 FROM fills WHERE cycle_id = ? LIMIT 1", (cycle_id,))
        if cur.fetchone() is not None:
            return self.fills(cycle_id=cycle_id)
        names = tuple(d[0] for d in self._db.execute("SELECT * FROM fills WHERE 0").description)
        empty = _EMPTY_FILLS.get(names)
        if empty is None:
            empty = pd.read_sql_query("SELECT * FROM fills WHERE 0", self._db)
            _EMPTY_FILLS[names] = empty
        return empty.copy()

    def fill_frame(self, *, symbol: str | None = None, full: bool = True) -> pd.DataFrame:
        """Every fill (of one symbol), as `fills()` returns them, read in columns (Arrow, via
        ADBC) and decoded with numpy: several times faster than row by row
        (benchmarks/reconcile.py).
        fill_time and journaled_at are UTC timestamps here, not text. `full=False`: only the
        report's columns (fill_codec.REPORT_COLUMNS), a third faster."""
        return read_fill_frame(self.path, symbol, full)

    def fill_columns(self, *, symbol: str | None = None) -> fill_codec.FillColumns:
        """Every fill (of one symbol) as columns for the report's metrics: no DataFrame and no
        Python object per fill (benchmarks/reconcile.py)."""
        return read_fill_columns(self.path, symbol)

    # risk ------------------------------------------------------------------------------
    def record_risk_decision(self, **row: Any) -> None:
        with self._tx() as db:
            _insert(db, "risk_decisions", row)

    def risk_decisions(self, cycle_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM risk_decisions WHERE cycle_id=? ORDER BY id", (cycle_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["checks"] = json.loads(d["checks"])
            out.append(d)
        return out

    def _state(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM risk_state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_peak_equity(self, equity: float, trade_date: date | None = None) -> float:
        """Persisted high-water mark of net liquidation (the drawdown reference).

        A drawdown breaker tripped on an earlier trade date re-arms here: the peak restarts at
        today's equity (else a breached drawdown would block new risk forever, the original's
        latch). The old peak and the re-arm are kept in `risk_state` for the record.
        """
        if not math.isfinite(equity):
            raise JournalError(f"equity {equity!r} is not a number; the peak is not updated")
        with self._tx() as db:
            row = db.execute("SELECT value FROM risk_state WHERE key='peak_equity'").fetchone()
            peak = float(json.loads(row[0])) if row else equity
            brk = db.execute("SELECT value FROM risk_state WHERE key='breakers'").fetchone()
            breakers = json.loads(brk[0]) if brk else {}
            tripped_on = breakers.get("drawdown")
            if trade_date is not None and tripped_on and tripped_on < trade_date.isoformat():
                del breakers["drawdown"]
                db.execute("INSERT OR REPLACE INTO risk_state VALUES ('breakers', ?)",
                           (json.dumps(breakers),))
                db.execute("INSERT OR REPLACE INTO risk_state VALUES ('drawdown_rearmed', ?)",
                           (json.dumps({"on": trade_date.isoformat(), "tripped_on": tripped_on,
                                        "old_peak": peak, "new_peak": equity}),))
                peak = equity
            peak = max(peak, equity)
            db.execute("INSERT OR REPLACE INTO risk_state VALUES ('peak_equity', ?)",
                       (json.dumps(peak),))
        return peak

    def peak_equity_after(self, equity: float, trade_date: date | None = None) -> float:
        """The peak `update_peak_equity(equity, trade_date)` would return, writing nothing."""
        peak = self._state("peak_equity")
        peak = equity if peak is None else float(peak)
        tripped_on = (self._state("breakers") or {}).get("drawdown")
        if trade_date is not None and tripped_on and tripped_on < trade_date.isoformat():
            peak = equity
        return max(peak, equity)

    def trip_breakers(self, trade_date: date, names: Iterable[str]) -> None:
        with self._tx() as db:
            row = db.execute("SELECT value FROM risk_state WHERE key='breakers'").fetchone()
            state = json.loads(row[0]) if row else {}
            for name in names:
                state.setdefault(name, trade_date.isoformat())
                if state[name] < trade_date.isoformat():
                    state[name] = trade_date.isoformat()
            db.execute("INSERT OR REPLACE INTO risk_state VALUES ('breakers', ?)",
                       (json.dumps(state),))

    def breakers_tripped(self, trade_date: date) -> frozenset[str]:
        """Breakers tripped on this trade date (earlier trips have re-armed)."""
        state = self._state("breakers") or {}
        return frozenset(n for n, d in state.items() if d == trade_date.isoformat())
