"""Benchmark: journal insert rates, and a year of simulated daily cycles with TWAP execution.

    .venv/bin/python benchmarks/execution.py [--days 252] [--fills 20000]

Prints figures; asserts nothing (speed targets live here, not in the tests).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hydra import cycle
from hydra.execution.journal import FillRecord, Journal
from hydra.reference.markets import get_market
from hydra.reference.sessions import trading_days

BASE = FillRecord(
    exec_id="", order_ref="HYD-ZO-20261124-1-s1-a1", parent_ref="HYD-ZO-20261124-1",
    cycle_id="ZO-20261124", as_of="2026-11-24", symbol="ZO", local_symbol="ZOH7", side="BUY",
    quantity=1, price=320.25, fill_time="2026-11-24T16:00:00+00:00", route="twap", slice=1,
    decision_mid=320.0, arrival_mid=320.125, tick=0.25, point_value=50.0, predicted_price=0.15,
    predicted_ticks=0.6, predicted_bps=4.7, predicted_usd=7.5, actual_price=0.125,
    actual_ticks=0.5, actual_bps=3.9, actual_usd=6.25, commission=2.35, latency_ms=100.0,
    broker="sim", account_id="DUSIM0001",
)


def journal_rates(n: int, root: Path) -> None:
    with Journal(root / "one.sqlite") as j:
        t = time.perf_counter()
        for i in range(n):
            j.record_fill(replace(BASE, exec_id=f"B.{i:08d}.01"))
        one = n / (time.perf_counter() - t)
    with Journal(root / "batch.sqlite") as j:
        t = time.perf_counter()
        j.record_fills(replace(BASE, exec_id=f"B.{i:08d}.01") for i in range(n))
        batch = n / (time.perf_counter() - t)
    print(f"journal inserts, one commit per fill (synchronous=FULL): {one:,.0f} fills/s")
    print(f"journal inserts, batched in one transaction:            {batch:,.0f} fills/s")


def year_of_cycles(days: int, root: Path) -> None:
    (root / "hydra.toml").write_text(
        "[execution]\ntwap_participation = 0.0001\n"  # every order goes to TWAP
        "[risk]\nmax_orders_per_minute = 1000\n")
    zo = get_market("ZO")
    dates = trading_days(zo, zo_start(days), zo_end())[-days:]
    t = time.perf_counter()
    traded = children = 0
    for d in dates:
        s = cycle.run_in_process(as_of=d.isoformat(), data_dir=str(root), contracts=3)
        traded += s["orders_sent"]
        children += s["child_orders"]
    took = time.perf_counter() - t
    print(f"{len(dates)} simulated trading days of the cycle in-process (TWAP): {took:.1f} s "
          f"({took / len(dates) * 1000:.0f} ms/day; {traded} parent orders, {children} child "
          "orders)")


def zo_start(days: int):
    from datetime import date, timedelta

    return date(2026, 11, 25) - timedelta(days=int(days * 1.6) + 10)


def zo_end():
    from datetime import date

    return date(2026, 11, 25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=252)
    ap.add_argument("--fills", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal_rates(args.fills, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        year_of_cycles(args.days, Path(tmp))


if __name__ == "__main__":
    main()
