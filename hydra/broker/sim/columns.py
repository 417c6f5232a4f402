"""The simulated account's executions read from its SQLite file as columns (read only).

`SimBroker.executions()` builds an `Execution` per row (a datetime parsed each): seconds for
a million. The reconciliation needs six values of each (hydra.broker.columns); ADBC's SQLite
driver hands them over as Arrow columns with the GIL released, so the read can overlap the
journal's (hydra.reconcile.fill_report.prefetch_broker). Executions are only ever inserted,
never updated or deleted, so the few a report lists are looked up later by rowid.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hydra.broker.columns import ExecutionColumns
from hydra.broker.sim.broker import _execution_from_row
from hydra.domain.broker import BrokerError, Execution

_COLUMNS = "rowid, exec_id, order_ref, side, quantity, price, commission, time"


def _uri(path: Path) -> str:
    return f"file:{Path(path).resolve()}?mode=ro"


def read_execution_columns(db_path: Path, market: str | None = None) -> ExecutionColumns:
    """Every execution of the account (of `market` only, if given), in the order of
    SimBroker.executions() (time, then execId): the same executions, as columns."""
    import adbc_driver_sqlite.dbapi as adbc

    where, args = ("WHERE symbol = ?", [market]) if market else ("", [])
    with adbc.connect(_uri(db_path)) as conn, conn.cursor() as cur:
        # one batch: Arrow types a column from the rows it has seen (see journal._read_fills)
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(2**30)})
        cur.execute(f"SELECT {_COLUMNS} FROM executions {where}", args)
        table = cur.fetch_arrow_table()
    if not table.num_rows:
        return ExecutionColumns(market, pa.array([], pa.string()), pa.array([], pa.string()),
                                pa.array([], pa.string()), np.zeros(0, "int64"), np.zeros(0),
                                np.zeros(0), lambda at: [])
    table = _in_time_order(table)

    def col(name: str) -> pa.Array:
        return table[name].combine_chunks()

    def text(name: str) -> pa.Array:
        return col(name).cast(pa.string())

    commission = col("commission")
    rowids = np.asarray(col("rowid").to_numpy(), dtype="int64")
    return ExecutionColumns(
        market, text("exec_id"), text("order_ref"), text("side"),
        np.asarray(col("quantity").to_numpy(), dtype="int64"),
        np.asarray(col("price").to_numpy(), dtype="float64"),
        np.asarray(commission.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float),
        lambda at: executions_at(db_path, rowids[at]))


def _in_time_order(table: pa.Table) -> pa.Table:
    """The rows ORDER BY time, exec_id (SQLite's BINARY order is Arrow's byte order). The
    table's own order (insertion) almost always is that already: checked, sorted if not."""
    if table.num_rows < 2:
        return table
    t, e = table["time"].combine_chunks(), table["exec_id"].combine_chunks()
    later = pc.greater(t[1:], t[:-1])
    tie_in_order = pc.and_(pc.equal(t[1:], t[:-1]), pc.greater(e[1:], e[:-1]))
    if pc.all(pc.or_(later, tie_in_order)).as_py():
        return table
    return table.take(pc.sort_indices(table, [("time", "ascending"), ("exec_id", "ascending")]))


def executions_at(db_path: Path, rowids: np.ndarray) -> list[Execution]:
    """The executions with these rowids, in that order, as SimBroker.executions() builds them."""
    wanted = [int(r) for r in rowids]
    found: dict[int, Execution] = {}
    db = sqlite3.connect(_uri(db_path), uri=True)
    db.row_factory = sqlite3.Row
    try:
        for k in range(0, len(wanted), 500):
            part = wanted[k:k + 500]
            for r in db.execute(f"SELECT rowid AS row_id, * FROM executions WHERE rowid IN "
                                f"({', '.join('?' * len(part))})", part):
                found[r["row_id"]] = _execution_from_row(r)
    finally:
        db.close()
    missing = [r for r in wanted if r not in found]
    if missing:
        raise BrokerError(f"executions {missing[:5]} left the simulated account {db_path} while "
                          "the report read it; run the report again")
    return [found[r] for r in wanted]
