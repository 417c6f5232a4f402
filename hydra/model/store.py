"""The local bar store: daily bars kept append-only in SQLite, read point-in-time.

Why a store and not the broker each time: the model must be trained, scored and audited on
exactly the bars it could have seen. A bar, once stored, is never rewritten (a differing
re-delivery is kept aside in `bar_revisions` for review; each trade date's price at the
cycle's entry time is kept the same way in `entries`), and every query takes the trade date
it predicts for: only bars dated strictly before that date come back, so a prediction for day T
cannot see T's own bar or anything later.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hydra.domain.broker import Bar
from hydra.sqlite_tx import immediate, relax

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    market TEXT NOT NULL,
    date TEXT NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (market, date)
);
CREATE TABLE IF NOT EXISTS bar_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    market TEXT NOT NULL,
    date TEXT NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume INTEGER NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    market TEXT NOT NULL,
    date TEXT NOT NULL,
    at TEXT NOT NULL,
    price REAL NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (market, date)
);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the bar store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the bar store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS bars_no_update BEFORE UPDATE ON bars
BEGIN SELECT RAISE(ABORT, 'the bar store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS bars_no_delete BEFORE DELETE ON bars
BEGIN SELECT RAISE(ABORT, 'the bar store is append-only'); END;
"""

COLUMNS = ["open", "high", "low", "close", "volume"]
# BarStore.bars_before's last read per file: (key with the store's stamp, frame)
_BARS_MEMO: dict[str, tuple[tuple[Any, ...], pd.DataFrame, list[Any]]] = {}


def bar_store_path(root: Path) -> Path:
    """Where the store lives inside a data directory."""
    return Path(root) / "bars" / "bars.sqlite"


@dataclass(frozen=True)
class AppendResult:
    added: int
    unchanged: int
    revisions: int  # re-delivered bars that differ from the stored ones (kept aside)


class BarStore:
    """Append-only daily bars per market, in one SQLite file (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = relax(sqlite3.connect(self.path, timeout=30, isolation_level=None))
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> BarStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._conn)

    def append(self, market: str, bars: Iterable[Bar], recorded_at: datetime) -> AppendResult:
        """Store bars not yet held; a differing re-delivery goes to `bar_revisions` only."""
        added = unchanged = revised = 0
        stamp = recorded_at.isoformat()
        with self._tx() as conn:
            for b in bars:
                row = conn.execute(
                    "SELECT open, high, low, close, volume FROM bars WHERE market=? AND date=?",
                    (market, b.date.isoformat()),
                ).fetchone()
                values = (b.open, b.high, b.low, b.close, int(b.volume))
                if row is None:
                    conn.execute(
                        "INSERT INTO bars VALUES (?,?,?,?,?,?,?,?)",
                        (market, b.date.isoformat(), *values, stamp),
                    )
                    added += 1
                elif tuple(row) == values:
                    unchanged += 1
                else:
                    conn.execute(
                        "INSERT INTO bar_revisions (market, date, open, high, low, close, "
                        "volume, recorded_at) VALUES (?,?,?,?,?,?,?,?)",
                        (market, b.date.isoformat(), *values, stamp),
                    )
                    revised += 1
        return AppendResult(added, unchanged, revised)

    def append_entries(self, market: str, prices: Iterable[tuple[date, datetime, float]],
                       recorded_at: datetime) -> int:
        """Store each trade date's price at the cycle's entry time (first one kept)."""
        with self._tx() as conn:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO entries VALUES (?,?,?,?,?)",
                [(market, d.isoformat(), at.isoformat(), float(p), recorded_at.isoformat())
                 for d, at, p in prices])
        return cur.rowcount

    def dates_without_entry(self, market: str, before: date, limit: int) -> list[date]:
        """The most recent `limit` stored bar dates before `before` with no entry price."""
        rows = self._conn.execute(
            "SELECT b.date FROM bars b LEFT JOIN entries e ON e.market = b.market AND "
            "e.date = b.date WHERE b.market=? AND b.date<? AND e.date IS NULL "
            "ORDER BY b.date DESC LIMIT ?", (market, before.isoformat(), int(limit))).fetchall()
        return [date.fromisoformat(r[0]) for r in rows[::-1]]

    def has_entry(self, market: str, day: date) -> bool:
        return self._conn.execute("SELECT 1 FROM entries WHERE market=? AND date=?",
                                  (market, day.isoformat())).fetchone() is not None

    def entries(self, market: str, start: date, end: date) -> pd.Series:
        """Entry prices for trade dates in [start, end], by date."""
        rows = self._conn.execute(
            "SELECT date, price FROM entries WHERE market=? AND date>=? AND date<=? "
            "ORDER BY date", (market, start.isoformat(), end.isoformat())).fetchall()
        return pd.Series({date.fromisoformat(d): float(p) for d, p in rows}, dtype=float)

    def last_date(self, market: str) -> date | None:
        row = self._conn.execute("SELECT MAX(date) FROM bars WHERE market=?", (market,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def count(self, market: str) -> int:
        return int(
            self._conn.execute("SELECT COUNT(*) FROM bars WHERE market=?", (market,)).fetchone()[0]
        )

    def bars_before(self, market: str, as_of: date, limit: int | None = None) -> pd.DataFrame:
        """Bars dated strictly before `as_of` (what a cycle on `as_of` may know), oldest first,
        with each date's entry price (column "entry", NaN where none is stored).

        `limit` keeps the most recent `limit` of them. Indexed by date (datetime.date).

        A cycle reads the same bars twice (the loop, then the signal): the second read, on a
        store unchanged since the first, is a copy of the first. Unchanged means the same
        file (inode) and the same row count and largest rowid in `bars` and `entries`, read in
        the same transaction as the rows: both tables are append-only (triggers refuse UPDATE
        and DELETE), so any write moves those numbers. The next day's read (a later `as_of`)
        reads only the rows dated from the last read's `as_of` on, when every row written since
        (rowid above the remembered largest) is dated from it on too: the older rows are then
        the ones read before (`_rows_since`)."""
        own_tx = not self._conn.in_transaction
        if own_tx:
            self._conn.execute("BEGIN")  # one snapshot for the stamp and the rows
        try:
            key = (str(self.path.resolve()), market, as_of, limit, self._stamp())
            hit = _BARS_MEMO.get(key[0])
            if hit is not None and hit[0] == key:
                return hit[1].copy()
            rows = self._rows_since(hit, key) if hit is not None else None
            if rows is None:
                rows = self._read_rows(market, as_of, limit)
            frame = _bars_frame(rows)
        finally:
            if own_tx:
                self._conn.execute("COMMIT")
        if len(_BARS_MEMO) >= 8:
            _BARS_MEMO.clear()
        _BARS_MEMO[key[0]] = (key, frame.copy(), rows)
        return frame

    def _rows_since(self, hit: tuple[tuple[Any, ...], pd.DataFrame, list[Any]],
                    key: tuple[Any, ...]) -> list[Any] | None:
        """The rows of `key`'s read from the remembered read `hit` and the rows dated from its
        as_of on; None (read everything) unless it is the same file, market and limit at an
        earlier or equal as_of, and nothing written since is dated before that as_of."""
        (path, market, before, limit, stamp), rows = hit[0], hit[2]
        if (path, market, limit) != (key[0], key[1], key[3]) or before > key[2]:
            return None
        now = key[4]
        if stamp[:2] != now[:2] or now[3] < stamp[3] or now[5] < stamp[5]:
            return None
        older = self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM bars WHERE rowid > ? AND market = ? AND date < ?) + "
            "(SELECT COUNT(*) FROM entries WHERE rowid > ? AND market = ? AND date < ?)",
            (stamp[3], market, before.isoformat(), stamp[5], market, before.isoformat())
        ).fetchone()[0]
        if older:
            return None
        extra = self._conn.execute(
            _ROWS_SQL + " AND b.date>=? ORDER BY b.date",
            (market, key[2].isoformat(), before.isoformat())).fetchall()
        out = rows + extra
        return out if limit is None else out[len(out) - min(len(out), int(limit)):]

    def _stamp(self) -> tuple[int, ...]:
        st = os.stat(self.path)
        row = self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM bars), (SELECT MAX(rowid) FROM bars), "
            "(SELECT COUNT(*) FROM entries), (SELECT MAX(rowid) FROM entries)").fetchone()
        return (st.st_dev, st.st_ino, *(-1 if v is None else int(v) for v in row))

    def _read_rows(self, market: str, as_of: date, limit: int | None) -> list[Any]:
        sql = _ROWS_SQL + " ORDER BY b.date DESC"
        args: list[object] = [market, as_of.isoformat()]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._conn.execute(sql, args).fetchall()[::-1]

    def revisions(self, market: str) -> pd.DataFrame:
        rows = self._conn.execute(
            "SELECT date, open, high, low, close, volume, recorded_at FROM bar_revisions "
            "WHERE market=? ORDER BY id", (market,)).fetchall()
        return pd.DataFrame(rows, columns=["date", *COLUMNS, "recorded_at"])



_ROWS_SQL = ("SELECT b.date, b.open, b.high, b.low, b.close, b.volume, e.price FROM bars b "
             "LEFT JOIN entries e ON e.market = b.market AND e.date = b.date "
             "WHERE b.market=? AND b.date<?")


def _bars_frame(rows: list[Any]) -> pd.DataFrame:
    """The bars frame of (date, open, high, low, close, volume, entry) rows, oldest first."""
    if not rows:
        frame = pd.DataFrame(rows, columns=["date", *COLUMNS, "entry"])
        frame["date"] = [date.fromisoformat(d) for d in frame["date"]]
        frame["entry"] = frame["entry"].astype(float)
        return frame.set_index("date")
    # column by column: the frame pandas would infer from the rows, several times faster
    cols = list(zip(*rows, strict=True))
    index = pd.Index([date.fromisoformat(d) for d in cols[0]], dtype=object, name="date")
    # np.array infers what pd.Series(values).infer_objects() would: float64 for REAL
    # columns, int64 for volume (tests/cycle/test_replay_speed.py compares the frames)
    data = {name: np.array(values) for name, values in zip(COLUMNS, cols[1:6], strict=True)}
    data["entry"] = np.array(cols[6], dtype=float)
    return pd.DataFrame(data, index=index)


def frame_to_bars(frame: pd.DataFrame) -> list[Bar]:
    return [Bar(d, float(r.open), float(r.high), float(r.low), float(r.close), int(r.volume))
            for d, r in zip(frame.index, frame.itertuples(index=False), strict=True)]


def bars_to_frame(bars: Sequence[Bar]) -> pd.DataFrame:
    frame = pd.DataFrame([[b.date, b.open, b.high, b.low, b.close, b.volume] for b in bars],
                         columns=["date", *COLUMNS])
    return frame.set_index("date")
