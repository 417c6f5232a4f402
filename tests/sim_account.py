"""A simulated account file holding exactly the executions a test or benchmark gives.

The report reads the simulator's executions from its file (hydra.broker.sim.columns); a
million of them cannot be traded through SimBroker in a test's time, so this writes the
file's rows directly, in the simulator's own schema. Not a way to trade: tests and
benchmarks only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from hydra.broker.sim.broker import _SCHEMA, SCHEMA_VERSION, _ts
from hydra.domain.broker import Execution


def seed_account(db_path: Path, executions: Iterable[Execution], account_id: str = "DUSIM0001",
                 seed: int = 7, clock: datetime | None = None) -> None:
    """An account file holding exactly these executions (one filled order each), for tests and
    benchmarks of what reads the account: not a way to trade."""
    now = _ts(clock or datetime.now(UTC))
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        with db:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                       (SCHEMA_VERSION, seed, account_id, 100_000.0, 2.35, now, now))
            rows = [(k + 1, e) for k, e in enumerate(executions)]
            db.executemany(
                "INSERT INTO orders (order_id, order_ref, con_id, local_symbol, symbol, "
                "contract_month, side, quantity, order_type, tif, status, filled, "
                "submitted_at, updated_at) VALUES (?, ?, ?, ?, ?, '', ?, ?, 'LMT', 'DAY', "
                "'Filled', ?, ?, ?)",
                ((k, e.order_ref, e.con_id, e.local_symbol, e.symbol, e.side, e.quantity,
                  e.quantity, _ts(e.time), _ts(e.time)) for k, e in rows))
            db.executemany(
                "INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((e.exec_id, k, e.order_ref, e.account_id, e.symbol, e.local_symbol, e.con_id,
                  e.side, e.quantity, e.price, _ts(e.time), e.commission, e.currency)
                 for k, e in rows))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
