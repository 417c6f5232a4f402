"""Benchmark: the reconciliation report over a large journal, from the SQLite file to the metrics.

    .venv/bin/python benchmarks/reconcile.py [--fills 1000000] [--batch 50000]

Writes N fills with Journal.record_fills in batches (seeded, two routes, three contracts), then
times each step the notebook and `hydra fill-report --reconcile` run: reading the journal,
totals, slippage statistics by route, the broker comparison against N executions (the same
fills as the broker would report them, one of them altered so there is a break to find), and
the position history. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from hydra import fill_report, reconcile
from hydra.broker.base import Execution, Position
from hydra.config import load_config
from hydra.journal import FillRecord, Journal
from hydra.paths import DataPaths

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
    out = []
    for i in range(n):
        when = START + timedelta(seconds=30 * i)
        day = (START.date() + timedelta(days=i // 400)).isoformat()
        ref = f"HYD-ZO-{day.replace('-', '')}-{i % 400}-s1-a1"
        p, a, q = float(predicted[i]) * TICK, float(actual[i]) * TICK, int(qty[i])
        out.append(replace(
            BASE, exec_id=f"SIM.{i:08d}.01.01", order_ref=ref, parent_ref=ref[:-6],
            cycle_id=f"ZO-{day.replace('-', '')}", as_of=day,
            local_symbol=("ZOH7", "ZOK7", "ZON7")[i % 3], side="BUY" if i % 2 else "SELL",
            quantity=q, price=MID + a, fill_time=when.isoformat(),
            route="twap" if i % 4 else "limit-patience",
            predicted_price=p, predicted_ticks=p / TICK, predicted_bps=p / MID * 1e4,
            predicted_usd=p * POINT_VALUE * q, actual_price=a, actual_ticks=a / TICK,
            actual_bps=a / MID * 1e4, actual_usd=a * POINT_VALUE * q, commission=2.35 * q))
    return out


def as_executions(fills: list[FillRecord]) -> list[Execution]:
    return [Execution(f.exec_id, str(i), f.order_ref, f.account_id, f.symbol, f.local_symbol, 1,
                      f.side, f.quantity, f.price, datetime.fromisoformat(f.fill_time),
                      f.commission) for i, f in enumerate(fills)]


def timed(label: str, fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    print(f"  {label:<52} {time.perf_counter() - t:8.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fills", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=50_000)
    args = ap.parse_args()
    n = args.fills
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = DataPaths(root)
        t = time.perf_counter()
        fills = make_fills(n)
        print(f"generated {n:,} fills in memory: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        with Journal(paths.journal_db) as j:
            for k in range(0, n, args.batch):
                j.record_fills(fills[k:k + args.batch])
        took = time.perf_counter() - t
        size = paths.journal_db.stat().st_size / 1e6
        print(f"journaled with record_fills in batches of {args.batch:,}: {took:.1f} s "
              f"({n / took:,.0f} fills/s), {size:,.0f} MB")

        executions = as_executions(fills)
        executions[n // 2] = replace(executions[n // 2], price=executions[n // 2].price + TICK)
        net: dict[str, int] = {}
        for f in fills:
            net[f.local_symbol] = net.get(f.local_symbol, 0) + (1 if f.side == "BUY" else -1) \
                * f.quantity
        positions = [Position("DUSIM0001", "ZO", k, 1, v, MID, MID, POINT_VALUE, 0, 0)
                     for k, v in net.items() if v]
        del fills

        cfg = load_config().reconcile
        print(f"the report over {n:,} fills (every fill in range):")
        total = time.perf_counter()
        rep = fill_report.open_report(as_of=date(2030, 1, 1), data_dir=str(root), broker="none",
                                      market="ZO")
        journal = timed("read the journal (Journal.fills -> DataFrame)", rep.journal_fills)
        fl = timed("fill list and totals", fill_report.fill_list, rep)
        slip = timed("slippage statistics and verdicts, overall + 2 routes",
                     fill_report.slippage, rep, fl)
        check = timed(f"broker comparison vs {n:,} executions + positions",
                      reconcile.reconcile, journal, executions, positions, cfg, since=None,
                      until=rep.params.until, timezone="America/Chicago", broker="sim",
                      account_id="DUSIM0001", broker_time=None)
        summary = timed("summary dict (the glued scrap)", fill_report.summarize, rep, fl, slip,
                        check)
        print(f"  {'total, SQLite file to metrics':<52} {time.perf_counter() - total:8.2f} s")
        t = slip.overall.stats["ticks"]
        print(f"result: {fl.totals.fills:,} fills, {fl.totals.contracts:,} contracts; bias "
              f"{t.bias:+.3f} ticks ({slip.overall.bias_colour}), correlation "
              f"{t.correlation:.3f}, multiplier {t.multiplier:.2f}; {summary['breaks']} break(s): "
              f"{', '.join(b.kind for b in check.breaks)}")


if __name__ == "__main__":
    main()
