"""Benchmark: kill -9 at every named point of the money path, rerun, and count what went wrong.

    .venv/bin/python benchmarks/crash_recovery.py [--passes 0 1 2]

For each kill point (hydra/faults.py) and pass count, a real child process runs the daily cycle
on the simulator (5 contracts, TWAP) and SIGKILLs itself there; the same date is then rerun.
Prints, per point: whether the process died there, the final position against the recorded
target, duplicate orderRefs, over-filled parents, executions missing from (or doubled in) the
journal, and the rerun's time to recover. Then the totals, and how many bad inputs the suite
refuses (tests/test_bad_inputs.py and tests/test_money_path.py). Asserts nothing.
"""

from __future__ import annotations

import argparse
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
SCRIPT = ("import sys\nfrom hydra import cycle\n"
          "cycle.run_in_process(data_dir=sys.argv[1], as_of=sys.argv[2], contracts=5)\n")


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def one(point: str, after: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        d.mkdir()
        (d / "hydra.toml").write_text(CONFIG)
        env = dict(os.environ, HYDRA_KILL_AT=point, HYDRA_KILL_AFTER=str(after))
        rc = subprocess.run([sys.executable, "-c", SCRIPT, str(d), DAY], env=env,
                            capture_output=True, timeout=300).returncode
        t0 = time.perf_counter()
        s = cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=5)
        recover = time.perf_counter() - t0
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
                "target": s["target_position"], "position": pos,
                "duplicates": len(refs) - len(set(refs)), "overfilled": over,
                "lost": len(execs - set(fills)), "doubled": len(fills) - len(set(fills)),
                "recover_s": recover, "resume": s.get("resume") or s["status"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args()
    rows = [one(p, a) for p in POINTS for a in args.passes]
    print(f"{'kill point':24} {'pass':>4} {'died':>5} {'target':>6} {'final':>5} {'dup':>4} "
          f"{'over':>4} {'lost':>4} {'dbl':>4} {'recover':>8}  rerun said")
    for r in rows:
        print(f"{r['point']:24} {r['after']:>4} {r['died']!s:>5} {r['target']:>6} "
              f"{r['position']:>5} {r['duplicates']:>4} {r['overfilled']:>4} {r['lost']:>4} "
              f"{r['doubled']:>4} {r['recover_s']:>7.2f}s  {r['resume']}")
    died = [r for r in rows if r["died"]]
    ok = [r for r in died if r["position"] == r["target"] and not (
        r["duplicates"] or r["overfilled"] or r["lost"] or r["doubled"])]
    print(f"\nkill points x brokers survived: {len(ok)} of {len(died)} kills (sim broker; "
          f"{len(rows) - len(died)} runs ended before the point was reached)")
    print(f"duplicate orders {sum(r['duplicates'] for r in rows)}, over-fills "
          f"{sum(r['overfilled'] for r in rows)}, lost fills {sum(r['lost'] for r in rows)}, "
          f"doubled fills {sum(r['doubled'] for r in rows)}")
    rec = sorted(r["recover_s"] for r in died)
    if rec:
        print(f"time to recover (the rerun, in-process): median {rec[len(rec) // 2]:.2f} s, "
              f"max {rec[-1]:.2f} s")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "--co", "-p",
                            "no:cacheprovider", "tests/test_bad_inputs.py",
                            "tests/test_money_path.py", "-k", "bad or damaged or quote or "
                            "locked or limit or paused"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    n = sum(1 for line in tests.stdout.splitlines() if "::" in line)
    print(f"bad inputs refused (test cases): {n}")


if __name__ == "__main__":
    main()
