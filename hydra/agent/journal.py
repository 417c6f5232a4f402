"""The agent journal: every step the loop takes, the signals the champion gave, the loop's state.

SQLite (WAL) under <data_dir>/agent/agent.sqlite. `events` is append-only: one row per step
(observe, diagnose, train, evaluate, promote, rollback, decision, ...), stamped with the
broker's time and the trade date, so a replay's history reads like a daily run's. `state`
holds the rollback hysteresis per market; `predictions` what each cycle's champion said.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from hydra.sqlite_tx import immediate, relax

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    as_of TEXT NOT NULL,
    market TEXT NOT NULL,
    cycle_id TEXT NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT NOT NULL,
    model_id TEXT,
    candidate_id TEXT,
    detail TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_asof ON events(market, as_of);
CREATE INDEX IF NOT EXISTS events_cycle ON events(cycle_id, step);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the agent journal is append-only'); END;
CREATE TABLE IF NOT EXISTS predictions (
    market TEXT NOT NULL,
    as_of TEXT NOT NULL,
    model_id TEXT NOT NULL,
    last_bar_date TEXT NOT NULL,
    probability REAL NOT NULL,
    direction INTEGER NOT NULL,
    target INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (market, as_of)
);
CREATE TABLE IF NOT EXISTS state (
    market TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""

OUTCOMES = ("healthy", "degraded", "drifted", "not_judged", "trained", "won", "lost",
            "promoted", "rolled_back", "rejected", "skipped", "initial", "watching", "error")


def agent_db_path(root: Path) -> Path:
    return Path(root) / "agent" / "agent.sqlite"


@dataclass(frozen=True)
class Event:
    id: int
    at: str
    as_of: str
    market: str
    cycle_id: str
    step: str
    outcome: str
    model_id: str | None
    candidate_id: str | None
    detail: str
    data: dict[str, Any]


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot journal {type(value).__name__}")


class AgentJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = relax(sqlite3.connect(self.path, timeout=30, isolation_level=None))
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AgentJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with immediate(self._conn):
            yield

    # ------------------------------------------------------------------------- events
    def record(self, *, at: datetime, as_of: date, market: str, cycle_id: str, step: str,
               outcome: str, detail: str, model_id: str | None = None,
               candidate_id: str | None = None, data: dict[str, Any] | None = None) -> int:
        cur = self._conn.execute(
            "INSERT INTO events (at, as_of, market, cycle_id, step, outcome, model_id, "
            "candidate_id, detail, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (at.isoformat(), as_of.isoformat(), market, cycle_id, step, outcome, model_id,
             candidate_id, detail, json.dumps(data or {}, default=_json_default)),
        )
        return int(cur.lastrowid or 0)

    def events(self, *, market: str | None = None, since: date | None = None,
               until: date | None = None, outcome: str | None = None, step: str | None = None,
               cycle_id: str | None = None, model_id: str | None = None,
               limit: int | None = None, newest_first: bool = False) -> list[Event]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        for col, op, val in (("market", "=", market), ("as_of", ">=", since),
                             ("as_of", "<=", until), ("outcome", "=", outcome),
                             ("step", "=", step), ("cycle_id", "=", cycle_id),
                             ("model_id", "=", model_id)):
            if val is not None:
                sql += f" AND {col} {op} ?"
                args.append(val.isoformat() if isinstance(val, date) else val)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [Event(**{**dict(r), "data": json.loads(r["data"])})
                for r in self._conn.execute(sql, args)]

    def frame(self, **filters: Any) -> pd.DataFrame:
        rows = [e.__dict__ for e in self.events(**filters)]
        cols = ["id", "at", "as_of", "market", "cycle_id", "step", "outcome", "model_id",
                "candidate_id", "detail", "data"]
        return pd.DataFrame(rows, columns=cols)

    def decision(self, cycle_id: str) -> Event | None:
        """This cycle's final loop decision, if the loop already ran for it."""
        found = self.events(cycle_id=cycle_id, step="decision", limit=1, newest_first=True)
        return found[0] if found else None

    def last_decision(self, market: str) -> Event | None:
        found = self.events(market=market, step="decision", limit=1, newest_first=True)
        return found[0] if found else None

    def experiments_between(self, market: str, start: date, end: date) -> list[Event]:
        """Candidate trainings (budgeted experiments) with trade dates in [start, end]."""
        return self.events(market=market, step="train", since=start, until=end)

    # -------------------------------------------------------------------- predictions
    def record_prediction(self, *, market: str, as_of: date, model_id: str,
                          last_bar_date: date, probability: float, direction: int,
                          target: int, recorded_at: datetime) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO predictions VALUES (?,?,?,?,?,?,?,?)",
            (market, as_of.isoformat(), model_id, last_bar_date.isoformat(), float(probability),
             int(direction), int(target), recorded_at.isoformat()),
        )

    def predictions(self, market: str) -> pd.DataFrame:
        rows = self._conn.execute(
            "SELECT * FROM predictions WHERE market=? ORDER BY as_of", (market,)).fetchall()
        cols = ["market", "as_of", "model_id", "last_bar_date", "probability", "direction",
                "target", "recorded_at"]
        return pd.DataFrame([tuple(r) for r in rows], columns=cols)

    # -------------------------------------------------------------------------- state
    def get_state(self, market: str) -> dict[str, Any]:
        row = self._conn.execute("SELECT data FROM state WHERE market=?", (market,)).fetchone()
        return json.loads(row[0]) if row else {}

    def put_state(self, market: str, data: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO state (market, data) VALUES (?, ?) "
            "ON CONFLICT(market) DO UPDATE SET data=excluded.data",
            (market, json.dumps(data, default=_json_default)),
        )
