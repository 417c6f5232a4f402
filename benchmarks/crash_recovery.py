"""Benchmark: kill -9 at every named point of the money path, rerun, and count what went wrong.

    .venv/bin/python benchmarks/crash_recovery.py [--passes 0 1 2] [--ib]

For each kill point (hydra/faults.py) and pass count, a real child process runs the daily cycle
on the simulator (5 contracts, TWAP) and SIGKILLs itself there; the same date is then rerun.
With --ib, each money-path point is also killed on the IB path: ib_insync over the TWS protocol
to a real `hydra sim-gateway` process (its clock runs in real time: about 30 s per point).
Prints, per point: whether the process died there, the final position against the recorded
target, duplicate orderRefs, over-filled parents, executions missing from (or doubled in) the
journal, and the rerun's time to recover. Then the totals, and how many bad inputs the suite
refuses (tests/cycle/test_bad_inputs.py and tests/execution/test_money_path.py). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import cycle
from hydra.faults import POINTS

DAY = "2026-11-24"
CONFIG = ("[risk]\nmax_notional_fraction = 3.0\nmax_gross_notional_fraction = 3.0\n"
          "[execution]\ntwap_participation = 0.0001\n")
SCRIPT = ("import sys, json\nfrom hydra import cycle\n"
          "broker = {'broker': 'ib', 'port': int(sys.argv[3])} if len(sys.argv) > 3 else {}\n"
          "s = cycle.run_in_process(data_dir=sys.argv[1], as_of=sys.argv[2], contracts=5, "
          "**broker)\nprint(json.dumps({'target_position': s['target_position'], "
          "'resume': s.get('resume'), 'status': s['status']}))\n")
IB_CONFIG = CONFIG.replace("[risk]\n", "[risk]\nmax_orders_per_minute = 40\n") + (
    "wait_seconds = 2\ncross_wait_seconds = 3\npoll_seconds = 0.5\n"
    "cancel_timeout_seconds = 5\ntwap_window_seconds = 20\n")
ROOT = Path(__file__).resolve().parents[1]


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def one(point: str, after: int, ib: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        d.mkdir()
        (d / "hydra.toml").write_text(IB_CONFIG if ib else CONFIG)
        sys.path.insert(0, str(ROOT))
        from tests.kit import pin_signal, start_sim_gateway, stop_process

        pin_signal(d, +1)  # every case needs orders on DAY, whatever the model says there
        gateway, args, env = None, [str(d), DAY], dict(os.environ, HYDRA_DATA_DIR=str(d))
        if ib:

            gateway, port = start_sim_gateway(d, DAY)
            args.append(port)
            env["HYDRA_PAPER_PORTS"] = port
        try:
            killer = dict(env, HYDRA_KILL_AT=point, HYDRA_KILL_AFTER=str(after))
            rc = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=killer,
                                capture_output=True, timeout=300).returncode
            t0 = time.perf_counter()
            if ib:  # a fresh process, as the operator's rerun is
                out = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env,
                                     capture_output=True, text=True, timeout=300)
                s = json.loads(out.stdout.strip().splitlines()[-1])
            else:
                s = cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=5)
            recover = time.perf_counter() - t0
        finally:
            if gateway is not None:
                stop_process(gateway, signal.SIGINT)
        broker, journal = d / "broker" / "sim.sqlite", d / "journal" / "journal.sqlite"
        refs = [r for (r,) in _rows(broker, "SELECT order_ref FROM orders")]
        execs = set(_rows(broker, "SELECT exec_id FROM executions"))
        fills = _rows(journal, "SELECT exec_id FROM fills")
        [(pos,)] = _rows(broker, "SELECT COALESCE(SUM(CASE side WHEN 'BUY' THEN quantity "
                                 "ELSE -quantity END), 0) FROM executions")
        over = 0
        for ref, qty in _rows(journal, "SELECT order_ref, quantity FROM orders"):
            [(got,)] = _rows(broker, "SELECT COALESCE(SUM(quantity), 0) FROM executions "
                                     f"WHERE order_ref LIKE '{ref}-%'")
            over += got > qty
        return {"point": point, "after": after, "died": rc == -signal.SIGKILL,
                "broker": "ib" if ib else "sim",
                "target": s["target_position"], "position": pos,
                "duplicates": len(refs) - len(set(refs)), "overfilled": over,
                "lost": len(execs - set(fills)), "doubled": len(fills) - len(set(fills)),
                "recover_s": recover, "resume": s.get("resume") or s["status"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--ib", action="store_true", help="also on the IB path (sim-gateway)")
    args = ap.parse_args()
    rows = [one(p, a) for p in POINTS for a in args.passes]
    if args.ib:  # `hydra run`'s own point (before_index_finished) is broker-independent
        rows += [one(p, 1 if p in ("after_child_sent", "between_slices", "before_fill_journaled",
                                   "while_journaling") else 0, ib=True)
                 for p in POINTS if p != "before_index_finished"]
    print(f"{'kill point':24} {'broker':6} {'pass':>4} {'died':>5} {'target':>6} {'final':>5} "
          f"{'dup':>4} {'over':>4} {'lost':>4} {'dbl':>4} {'recover':>8}  rerun said")
    for r in rows:
        print(f"{r['point']:24} {r['broker']:6} {r['after']:>4} {r['died']!s:>5} {r['target']:>6} "
              f"{r['position']:>5} {r['duplicates']:>4} {r['overfilled']:>4} {r['lost']:>4} "
              f"{r['doubled']:>4} {r['recover_s']:>7.2f}s  {r['resume']}")
    died = [r for r in rows if r["died"]]
    ok = [r for r in died if r["position"] == r["target"] and not (
        r["duplicates"] or r["overfilled"] or r["lost"] or r["doubled"])]
    brokers = sorted({str(r["broker"]) for r in died})
    print(f"\nkill points x brokers survived: {len(ok)} of {len(died)} kills "
          f"({', '.join(brokers)}; {len(rows) - len(died)} runs ended before the point was "
          "reached)")
    print(f"duplicate orders {sum(r['duplicates'] for r in rows)}, over-fills "
          f"{sum(r['overfilled'] for r in rows)}, lost fills {sum(r['lost'] for r in rows)}, "
          f"doubled fills {sum(r['doubled'] for r in rows)}")
    rec = sorted(r["recover_s"] for r in died)
    if rec:
        print(f"time to recover (the rerun, in-process): median {rec[len(rec) // 2]:.2f} s, "
              f"max {rec[-1]:.2f} s")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "--co", "-n0", "-p",
                            "no:cacheprovider", "tests/cycle/test_bad_inputs.py",
                            "tests/execution/test_money_path.py",
                            "tests/broker/test_ib_faults.py", "-k",
                            "bad or damaged or quote or locked or limit or paused or read_only "
                            "or reject or refus or fault or wrong or cancels or link or client_id"],
                           capture_output=True, text=True, cwd=ROOT)
    n = sum(1 for line in tests.stdout.splitlines() if "::" in line)
    print(f"bad inputs refused (test cases): {n}")


if __name__ == "__main__":
    main()
