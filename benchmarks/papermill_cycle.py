"""How much the notebook path costs: `hydra run daily-cycle` against the same cycle in-process.

    .venv/bin/python benchmarks/papermill_cycle.py [--repeat 3] [--as-of 2026-11-24] [--bytecode]
        [--compare OTHER_CHECKOUT]

Each timing runs on a fresh data directory whose champion is pinned LONG (as the tests pin it:
the cycle trades, so both charts are drawn), each in a fresh process, so Python's start and
every import count on both sides:

- (a) `hydra run daily-cycle --as-of DAY` end to end (parameter checks, lock, index, papermill,
  the kernel, the record's finalisation);
- (b) plain `papermill notebooks/daily_cycle.ipynb` on the same date;
- (c) the reference: the notebook's own code cells run in one plain Python process by an IPython
  shell (the same display formatting, the same charts rendered to PNG, the same scrap glued;
  no kernel, no notebook written); and (c0) `cycle.run_in_process` alone, without displays.

The ratio printed is (a) / (c): the issue's goal is <= 1.5x. Then a breakdown of one
`hydra run`, measured inside a fresh process: Python start and the CLI import, the CLI's
parameter checks, kernel start, kernel-side imports, every cell, the notebook saves (count and
time), chart rendering and the PNG bytes in the record.

--bytecode runs every process with a bytecode cache (PYTHONPYCACHEPREFIX in a temporary
folder, PYTHONDONTWRITEBYTECODE unset, one warm-up run first): what a machine whose
environment does not set PYTHONDONTWRITEBYTECODE (cron's does not) pays.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAY = "2026-11-24"  # a Tuesday, a normal CBOT session (tests/conftest.TRADE_DATE)

# The reference (c): the notebook's code cells, parameters injected as papermill injects them,
# run by an IPython shell in this process (displays formatted to every MIME type as a kernel
# formats them, then dropped).
REFERENCE = r"""
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.displaypub import DisplayPublisher

class Quiet(DisplayPublisher):
    sizes = {}
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        for mime, value in data.items():
            Quiet.sizes[mime] = Quiet.sizes.get(mime, 0) + len(str(value))

shell = InteractiveShell.instance(display_pub_class=Quiet)
nb = json.load(open(sys.argv[1]))
params = json.loads(sys.argv[2])
cells = [''.join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
cells.insert(1, "\n".join(f"{k} = {v!r}" for k, v in params.items()))
for source in cells:
    result = shell.run_cell(source, store_history=False)
    if not result.success:
        raise SystemExit(f"cell failed: {result.error_in_exec or result.error_before_exec}")
print(json.dumps({"seconds": time.perf_counter() - t0, "status": shell.user_ns["summary"]["status"],
                  "png_chars": Quiet.sizes.get("image/png", 0)}))
"""

IN_PROCESS = r"""
import json, sys
from hydra import cycle
s = cycle.run_in_process(data_dir=sys.argv[1], as_of=sys.argv[2])
print(json.dumps({"status": s["status"]}))
"""

# One `hydra run` inside a process of its own, its parts timed by wrapping the functions that do
# them (the CLI, papermill, nbclient and Hydra's own); prints the parts as JSON.
PROFILED = r"""
import time
T0 = time.perf_counter()
import json, sys
import hydra.cli
T_CLI = time.perf_counter()
parts = {}

def timed(owner, name, label):
    original = getattr(owner, name, None)
    if original is None or hasattr(original, "__wrapped_by_bench__"):
        return  # not in this version of Hydra
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            n, s = parts.get(label, (0, 0.0))
            parts[label] = (n + 1, s + time.perf_counter() - t)
    wrapper.__wrapped_by_bench__ = True
    setattr(owner, name, wrapper)

try:
    # the package (issue 14): a function is looked up in many modules
    from hydra.ops import notebook_runs as runs
except ImportError:  # a checkout from before the package layout (runs.py at the top)
    import importlib
    runs = importlib.import_module("hydra" + ".runs")
from hydra.cli.commands import runs as run_cmd


def timed_in(package, name, label):
    # timed() on every binding of `name` in a package and its modules (each call goes through
    # exactly one of them, so nothing is counted twice)
    prefix = package.__name__ + "."
    for mod in [package, *(m for k, m in list(sys.modules.items()) if k.startswith(prefix))]:
        timed(mod, name, label)


timed(run_cmd, "_refuse_bad_values", "CLI check: parameter values (validate_params)")
timed(run_cmd, "_refuse_bad_config", "CLI check: config, markets, data dir")
timed_in(runs, "notebook_parameters", "papermill.inspect_notebook (parameters)")
timed_in(runs, "git_commit", "git commit of the checkout")
timed_in(runs, "cycle_orders", "the cycle's orders before/after (banner)")
timed_in(runs, "_finalise_notebook", "finalise the record (stamp, banner, read summary)")
T_PM0 = time.perf_counter()
import papermill
parts["import papermill (parent)"] = (1, time.perf_counter() - T_PM0)
import papermill.engines as engines
import nbclient.client as client
timed_in(runs, "execute", "runs.execute (index, papermill, finalise)")
timed(papermill, "execute_notebook", "papermill.execute_notebook (all of it)")
timed(engines.NotebookExecutionManager, "save", "notebook saves")
timed(client.NotebookClient, "start_new_kernel", "kernel start: process launch")
timed(client.NotebookClient, "start_new_kernel_client",
      "kernel start: until its kernel_info reply")
timed(client.NotebookClient, "execute_cell", "nbclient execute_cell (all cells)")
timed(client.NotebookClient, "_cleanup_kernel", "kernel shutdown (nbclient)")
timed(getattr(runs, "EarlyKernel", None), "close", "kernel shutdown (EarlyKernel.close)")
timed_in(runs, "closed_reason", "exchange calendar: closed day?")
timed_in(runs, "run_job", "runs.run_job (lock, calendar, execute)")
T_SETUP = time.perf_counter()
try:
    hydra.cli.app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
T_END = time.perf_counter()
print(json.dumps({"parts": parts, "cli_import": T_CLI - T0, "total": T_END - T_SETUP
                  + (T_CLI - T0)}))
"""


def _env(cache: Path | None, code: Path = REPO) -> dict[str, str]:
    """The environment of every timed process; `code`: another checkout of Hydra to measure
    (on PYTHONPATH, ahead of this checkout's editable install; its notebook, its cwd)."""
    env = dict(os.environ)
    env.pop("HYDRA_DATA_DIR", None)
    if code != REPO:
        env["PYTHONPATH"] = str(code)
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def fresh_data_dir(root: Path, name: str) -> Path:
    """A new data directory whose champion says LONG (tests/conftest.pin_signal)."""
    sys.path.insert(0, str(REPO))
    from tests.kit import pin_signal

    d = root / name
    d.mkdir(parents=True)
    pin_signal(d, +1)
    return d


def _timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=env.get("PYTHONPATH", str(REPO)), timeout=600)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited {proc.returncode}:\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return took, proc.stdout


def _notebook(env: dict[str, str]) -> str:
    return str(Path(env.get("PYTHONPATH", str(REPO))) / "notebooks" / "daily_cycle.ipynb")


def hydra_run(d: Path, env: dict[str, str], day: str) -> float:
    took, out = _timed_run([str(BIN / "hydra"), "run", "daily-cycle", "--as-of", day,
                            "--data-dir", str(d)], env)
    if "status=traded" not in out:
        raise RuntimeError(f"the cycle did not trade, the benchmark measures nothing:\n{out}")
    return took


def plain_papermill(d: Path, env: dict[str, str], day: str) -> float:
    out = d / "plain.ipynb"
    took, _ = _timed_run([str(BIN / "papermill"), "--no-progress-bar", _notebook(env), str(out),
                          "-p", "as_of", day, "-p", "data_dir", str(d)], env)
    return took


def reference(d: Path, env: dict[str, str], day: str) -> tuple[float, dict]:
    params = {"as_of": day, "data_dir": str(d)}
    took, out = _timed_run([sys.executable, "-c", REFERENCE, _notebook(env),
                            json.dumps(params)], env)
    info = json.loads(out.strip().splitlines()[-1])
    if info["status"] != "traded":
        raise RuntimeError(f"the reference cycle did not trade: {info}")
    return took, info


def in_process(d: Path, env: dict[str, str], day: str) -> float:
    took, _ = _timed_run([sys.executable, "-c", IN_PROCESS, str(d), day], env)
    return took


@dataclass
class Result:
    hydra_run: list[float] = field(default_factory=list)
    papermill: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    in_process: list[float] = field(default_factory=list)
    breakdown: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return statistics.median(self.hydra_run) / statistics.median(self.reference)


def measure(repeat: int = 3, day: str = DAY, bytecode: bool = False,
            breakdown: bool = True) -> Result:
    root = Path(tempfile.mkdtemp(prefix="hydra-bench-pm-"))
    cache = root / "pycache" if bytecode else None
    env = _env(cache)
    res = Result()
    try:
        if bytecode:  # warm the cache: every module each side imports, compiled once
            hydra_run(fresh_data_dir(root, "warm-a"), env, day)
            reference(fresh_data_dir(root, "warm-c"), env, day)
        for i in range(repeat):  # interleaved, so a change in the machine's load hits all
            res.hydra_run.append(hydra_run(fresh_data_dir(root, f"a{i}"), env, day))
            res.papermill.append(plain_papermill(fresh_data_dir(root, f"b{i}"), env, day))
            res.reference.append(reference(fresh_data_dir(root, f"c{i}"), env, day)[0])
            res.in_process.append(in_process(fresh_data_dir(root, f"c0{i}"), env, day))
        if breakdown:
            res.breakdown = profile_run(fresh_data_dir(root, "profiled"), env, day)
            res.breakdown["python start (python -c pass)"] = statistics.median(
                _timed_run([sys.executable, "-c", "pass"], env)[0] for _ in range(3))
            res.breakdown["`hydra version` (start + CLI import)"] = statistics.median(
                _timed_run([str(BIN / "hydra"), "version"], env)[0] for _ in range(3))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return res


def compare(other: Path, repeat: int = 3, day: str = DAY) -> tuple[Result, Result]:
    """This checkout and another one (e.g. `git archive` of an older commit), interleaved
    run by run so that the machine's changing load falls on both alike."""
    root = Path(tempfile.mkdtemp(prefix="hydra-bench-pm-"))
    sides = ((_env(None, other), Result()), (_env(None), Result()))
    try:
        for i in range(repeat):
            for k, (env, res) in enumerate(sides):
                res.hydra_run.append(hydra_run(fresh_data_dir(root, f"a{i}{k}"), env, day))
                res.papermill.append(plain_papermill(fresh_data_dir(root, f"b{i}{k}"), env, day))
                res.reference.append(reference(fresh_data_dir(root, f"c{i}{k}"), env, day)[0])
                res.in_process.append(in_process(fresh_data_dir(root, f"d{i}{k}"), env, day))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return sides[0][1], sides[1][1]


def profile_run(d: Path, env: dict[str, str], day: str) -> dict:
    """One `hydra run`, its parts timed in its own process, and its record's cells read back."""
    took, out = _timed_run([sys.executable, "-c", PROFILED, "run", "daily-cycle", "--as-of",
                            day, "--data-dir", str(d)], env)
    info = json.loads(out.strip().splitlines()[-1])
    [record] = (d / "runs").rglob("*.ipynb")
    nb = json.loads(record.read_text())
    cells = []
    png = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        first = "".join(cell["source"]).strip().splitlines()[0][:60]
        cells.append((i, first, cell["metadata"].get("papermill", {}).get("duration") or 0.0))
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                png.append(len(output["data"]["image/png"]) * 3 // 4)  # base64 to bytes
    return {"wall": took, "process": info, "cells": cells, "png_bytes": png,
            "record_bytes": record.stat().st_size,
            "notebook_duration": nb["metadata"]["papermill"]["duration"]}


def _med(xs: list[float]) -> str:
    return f"{statistics.median(xs):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in xs)})"


def report(res: Result) -> None:
    print(f"(a) hydra run daily-cycle          {_med(res.hydra_run)}")
    print(f"(b) plain papermill                {_med(res.papermill)}")
    print(f"(c) in-process, cells + charts     {_med(res.reference)}")
    print(f"(c0) cycle.run_in_process only     {_med(res.in_process)}")
    print(f"ratio (a)/(c): {res.ratio:.2f}x (goal <= 1.5x); (b)/(c): "
          f"{statistics.median(res.papermill) / statistics.median(res.reference):.2f}x")
    b = res.breakdown
    if not b:
        return
    print("\nbreakdown of one `hydra run` (its own process):")
    for label in ("python start (python -c pass)", "`hydra version` (start + CLI import)"):
        print(f"  {label:<58} {b[label]:6.2f} s")
    p = b["process"]
    print(f"  {'import hydra.cli (in the profiled process)':<58} {p['cli_import']:6.2f} s")
    for label, (n, s) in p["parts"].items():
        print(f"  {label:<58} {s:6.2f} s" + (f"  ({n} calls)" if n > 1 else ""))
    print(f"  {'papermill notebook duration (its metadata)':<58} {b['notebook_duration']:6.2f} s")
    print("  cells (papermill's per-cell durations):")
    for i, first, s in b["cells"]:
        print(f"    [{i:2}] {first:<52} {s:6.2f} s")
    print(f"  PNG bytes in the record: {b['png_bytes']} (record {b['record_bytes']:,} bytes)")
    print(f"  profiled process wall {b['wall']:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--as-of", default=DAY)
    ap.add_argument("--bytecode", action="store_true", help="with a bytecode cache")
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT",
                    help="also measure another checkout, interleaved (before/after figures)")
    args = ap.parse_args()
    if args.compare:
        before, after = compare(args.compare.resolve(), args.repeat, args.as_of)
        print(f"--- {args.compare}")
        report(before)
        print(f"--- {REPO}")
        report(after)
        return
    report(measure(args.repeat, args.as_of, args.bytecode, not args.no_breakdown))


if __name__ == "__main__":
    main()
