"""How long the model's parts take: a healthy maintain step, a degraded one, a replayed year.

Run: .venv/bin/python benchmarks/model_loop.py   (prints figures; nothing is asserted)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from hydra import cycle
from hydra.cycle.replay import replay
from hydra.reference.markets import get_market
from hydra.reference.sessions import next_trading_day


def main() -> None:
    from hydra.broker.sim.market import SimMarket

    t0 = time.perf_counter()
    SimMarket(get_market("ZO"), 12345).bars_before(date(2026, 11, 24), 300)
    print(f"300 daily bars from a fresh simulated market: {time.perf_counter() - t0:.2f}s")
    root = Path(tempfile.mkdtemp(prefix="hydra-bench-"))
    t0 = time.perf_counter()
    result = replay(start=date(2025, 6, 2), end=date(2026, 6, 1), data_dir=root)
    year = time.perf_counter() - t0
    print(f"replay of {len(result.days)} simulated days: {year:.1f}s "
          f"({year / len(result.days) * 1000:.0f} ms per cycle incl. execution); "
          f"{result.count('train')} candidates, {result.count('promote')} promotions, "
          f"{result.count('rollback')} rollbacks")

    # maintain-step timings per decision kind, from fresh single cycles on the same data dir
    timings: dict[str, list[float]] = {}
    day = date(2026, 6, 2)
    zo = get_market("ZO")
    for _ in range(30):
        cyc = cycle.open_cycle(as_of=day, market="ZO", data_dir=str(root))
        try:
            cycle.check_account(cyc)
            status = cycle.maintain_model(cyc)
            timings.setdefault(status.action, []).append(status.outcome.elapsed_seconds)
            sig = cycle.compute_signal(cyc)
            plan = cycle.plan_orders(cyc, sig)
            cycle.execute(cyc, plan, sig)
        finally:
            cyc.close()
        day = next_trading_day(zo, day)
    for action, secs in sorted(timings.items()):
        print(f"maintain_model ({action}): n={len(secs)} median {statistics.median(secs):.3f}s "
              f"max {max(secs):.3f}s")


if __name__ == "__main__":
    main()
