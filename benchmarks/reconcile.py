"""Benchmark: the reconciliation report over a large journal, from the SQLite file to the metrics.

    .venv/bin/python benchmarks/reconcile.py [--fills 1000000] [--check 50000]

Writes N fills with Journal.record_fills (seeded, two routes, three contracts), then times the
report's steps as the notebook and `hydra fill-report --reconcile` run them: reading the
journal (in columns, Journal.fill_columns: numpy and Arrow, no DataFrame per fill), totals,
slippage statistics by route, the broker comparison against N executions (one altered, so
there is a break to find: read from a simulated account file holding them, as the report reads
the simulator's, in a thread begun when the report opens), the summary. First it runs the
straightforward reference path (Journal.fills: SQL rows into pandas, then tca's and breaks'
DataFrame functions) and the fast path on `--check` fills and asserts their summaries (every metric:
bias, RMSE, pessimism multiplier, breaks...) are equal, double for double; it prints both
times side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hydra.broker.columns import ExecutionColumns
from hydra.broker.sim.columns import read_execution_columns
from hydra.domain.broker import Execution, Position
from hydra.execution.journal import FillRecord, Journal
from hydra.paths import DataPaths
from hydra.reconcile import breaks, fill_report

TICK, POINT_VALUE, MID = 0.25, 50.0, 500.0
BASE = FillRecord(
    exec_id="", order_ref="", parent_ref=None, cycle_id="", as_of="", symbol="ZO",
    local_symbol="ZOH7", side="BUY", quantity=1, price=MID, fill_time="", route="twap", slice=1,
    decision_mid=MID, arrival_mid=MID, tick=TICK, point_value=POINT_VALUE, predicted_price=None,
    predicted_ticks=None, predicted_bps=None, predicted_usd=None, actual_price=None,
    actual_ticks=None, actual_bps=None, actual_usd=None, commission=2.35, latency_ms=100.0,
    broker="sim", account_id="DUSIM0001",
)
START = datetime(2020, 1, 2, 15, 0, tzinfo=UTC)


def make_fills(n: int, seed: int = 7) -> list[FillRecord]:
    rng = np.random.default_rng(seed)
    predicted = rng.uniform(0.8, 1.6, n)
    actual = np.round(predicted + rng.normal(0.1, 1.0, n))  # whole ticks, as fills are
    qty = rng.integers(1, 4, n)
    base = {k: getattr(BASE, k) for k in BASE.__dataclass_fields__}
    out = []
    for i in range(n):
        when = START + timedelta(seconds=30 * i)
        day = (START.date() + timedelta(days=i // 400)).isoformat()
        ref = f"HYD-ZO-{day.replace('-', '')}-{i % 400}-s1-a1"
        p, a, q = float(predicted[i]) * TICK, float(actual[i]) * TICK, int(qty[i])
        side = "BUY" if i % 2 else "SELL"
        out.append(FillRecord(**(base | dict(
            exec_id=f"SIM.{i:08d}.01.01", order_ref=ref, parent_ref=ref[:-6],
            cycle_id=f"ZO-{day.replace('-', '')}", as_of=day,
            local_symbol=("ZOH7", "ZOK7", "ZON7")[i % 3], side=side,
            quantity=q, price=MID + (a if side == "BUY" else -a), fill_time=when.isoformat(),
            route="twap" if i % 4 else "limit-patience",
            predicted_price=p, predicted_ticks=p / TICK, predicted_bps=p / MID * 1e4,
            predicted_usd=p * POINT_VALUE * q, actual_price=a, actual_ticks=a / TICK,
            actual_bps=a / MID * 1e4, actual_usd=a * POINT_VALUE * q, commission=2.35 * q))))
    return out


def as_executions(fills: list[FillRecord]) -> list[Execution]:
    return [Execution(f.exec_id, str(i), f.order_ref, f.account_id, f.symbol, f.local_symbol, 1,
                      f.side, f.quantity, f.price, datetime.fromisoformat(f.fill_time),
                      f.commission) for i, f in enumerate(fills)]


def broker_side(fills: list[FillRecord]) -> tuple[list[Execution], list[Position]]:
    """The broker's view of the same fills, one execution's price altered (one break)."""
    executions = as_executions(fills)
    k = len(fills) // 2
    executions[k] = replace(executions[k], price=executions[k].price + TICK)
    net: dict[str, int] = {}
    for f in fills:
        net[f.local_symbol] = net.get(f.local_symbol, 0) + (1 if f.side == "BUY" else -1) \
            * f.quantity
    positions = [Position("DUSIM0001", "ZO", k, 1, v, MID, MID, POINT_VALUE, 0, 0)
                 for k, v in net.items() if v]
    return executions, positions


def build(root: Path, n: int, batch: int = 50_000
          ) -> tuple[list[FillRecord], float, list[Execution], list[Position]]:
    """N fills journaled in `root` (the real write path) and the broker's side of them in the
    simulated account file there; returns the fills, bytes per fill and the broker's side."""
    paths = DataPaths(root)
    fills = make_fills(n)
    with Journal(paths.journal_db) as j:
        for k in range(0, n, batch):
            j.record_fills(fills[k:k + batch])
        j._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    executions, positions = broker_side(fills)
    paths.sim_db.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.sim_account import seed_account  # the account file's rows, written directly

    seed_account(paths.sim_db, executions)
    return fills, paths.journal_db.stat().st_size / n, executions, positions


def report(root: Path, executions: list[Execution], positions: list[Position], *,
           reference: bool = False, steps: dict[str, float] | None = None) -> dict[str, Any]:
    """The report's metrics (the summary dict), by the fast path or the reference path, as
    fill_report.build runs them: the fast path reads the executions from the account file in
    columns, in a thread begun at the start (fill_report.prefetch_broker); the reference is
    given them as objects. Positions are given (the simulator replays them from its
    executions: the broker's own work, and IB reports them)."""
    steps = {} if steps is None else steps

    def step(label: str, fn, *args, **kw):
        t = time.perf_counter()
        out = fn(*args, **kw)
        steps[label] = time.perf_counter() - t
        return out

    def read_broker() -> ExecutionColumns:
        t = time.perf_counter()
        out = read_execution_columns(DataPaths(root).sim_db, "ZO")
        breaks.prepare_executions(out)  # as fill_report.prefetch_broker's thread does
        steps["  (its read, in the thread)"] = time.perf_counter() - t
        return out

    rep = step("open the report", fill_report.open_report, as_of=date(2030, 1, 1),
               data_dir=str(root), broker="sim", market="ZO", reference=reference)
    if not reference:
        pool = ThreadPoolExecutor(1)
        pending = pool.submit(read_broker)
        pool.shutdown(wait=False)
    if reference:  # the straightforward path: SQL rows into pandas
        step("read the journal (SQL rows into pandas)", rep.journal_fills)
    else:
        step("read the journal (columns)", rep.journal_columns)
    fl = step("fill list and totals", fill_report.fill_list, rep)
    slip = step("slippage statistics, overall + 2 routes", fill_report.slippage, rep, fl)
    broker: list[Execution] | ExecutionColumns = executions
    if not reference:
        broker = step("the sim broker's executions (file, columns: wait)", pending.result)
    snap = fill_report.BrokerSnapshot("sim", "DUSIM0001", None, broker, positions,
                                      "compared", "sim account DUSIM0001 (benchmark)")
    check = step("broker comparison + positions", fill_report.broker_check, rep, snap)
    return step("summary", fill_report.summarize, rep, fl, slip, check)


def timed_report(root: Path, executions: list[Execution], positions: list[Position],
                 reference: bool = False) -> tuple[float, dict[str, Any], dict[str, float]]:
    steps: dict[str, float] = {}
    t = time.perf_counter()
    summary = report(root, executions, positions, reference=reference, steps=steps)
    return time.perf_counter() - t, summary, steps


def check_equal(n: int) -> tuple[float, float]:
    """Fast and reference paths on n fills: the same summary, every metric; their times."""
    with tempfile.TemporaryDirectory() as tmp:
        _, _, executions, positions = build(Path(tmp), n)
        ref_s, ref, _ = timed_report(Path(tmp), executions, positions, reference=True)
        fast_s, fast, _ = timed_report(Path(tmp), executions, positions)
    if fast != ref:
        diff = [k for k in ref if ref[k] != fast.get(k)]
        raise AssertionError(f"the fast report differs from the reference in {diff}")
    return fast_s, ref_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fills", type=int, default=1_000_000)
    ap.add_argument("--check", type=int, default=50_000,
                    help="fills on which fast and reference summaries must be equal")
    args = ap.parse_args()
    fast_s, ref_s = check_equal(args.check)
    print(f"{args.check:,} fills: fast {fast_s:.2f} s, reference (Journal.fills) {ref_s:.2f} s "
          f"({ref_s / fast_s:.1f}x): every metric equal")
    n = args.fills
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        fills, per_fill, executions, positions = build(Path(tmp), n)
        print(f"journaled {n:,} fills with record_fills (and the sim account's executions): "
              f"{time.perf_counter() - t:.1f} s, {per_fill:.0f} bytes per fill")
        del fills
        total, summary, steps = timed_report(Path(tmp), executions, positions)
    print(f"the report over {n:,} fills (every fill in range):")
    for label, seconds in steps.items():
        print(f"  {label:<52} {seconds:8.2f} s")
    print(f"  {'total, SQLite file to metrics':<52} {total:8.2f} s")
    t = summary["slippage"]["overall"]["stats"]["ticks"]
    print(f"result: {summary['fills']['fills']:,} fills; bias {t['bias']:+.3f} ticks, RMSE "
          f"{t['rmse']:.3f}, multiplier {t['multiplier']:.2f}; {summary['breaks']} break(s)")


if __name__ == "__main__":
    main()
