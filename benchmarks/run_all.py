"""Every performance figure with its goal, and its ratio to the naive path measured in the same run.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]

One table: figure, measured, goal (and whether it is met), the reference path's figure and
the ratio. `--quick` runs reduced sizes (a few seconds to a minute: a smoke check that the
benchmarks run and the fast paths still equal the reference ones; the goals are for the full
sizes). `--only suite` runs the README's test command in a fresh clone (minutes); `cold-setup`
times ./scripts/setup in one. Add a figure by appending a function to BENCHMARKS: it takes
`quick` and returns Figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reconcile as recon_bench
import runs_list as runs_bench

from hydra.domain.broker import Execution
from hydra.execution.journal import FillRecord, Journal
from hydra.ops import notebook_runs as runs
from hydra.paths import DataPaths


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    goal: str  # e.g. "<= 1.5 s"
    met: bool | None  # None: no goal at this size
    reference: float | None = None  # the naive path, same run, same unit
    reference_name: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference is None or not self.value:
            return None
        return self.reference / self.value


Benchmark = Callable[[bool], list[Figure]]


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# --------------------------------------------------------------------------- reconciliation
V2_SIZE = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"


def _v2_bytes_per_fill(fills: list[FillRecord], tmp: Path) -> float:
    """The same fills in schema 2's fills table (test_journal_migration.V2_FILLS)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.execution.test_journal_migration import V2_FILLS

    path = tmp / "v2.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V2_FILLS)
    cols = [*FillRecord.__dataclass_fields__, "exec_stem", "journaled_at"]
    db.executemany(
        f"INSERT INTO fills ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        ((*(getattr(f, c) for c in FillRecord.__dataclass_fields__),
          f.exec_id.rsplit(".", 1)[0], "2026-12-02T01:15:55.627077+00:00") for f in fills))
    db.commit()
    size = db.execute(V2_SIZE).fetchone()[0]
    db.close()
    return size / len(fills)


def _copies(root: Path, times: int, span: timedelta) -> None:
    """The journal `times` times over (stems prefixed, times shifted): a 3M-fill journal in
    seconds instead of minutes of record_fills; the rows are the written ones, re-keyed."""
    with Journal(DataPaths(root).journal_db) as j:
        cols = [r[1] for r in j._db.execute("PRAGMA table_info(fill_rows)")]
        shift = span // timedelta(microseconds=1)
        for k in range(1, times):
            values = ", ".join(
                f"'C{k}.' || exec_stem" if c == "exec_stem"
                else f"fill_time + {k * shift}" if c == "fill_time" else c for c in cols)
            j._db.execute(f"INSERT INTO fill_rows ({', '.join(cols)}) "
                          f"SELECT {values} FROM fill_rows WHERE exec_stem NOT LIKE 'C%'")


def _copied_executions(executions: list[Execution], times: int,
                       span: timedelta) -> list[Execution]:
    out = list(executions)
    for k in range(1, times):
        out += [Execution(f"C{k}.{e.exec_id}", e.order_id, e.order_ref, e.account_id,
                          e.symbol, e.local_symbol, e.con_id, e.side, e.quantity, e.price,
                          e.time + k * span, e.commission) for e in executions]
    return out


def _reseed(account: Path, executions: list[Execution]) -> None:
    """The simulated account file holding exactly these executions (the report reads them)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.sim_account import seed_account

    for path in (account, account.with_name(account.name + "-wal"),
                 account.with_name(account.name + "-shm")):
        path.unlink(missing_ok=True)
    seed_account(account, executions)


def reconciliation(quick: bool) -> list[Figure]:
    sizes = (10_000, 50_000, 150_000) if quick else (100_000, 1_000_000, 3_000_000)
    figures: list[Figure] = []
    base = sizes[1]  # journaled through record_fills; the largest is copies of it
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = root / "small"
        fills, per_fill, _, _ = recon_bench.build(small, sizes[0])
        figures.append(Figure(
            f"journal bytes per fill ({sizes[0]:,} fills)", per_fill, "B", "<= 200",
            per_fill <= 200, _v2_bytes_per_fill(fills, root), "schema 2"))
        runs_at = [(sizes[0], small, fills)]
        big = root / "big"
        fills_big, _, _, _ = recon_bench.build(big, base)
        runs_at.append((base, big, fills_big))
        for n, where, f in runs_at:
            execs, positions = recon_bench.broker_side(f)
            figures.append(_report_figure(n, where, execs, positions, base, quick))
        del fills, fills_big, runs_at
        times = sizes[2] // base
        execs, positions = recon_bench.broker_side(recon_bench.make_fills(base))
        span = timedelta(seconds=30 * base)
        _copies(big, times, span)
        execs = _copied_executions(execs, times, span)
        _reseed(DataPaths(big).sim_db, execs)
        positions = [replace(p, quantity=p.quantity * times) for p in positions]
        figures.append(_report_figure(sizes[2], big, execs, positions, base, quick))
    return figures


def _report_figure(n: int, root: Path, execs, positions, goal_at: int, quick: bool
                   ) -> Figure:
    ref_s, ref, _ = recon_bench.timed_report(root, execs, positions, reference=True)
    fast_s, fast, _ = recon_bench.timed_report(root, execs, positions)
    if fast != ref:  # every metric: bias, RMSE, multiplier, breaks, totals, positions
        raise AssertionError(f"{n:,} fills: the fast report differs from the reference in "
                             f"{[k for k in ref if ref[k] != fast.get(k)]}")
    goal = "<= 1.5 s" if n == goal_at and not quick else "linear"
    return Figure(f"reconciliation report, {n:,} fills (metrics equal)", fast_s, "s", goal,
                  fast_s <= 1.5 if goal != "linear" else None, ref_s, "Journal.fills + pandas")


# ------------------------------------------------------------------------------- runs list
def runs_listing(quick: bool) -> list[Figure]:
    small, large = (500, 5_000) if quick else (5_000, 50_000)
    figures = []
    for n, notebooks in ((small, True), (large, False)):
        root = Path(tempfile.mkdtemp(prefix="hydra-bench-runs-"))
        try:
            runs_bench.build(root, n, 12, notebooks=notebooks)
            runs.RunIndex(DataPaths(root).run_index).close()  # adds runs_started
            cli = _best(lambda r=root: runs_bench.cli_list(r))
            index = runs.RunIndex(DataPaths(root).run_index)
            listed = _best(lambda ix=index: ix.list(limit=50))
            index.close()
            if notebooks:  # the scrapbook scan of every executed notebook
                scan = _best(lambda r=root: runs.history(r, source="notebooks"), repeat=1)
                figures.append(Figure(f"`hydra runs list`, {n:,} runs (process included)",
                                      cli, "s", ">= 50x scan", None if quick else scan / cli >= 50,
                                      scan, "scrapbook scan"))
            else:  # the same listing before runs_started: a sort of the whole history
                db = sqlite3.connect(DataPaths(root).run_index)
                db.execute("DROP INDEX runs_started")
                unsorted = _best(lambda d=db: d.execute(
                    "SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 50"
                ).fetchall())
                db.close()
                figures.append(Figure(f"`hydra runs list`, {n:,} runs (process included)",
                                      cli, "s", "< 0.3 s", None if quick else cli < 0.3))
                figures.append(Figure(f"RunIndex.list(limit=50), {n:,} runs", listed, "s",
                                      "", None, unsorted, "no runs_started index"))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return figures


# ---------------------------------------------------------------------------------- replay
def replay_year(quick: bool) -> list[Figure]:
    """A year of replay at default settings and with TWAP (benchmarks/replay.py); the
    reference is the same replay with an fsync per commit, as a daily run writes, and its
    fingerprint (P&L, fills, loop evidence, predictions) must equal the fast one's. Against
    an older commit: `benchmarks/replay.py --json` on each, then `--compare`."""
    import replay as replay_bench

    days = 40 if quick else 252
    replay_bench.import_modules()  # once per process, not charged to the first mode
    figures = []
    for mode, goal in (("default", 5.0), ("twap", 8.0)):
        took, _, fp = replay_bench.run_mode(mode, days)
        ref, _, ref_fp = replay_bench.run_mode(mode, days, fsync_each_commit=True)
        if ref_fp != fp:
            raise AssertionError(f"replay {mode}, {days} days: results differ with an fsync "
                                 f"per commit in {[k for k in fp if fp[k] != ref_fp.get(k)]}")
        figures.append(Figure(
            f"replay of {days} days, {mode} (results equal)", took, "s",
            f"<= {goal:g} s" if not quick else "", None if quick else took <= goal, ref,
            "fsync per commit"))
    return figures


# --------------------------------------------------------------------- papermill daily cycle
def papermill_cycle(quick: bool) -> list[Figure]:
    """`hydra run daily-cycle` against the notebook's own cells run in one process (displays
    and charts included), both from a fresh process on a fresh data directory
    (benchmarks/papermill_cycle.py prints the breakdown)."""
    import statistics

    import papermill_cycle as pm_bench

    res = pm_bench.measure(repeat=1 if quick else 3, breakdown=False)
    run = statistics.median(res.hydra_run)
    ref = statistics.median(res.reference)
    plain = statistics.median(res.papermill)
    return [
        Figure("papermill daily cycle: `hydra run` / in-process (cells + charts)", res.ratio,
               "x", "<= 1.5x", res.ratio <= 1.5),
        Figure("`hydra run daily-cycle`, end to end", run, "s", "", None, ref,
               "in-process: the notebook's cells"),
        Figure("plain papermill on daily_cycle.ipynb", plain, "s", "", None, ref,
               "in-process: the notebook's cells"),
    ]


# ------------------------------------------------------------------- set-up and the suite
REPO = Path(__file__).resolve().parent.parent


def _clone(into: Path) -> Path:
    """A fresh clone of this checkout's HEAD (what CI and a new machine get: committed work)."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(into)], check=True, timeout=300)
    return into


def _timed(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return took, done.stdout + done.stderr


def cold_setup(quick: bool) -> list[Figure]:
    """`./scripts/setup` in a fresh clone, as the README's commands start. uv's cache is
    this machine's (warm once any set-up ran here; the very first one downloads the locked
    wheels); then the same command again, when nothing changed."""
    with tempfile.TemporaryDirectory(prefix="hydra-bench-setup-") as tmp:
        clone = _clone(Path(tmp) / "clone")
        took, _ = _timed(["./scripts/setup"], clone, 900)
        again, _ = _timed(["./scripts/setup"], clone, 900)
    return [Figure("cold set-up: fresh clone, ./scripts/setup (uv cache warm)", took, "s",
                   "<= 15 s", took <= 15),
            Figure("./scripts/setup again, nothing to do", again, "s", "", None)]


_SUMMARY = re.compile(r"(\d+) passed.* in ([\d.]+)s")


def test_suite(quick: bool) -> list[Figure]:
    """The README's test command in a fresh clone (after its set-up); the ten slowest tests
    printed (pytest's --durations=10). --quick: one folder of it, a smoke check."""
    with tempfile.TemporaryDirectory(prefix="hydra-bench-suite-") as tmp:
        clone = _clone(Path(tmp) / "clone")
        _timed(["./scripts/setup"], clone, 900)
        cmd = [".venv/bin/pytest", *(["tests/domain"] if quick else [])]
        took, out = _timed(cmd, clone, 3600)
    slowest = out[out.find("slowest 10 durations"):].splitlines()[1:12]
    print("the ten slowest tests:\n" + "\n".join(f"  {line}" for line in slowest
                                                if line.strip() and "=" not in line),
          file=sys.stderr)
    found = _SUMMARY.search(out)
    passed = int(found.group(1)) if found else 0
    return [Figure(f"test suite, {passed} tests (README's command, fresh clone)", took, "s",
                   "" if quick else "<= 200 s", None if quick else took <= 200)]


BENCHMARKS: dict[str, Benchmark] = {
    "reconciliation": reconciliation,
    "runs-list": runs_listing,
    "replay": replay_year,
    "papermill-cycle": papermill_cycle,
    "cold-setup": cold_setup,
    "suite": test_suite,
}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}" if unit == "B" else f"{value:.3f} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes, a smoke check")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="some benchmarks")
    args = ap.parse_args()
    rows: list[Figure] = []
    for name in args.only or BENCHMARKS:
        t = time.perf_counter()
        rows += BENCHMARKS[name](args.quick)
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr)
    width = max(len(r.name) for r in rows)
    print(f"{'figure':<{width}}  {'measured':>12}  {'goal':<12} {'met':<4} "
          f"{'reference':>12}  {'ratio':>8}  reference path")
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        print(f"{r.name:<{width}}  {_fmt(r.value, r.unit):>12}  {r.goal:<12} {met:<4} "
              f"{_fmt(r.reference, r.unit):>12}  {ratio:>8}  {r.reference_name}")


if __name__ == "__main__":
    main()
