"""How fast the run history reads: `hydra runs list` over N indexed runs, against the same
history read by a scrapbook scan of the executed notebooks (what the index exists to avoid).

    .venv/bin/python benchmarks/runs_list.py [--runs 5000] [--cells 12]

Builds a throwaway data directory with N indexed runs, each with an executed-notebook-sized
file holding a glued `summary` scrap (the daily cycle's fields), then prints wall times.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import nbformat

from hydra.ops import notebook_runs as runs
from hydra.paths import DataPaths

HYDRA = str(Path(sys.executable).parent / "hydra")


def _summary(day: date, rng: random.Random, run_id: str) -> dict:
    signal = rng.choice(["LONG", "SHORT", "FLAT"])
    fills = rng.choice([0, 1, 1, 2])
    return {"as_of": day.isoformat(), "market": "ZO", "contract": "ZOH7", "run_id": run_id,
            "status": "traded" if fills else "no_trade", "signal": signal,
            "signal_score": rng.gauss(0, 1), "target_position": {"LONG": 1, "SHORT": -1}.get(
                signal, 0), "position_before": 0, "position_after": 1, "orders_sent": 1,
            "fills": fills, "filled_contracts": fills, "avg_fill_price": 320.25,
            "slippage_ticks": 0.5, "slippage_usd": 6.25, "predicted_slippage_usd": 7.0,
            "commission": 2.35 * fills, "blocked": [],
            "net_liquidation": 100000 + rng.gauss(0, 500), "daily_pnl": rng.gauss(0, 100)}


def _notebook(summary: dict, cells: int) -> nbformat.NotebookNode:
    """A notebook shaped like an executed daily cycle: code cells with text output, the scrap."""
    nb = nbformat.v4.new_notebook()
    for i in range(cells):
        cell = nbformat.v4.new_code_cell(f"step_{i} = cycle.step_{i}(cyc)\nreport.show(step_{i})")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 2000)]
        nb.cells.append(cell)
    glue = nbformat.v4.new_code_cell('sb.glue("summary", summary)')
    glue.outputs = [nbformat.v4.new_output(
        "display_data",
        data={"application/scrapbook.scrap.json+json": {
            "name": "summary", "data": summary, "encoder": "json", "version": 1}},
        metadata={"scrapbook": {"name": "summary", "data": True, "display": False}})]
    nb.cells.append(glue)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def build(root: Path, n: int, cells: int, notebooks: bool = True) -> None:
    """N indexed runs; with `notebooks`, each with its executed-notebook-sized file."""
    rng = random.Random(7)
    paths = DataPaths(root)
    index = runs.RunIndex(paths.run_index)
    job = runs.Job("daily-cycle", "notebooks/daily_cycle.ipynb", "daily_cycle")
    start = datetime(2006, 1, 2, 16, tzinfo=UTC)
    for i in range(n):
        day = (start + timedelta(days=i)).date()
        run_id = f"{i:010x}"
        started = start + timedelta(days=i)
        out = runs.output_path_for(paths, job, day.isoformat(), started, run_id)
        out.parent.mkdir(parents=True, exist_ok=True)
        summary = _summary(day, rng, run_id)
        if notebooks:
            nbformat.write(_notebook(summary, cells), out)
        index.add(runs.RunRecord(
            run_id=run_id, job="daily-cycle", notebook="notebooks/daily_cycle.ipynb",
            as_of=day.isoformat(), parameters={"as_of": day.isoformat()},
            started_at=started.isoformat(timespec="seconds"),
            ended_at=started.isoformat(timespec="seconds"), status="succeeded", reason="",
            output_path=str(out.relative_to(root)), sha256=None, hydra_version="bench",
            git_commit=None, summary=summary))
    index.close()


def cli_list(root: Path, *extra: str) -> str:
    """`hydra runs list` as an operator runs it (a new process: start-up included)."""
    env = {**os.environ, "HYDRA_DATA_DIR": str(root)}
    proc = subprocess.run([HYDRA, "runs", "list", *extra], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return f"{len(proc.stdout.splitlines())} lines"


def timed(label: str, fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<58} {best * 1000:10.1f} ms  ({result})")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--cells", type=int, default=12, help="code cells per notebook")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hydra-bench-runs-"))
    try:
        t0 = time.perf_counter()
        build(root, args.runs, args.cells)
        size = sum(p.stat().st_size for p in (root / "runs").rglob("*.ipynb"))
        print(f"built {args.runs} indexed runs and notebooks ({size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s under {root}")
        def cli(*extra: str) -> str:
            return cli_list(root, *extra)

        index = runs.RunIndex(DataPaths(root).run_index)
        timed("RunIndex.list(limit=50)", lambda: f"{len(index.list(limit=50))} runs")
        timed(f"RunIndex.list() all {args.runs}", lambda: f"{len(index.list())} runs")
        index.close()
        timed("`hydra runs list` (50 newest, process start included)", cli)
        timed(f"`hydra runs list --limit {args.runs} --json`",
              lambda: cli("--limit", str(args.runs), "--json"))
        timed(f"`hydra runs list --limit {args.runs}` (table)",
              lambda: cli("--limit", str(args.runs)))
        timed("history from the index (runs.history)",
              lambda: f"{len(runs.history(root))} rows")
        timed("history by scrapbook scan of every notebook",
              lambda: f"{len(runs.history(root, source='notebooks'))} rows", repeat=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
