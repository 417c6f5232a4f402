"""A year of `hydra replay` (252 trading days) at default settings and with TWAP execution.

    .venv/bin/python benchmarks/replay.py [--mode default|twap|both] [--days 252] [--json OUT]
    .venv/bin/python benchmarks/replay.py --compare BEFORE.json AFTER.json

Each mode replays into a fresh temporary data dir and prints its wall time and a fingerprint
of what the replay did: P&L, parents / children / fills, a hash of the journaled fills (exec
id, price, quantity, time), a hash of the days (signal, target, position, equity, the loop's
decision), promotions and rollbacks. A speed-up must leave the fingerprint unchanged for the
same seed: `--json` writes it so a run before and a run after can be compared (`--compare`).
TWAP is selected as benchmarks/execution.py does: a tiny participation cap sends every order
to TWAP (3 contracts). Nothing is asserted here except by `--compare`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hydra.agent.journal import agent_db_path
from hydra.cycle.replay import replay
from hydra.paths import DataPaths
from hydra.reference.markets import get_market
from hydra.reference.sessions import trading_days

START = date(2025, 6, 2)  # where benchmarks/model_loop.py's year starts
TWAP_TOML = ("[execution]\ntwap_participation = 0.0001\n"  # every order goes to TWAP
             "[risk]\nmax_orders_per_minute = 1000\n")
MODES = {"default": (1, ""), "twap": (3, TWAP_TOML)}  # contracts, hydra.toml


def days_range(n: int) -> tuple[date, date]:
    days = trading_days(get_market("ZO"), START, START + timedelta(days=2 * n + 30))
    return days[0], days[n - 1]


def _digest(rows: Any) -> str:
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]


def fingerprint(root: Path, result: Any) -> dict[str, Any]:
    """What the replay did, free of wall-clock values (journaled_at, created_at, elapsed)."""
    db = sqlite3.connect(DataPaths(root).journal_db)
    try:
        fills = db.execute("SELECT exec_id, price, quantity, fill_time FROM fills "
                           "ORDER BY fill_time, exec_id").fetchall()
        orders = db.execute("SELECT order_ref, status, filled, avg_fill_price FROM orders "
                            "ORDER BY order_ref").fetchall()
        children = db.execute("SELECT child_ref, status, filled FROM child_orders "
                              "ORDER BY child_ref").fetchall()
    finally:
        db.close()
    agent = sqlite3.connect(agent_db_path(root))
    try:  # the loop's evidence (health, drift, walk-forward figures) and every P(up), unrounded
        events = agent.execute("SELECT as_of, cycle_id, step, outcome, model_id, candidate_id, "
                               "detail, data FROM events ORDER BY id").fetchall()
        predictions = agent.execute("SELECT as_of, model_id, last_bar_date, probability, "
                                    "direction, target FROM predictions ORDER BY as_of"
                                    ).fetchall()
    finally:
        agent.close()
    days = [(d.as_of, d.status, d.signal, d.model, d.target, d.position_after,
             round(d.net_liquidation, 6), d.action, d.detail) for d in result.days]
    rec = result.reconciliation.as_dict() if result.reconciliation else result.not_reconciled
    return {
        "days": len(result.days), "pnl": round(result.pnl, 6),
        "end_equity": round(result.end_equity, 6),
        "parents": len(orders), "children": len(children), "fills": len(fills),
        "fills_hash": _digest(fills), "orders_hash": _digest(orders + children),
        "days_hash": _digest(days),
        "candidates": result.count("train"), "promotions": result.count("promote"),
        "rollbacks": result.count("rollback"), "drift_days": result.drift_days,
        "steps_hash": _digest(sorted(result.steps.items())),
        "events_hash": _digest(events), "predictions_hash": _digest([
            (*p[:3], repr(p[3]), *p[4:]) for p in predictions]),
        "reconciliation_hash": _digest(rec),
    }


def import_modules() -> None:
    """What `hydra replay` imports before its first day (pandas, scipy.stats, scikit-learn via
    the loop): paid once per process, so timed apart and not charged to either mode."""
    import hydra.agent.loop
    import hydra.broker.sim.broker
    import hydra.cycle  # noqa: F401


def run_mode(mode: str, n_days: int, *, fsync_each_commit: bool = False
             ) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of this process, fingerprint); the CPU figure is the one
    to trust on a machine shared with other jobs (the wall time includes their turns and
    every fsync's wait)."""
    contracts, toml = MODES[mode]
    start, end = days_range(n_days)
    root = Path(tempfile.mkdtemp(prefix=f"hydra-bench-replay-{mode}-"))
    try:
        if toml:
            (root / "hydra.toml").write_text(toml)
        t0, c0 = time.perf_counter(), time.process_time()
        extra = {"fsync_each_commit": True} if fsync_each_commit else {}  # runs older code
        result = replay(start=start, end=end, contracts=contracts, data_dir=root, **extra)
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        return took, cpu, fingerprint(root, result)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    bad = 0
    for mode in sorted(set(a) & set(b) & set(MODES)):
        fa, fb = a[mode]["fingerprint"], b[mode]["fingerprint"]
        diff = [k for k in fa if fa[k] != fb.get(k)]
        cpu = (f"; CPU {a[mode]['cpu_seconds']:.2f} s -> {b[mode]['cpu_seconds']:.2f} s"
               if "cpu_seconds" in a[mode] and "cpu_seconds" in b[mode] else "")
        print(f"{mode}: {a[mode]['seconds']:.2f} s -> {b[mode]['seconds']:.2f} s "
              f"({a[mode]['seconds'] / b[mode]['seconds']:.1f}x){cpu}; fingerprint "
              + ("EQUAL" if not diff else f"DIFFERS in {', '.join(diff)}"))
        bad += bool(diff)
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=[*MODES, "both"], default="both")
    ap.add_argument("--days", type=int, default=252)
    ap.add_argument("--json", type=Path, help="write {mode: {seconds, fingerprint}} here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    t0 = time.perf_counter()
    import_modules()
    out: dict[str, Any] = {"imports_seconds": round(time.perf_counter() - t0, 3)}
    print(f"imports (hydra.cycle, the loop, the simulator): {out['imports_seconds']:.2f} s, "
          "paid once per process, before the timed replays")
    for mode in (MODES if args.mode == "both" else [args.mode]):
        took, cpu, fp = run_mode(mode, args.days)
        out[mode] = {"seconds": round(took, 3), "cpu_seconds": round(cpu, 3), "fingerprint": fp}
        print(f"replay {mode}: {fp['days']} days in {took:.2f} s wall, {cpu:.2f} s CPU "
              f"({took / fp['days'] * 1000:.0f} ms/day)")
        print("  " + json.dumps(fp, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
