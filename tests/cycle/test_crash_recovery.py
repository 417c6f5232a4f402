"""Crash recovery by fault injection: kill -9 at a named point, rerun, and the day ends right.

Each case runs the cycle in a real child process on the simulator (real SQLite files) with
HYDRA_KILL_AT naming the point (hydra/faults.py: the process SIGKILLs itself there), then reruns
the same date and runs the next trading date, and checks the broker against the journal: the
position equals the day's recorded target, no orderRef was sent twice, no parent over-filled,
every execution journaled exactly once, every parent row agreeing with the broker.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hydra import cycle
from hydra.faults import POINTS
from tests.kit import pin_signal, sim_positions

DAY, NEXT = "2026-11-24", "2026-11-25"
CONFIG = ("[risk]\nmax_notional_fraction = 3.0\nmax_gross_notional_fraction = 3.0\n"
          "[execution]\ntwap_participation = 0.0001\n")  # 5 contracts in TWAP slices
SCRIPT = ("import sys\nfrom hydra import cycle\n"
          "cycle.run_in_process(data_dir=sys.argv[1], as_of=sys.argv[2], contracts=5)\n")


@pytest.fixture(autouse=True)
def _long_signal(request) -> None:
    """Every crash here needs orders on DAY: the signal is pinned LONG (conftest.pin_signal)."""
    if "data_dir" in request.fixturenames:
        pin_signal(request.getfixturevalue("data_dir"), +1)


def killed_run(data_dir: Path, point: str, after: int = 0) -> int:
    env = dict(os.environ, HYDRA_KILL_AT=point, HYDRA_KILL_AFTER=str(after))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(data_dir), DAY], env=env,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode


def broker_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "broker" / "sim.sqlite") as con:
        return con.execute(sql).fetchall()


def journal_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "journal" / "journal.sqlite") as con:
        return con.execute(sql).fetchall()


def position(data_dir: Path) -> int:
    return sum(sim_positions(data_dir).values())


def assert_books_agree(data_dir: Path, **broker: str) -> None:
    """The suite's own checks, then the operator's: `hydra fill-report --reconcile`'s broker
    check (against `broker`: the simulator by default) finds zero breaks."""
    from hydra.reconcile import fill_report

    rep = fill_report.open_report(data_dir=str(data_dir), **broker)
    check = fill_report.broker_check(rep)
    assert check.status == "compared" and check.breaks == [], check.breaks  # zero breaks


@pytest.mark.parametrize("point,after", [
    ("after_planning", 0), ("after_parent_journaled", 0), ("after_child_sent", 0),
    ("after_child_sent", 3), ("between_slices", 2), ("before_fill_journaled", 1),
    ("while_journaling", 1), ("during_summary", 0),
])
def test_killed_anywhere_a_rerun_finishes_the_day_and_never_exceeds_it(data_dir, point, after):
    assert point in POINTS
    (data_dir / "hydra.toml").write_text(CONFIG)
    assert killed_run(data_dir, point, after) == -signal.SIGKILL, "the fault point was reached"
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    rerun = cycle.run_in_process(data_dir=str(data_dir), as_of=DAY, contracts=5)
    assert position(data_dir) == target == rerun["target_position"]
    assert_books_agree(data_dir)
    if rerun["orders_sent"]:
        assert rerun["resume"].startswith("resumed: ")
    again = cycle.run_in_process(data_dir=str(data_dir), as_of=DAY, contracts=5)
    assert again["status"] == "already_done" and again["orders_sent"] == 0
    nxt = cycle.run_in_process(data_dir=str(data_dir), as_of=NEXT, contracts=5)
    assert position(data_dir) == nxt["target_position"]
    assert_books_agree(data_dir)


def test_the_resumed_day_keeps_the_target_the_interrupted_run_recorded(data_dir):
    (data_dir / "hydra.toml").write_text(CONFIG)
    assert killed_run(data_dir, "between_slices", 1) == -signal.SIGKILL
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    # a rerun with a different size would compute another target: the record wins
    rerun = cycle.run_in_process(data_dir=str(data_dir), as_of=DAY, contracts=1)
    assert rerun["target_position"] == target and abs(target) == 5
    assert position(data_dir) == target
    m = rerun["resume"]
    assert m is not None and " of 5 filled before the interruption, " in m


def test_two_runs_of_one_cycle_at_once_only_one_trades(data_dir):
    cyc = cycle.open_cycle(as_of=DAY, data_dir=str(data_dir))
    try:
        with pytest.raises(cycle.CycleBusyError, match="already being run by another process"):
            cycle.open_cycle(as_of=DAY, data_dir=str(data_dir))
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(data_dir), DAY],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "already being run by another process" in proc.stderr
    finally:
        cyc.close()
    cycle.open_cycle(as_of=DAY, data_dir=str(data_dir)).close()  # released on close


@pytest.mark.parametrize("command", [("run", "daily-cycle", "--as-of", "2026-11-26"),
                                     ("runs", "list"), ("status",)])
def test_a_run_whose_process_died_is_never_shown_as_running(data_dir, command):
    from hydra.ops.notebook_runs import RunIndex, RunRecord
    from hydra.paths import DataPaths
    from tests.kit import run_hydra

    paths = DataPaths(data_dir)
    paths.run_index.parent.mkdir(parents=True, exist_ok=True)
    index = RunIndex(paths.run_index)
    index.add(RunRecord(
        run_id="deadbeef00", job="daily-cycle", notebook="notebooks/daily_cycle.ipynb",
        as_of=DAY, parameters={}, started_at="2026-11-24T16:00:00+00:00", ended_at=None,
        status="running", reason="", output_path="runs/x.ipynb", sha256=None,
        hydra_version="0", git_commit=None, summary=None, scheduled_for=None))
    index.close()
    # the next start of the job (a holiday: skipped without a notebook), or a reader
    proc = run_hydra(*command, data_dir=data_dir)
    assert proc.returncode == 0, proc.stderr
    assert "deadbeef00" not in proc.stdout or "failed" in proc.stdout
    index = RunIndex(paths.run_index)
    dead = index.get("deadbeef00")
    index.close()
    assert dead is not None and dead.status == "failed"
    assert dead.reason.startswith("interrupted: the process running it died")


def test_a_kernel_whose_parent_died_refuses_to_send(tmp_path):
    """A real process tree: a parent starts a 'kernel' (JPY_PARENT_PID set, as jupyter_client
    does) and is SIGKILLed; the orphan's order path then refuses."""
    child = ("import os, sys, time\n"
             "from hydra.execution.orphan import orphan_reason\n"
             "assert orphan_reason() is None, 'parent alive: allowed'\n"
             "open(sys.argv[1], 'w').write('ready')\n"
             "deadline = time.monotonic() + 20\n"
             "while orphan_reason() is None and time.monotonic() < deadline:\n"
             "    time.sleep(0.05)\n"
             "open(sys.argv[1], 'w').write(orphan_reason() or 'still allowed')\n")
    flag = tmp_path / "flag"
    parent = ("import os, subprocess, sys, time\n"
              "env = dict(os.environ, JPY_PARENT_PID=str(os.getpid()))\n"
              f"subprocess.Popen([sys.executable, '-c', {child!r}, {str(flag)!r}], env=env)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        for _ in range(400):
            if flag.exists() and flag.read_text() == "ready":
                break
            time.sleep(0.05)
        assert flag.read_text() == "ready"
        proc.kill()
        proc.wait(10)
        for _ in range(400):
            if flag.read_text() != "ready":
                break
            time.sleep(0.05)
        assert "an orphaned kernel sends no orders" in flag.read_text()
    finally:
        proc.kill()


def test_a_dry_run_rerun_after_a_crash_cancels_nothing_and_a_real_rerun_finishes(data_dir):
    (data_dir / "hydra.toml").write_text(CONFIG)
    assert killed_run(data_dir, "after_child_sent") == -signal.SIGKILL
    working = "SELECT order_ref FROM orders WHERE status IN ('Submitted', 'PreSubmitted')"
    left = broker_rows(data_dir, working)
    assert left, "the killed run left a child working"
    dry = cycle.run_in_process(data_dir=str(data_dir), as_of=DAY, contracts=5, dry_run=True)
    assert broker_rows(data_dir, working) == left, "a dry run changes nothing at the broker"
    assert dry["orders_sent"] == 0 and any("a dry run does not cancel it" in b
                                           for b in dry["blocked"])
    cycle.run_in_process(data_dir=str(data_dir), as_of=DAY, contracts=5)
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    assert position(data_dir) == target and broker_rows(data_dir, working) == []
    assert_books_agree(data_dir)
