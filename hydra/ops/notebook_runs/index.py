"""The run index: one SQLite row per run (parameters, outcome, sha256, code version), read
newest first without sorting the history; older index versions migrate on open."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hydra.ops.notebook_runs.jobs import RunError
from hydra.sqlite_tx import immediate


@dataclass
class RunRecord:
    run_id: str
    job: str
    notebook: str
    as_of: str
    parameters: dict[str, Any]
    started_at: str
    ended_at: str | None
    status: str  # running | succeeded | failed | skipped
    reason: str
    output_path: str | None  # relative to the data directory; None: no notebook (skipped)
    sha256: str | None
    hydra_version: str
    git_commit: str | None
    summary: dict[str, Any] | None
    scheduled_for: str | None = None  # the schedule slot (UTC) a cron firing ran for

    @property
    def short_outcome(self) -> str:
        s = self.summary or {}
        if not s:
            return self.reason
        if "headline" in s:
            return f"{s.get('status', '')}: {s['headline']}"
        return (f"{s.get('status', '')} {s.get('signal', '')} pos {s.get('position_before', '')}"
                f"→{s.get('position_after', '')} fills {s.get('fills', '')}")


SCHEMA_VERSION = 1
_COLUMNS = """
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    notebook TEXT NOT NULL,
    as_of TEXT NOT NULL,
    parameters TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    output_path TEXT UNIQUE,
    sha256 TEXT,
    hydra_version TEXT NOT NULL,
    git_commit TEXT,
    summary TEXT,
    scheduled_for TEXT
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_job_started ON runs(job, started_at);
CREATE INDEX IF NOT EXISTS runs_job_slot ON runs(job, scheduled_for);
"""
# Added to existing indexes on open, with no schema change (an older Hydra reads them too):
# the newest runs first without sorting the history (`hydra runs list`: 50,000 runs, 0.4 s to
# milliseconds), and the runs still marked running, which every reader reaps first, without
# a scan of the history.
_ADDED_INDEXES = {
    "runs_started": "CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at)",
    "runs_running": "CREATE INDEX IF NOT EXISTS runs_running ON runs(job) "
                    "WHERE status = 'running'",
}
# Version 0 (the first release) had output_path NOT NULL and no scheduled_for.
_V0_COLUMNS = ("run_id, job, notebook, as_of, parameters, started_at, ended_at, status, reason, "
               "output_path, sha256, hydra_version, git_commit, summary")


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._migrate()
            have = {r[0] for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'")}
            if not have >= _ADDED_INDEXES.keys():
                with self._tx() as db:
                    for statement in _ADDED_INDEXES.values():
                        db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run index {path} cannot be opened ({exc}); it was left "
                           "untouched: move it aside or restore it from a backup") from exc

    def _migrate(self) -> None:
        """Create the index, or bring an older one to this version in one transaction."""
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise RunError(f"the run index {self.path} has schema {version}; this Hydra "
                               f"understands up to {SCHEMA_VERSION}: upgrade Hydra")
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone()
            if exists:
                db.execute(f"CREATE TABLE runs_v1 ({_COLUMNS})")
                db.execute(f"INSERT INTO runs_v1 ({_V0_COLUMNS}) SELECT {_V0_COLUMNS} FROM runs")
                db.execute("DROP TABLE runs")
                db.execute("ALTER TABLE runs_v1 RENAME TO runs")
            else:
                db.execute(f"CREATE TABLE runs ({_COLUMNS})")
            for statement in filter(str.strip, _INDEXES.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    def add(self, rec: RunRecord) -> None:
        row = asdict(rec)
        row["parameters"] = json.dumps(rec.parameters, sort_keys=True, default=str)
        row["summary"] = json.dumps(rec.summary) if rec.summary is not None else None
        cols = ", ".join(row)
        with self._tx() as db:
            db.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    def finish(self, run_id: str, *, status: str, reason: str, sha256: str | None,
               summary: dict[str, Any] | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=?, sha256=?, summary=?, ended_at=? "
                "WHERE run_id=?",
                (status, reason, sha256, json.dumps(summary) if summary is not None else None,
                 _now(), run_id),
            )

    RUNNING_JOBS = "SELECT DISTINCT job FROM runs WHERE status = 'running' ORDER BY job"

    def running_jobs(self) -> list[str]:
        """Jobs with a run indexed as running (through runs_running: no scan of the history)."""
        return [r[0] for r in self._db.execute(self.RUNNING_JOBS)]

    def mark_interrupted(self, job: str, found_by: str) -> list[str]:
        """Runs of `job` still indexed as running, called while holding the job's lock: their
        process is gone (else it would hold the lock), so they are failed, interrupted."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT run_id FROM runs WHERE job=? AND status = 'running'", (job,))]
            for run_id in ids:
                db.execute("UPDATE runs SET status='failed', reason=?, ended_at=? "
                           "WHERE run_id=?",
                           (f"interrupted: the process running it died before it finished "
                            f"(found by {found_by}); a rerun of its date resumes from the "
                            "broker's position", _now(), run_id))
        return ids

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _record(row) if row else None

    def find(self, prefix: str) -> list[RunRecord]:
        """Runs whose id starts with `prefix` (operators type the first few characters)."""
        rows = self._db.execute("SELECT * FROM runs WHERE run_id >= ? AND run_id < ? "
                                "ORDER BY started_at", (prefix, prefix + "\uffff"))
        return [_record(r) for r in rows]

    def for_slot(self, job: str, slot: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? AND scheduled_for=? "
                               "ORDER BY started_at DESC LIMIT 1", (job, slot)).fetchone()
        return _record(row) if row else None

    def first(self, job: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? ORDER BY started_at LIMIT 1",
                               (job,)).fetchone()
        return _record(row) if row else None

    def last(self, job: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? ORDER BY started_at DESC "
                               "LIMIT 1", (job,)).fetchone()
        return _record(row) if row else None

    def list(self, *, job: str | None = None, status: str | None = None,
             since: date | None = None, limit: int | None = None) -> list[RunRecord]:
        clauses, args = [], []
        if job:
            clauses.append("job = ?")
            args.append(job)
        if status:
            clauses.append("status = ?")
            args.append(status)
        if since:
            clauses.append("as_of >= ?")
            args.append(since.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        # runs_started (started_at, then rowid) walked backwards: no sort of the history
        sql = f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_record(r) for r in self._db.execute(sql, args)]


def _record(row: sqlite3.Row) -> RunRecord:
    d = dict(row)
    d["parameters"] = json.loads(d["parameters"])
    d["summary"] = json.loads(d["summary"]) if d["summary"] else None
    return RunRecord(**d)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
