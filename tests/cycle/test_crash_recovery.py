"""Crash recovery by fault injection: kill -9 at a named point, rerun, and the day ends right.

Each case runs the cycle in a real child process on the simulator (real SQLite files) with
HYDRA_KILL_AT naming the point (hydra/faults.py: the process SIGKILLs itself there), then reruns
the same date and runs the next trading date, and checks the broker against the journal: the
position equals the day's recorded target, no orderRef was sent twice, no parent over-filled,
every execution journaled exactly once, every parent row agreeing with the broker.
"""

from __future__ import annotations

import contextlib
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


@pytest.mark.slow
def test_hydra_run_killed_mid_twap_its_kernel_stops_and_the_next_hydra_run_resumes(data_dir):
    """The operator's path end to end: `hydra run` (papermill, a real kernel) SIGKILLed while
    its kernel is between TWAP slices. The orphaned kernel must send nothing more; the next
    `hydra run` marks the dead run failed (interrupted) and finishes the day."""
    from hydra.ops.notebook_runs import RunIndex
    from hydra.paths import DataPaths
    from tests.kit import HYDRA, REPO, run_hydra

    (data_dir / "hydra.toml").write_text(CONFIG)
    stalled, release = data_dir / "stalled", data_dir / "release"
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir), "HYDRA_STALL_AT": "between_slices",
           "HYDRA_STALL_SECONDS": "120", "HYDRA_STALL_FLAG": str(stalled),
           "HYDRA_STALL_UNTIL": str(release)}
    proc = subprocess.Popen([HYDRA, "run", "daily-cycle", "--as-of", DAY, "-p", "contracts",
                             "5"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stalled.exists():
        time.sleep(0.1)
    assert stalled.exists(), "the kernel never reached the stall between TWAP slices"
    sent_before = broker_rows(data_dir, "SELECT order_ref FROM orders")
    kernel = int(stalled.read_text().split()[0])  # the stalled process: the kernel
    proc.kill()  # the `hydra run` parent only; its kernel is stalled at the next slice
    proc.wait(10)
    release.touch()  # the kernel wakes up: orphaned, it must not send slice 2, and must end
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _alive(kernel):
        time.sleep(0.1)
    assert not _alive(kernel), "the orphaned kernel is still running"
    assert broker_rows(data_dir, "SELECT order_ref FROM orders") == sent_before
    again = run_hydra("run", "daily-cycle", "--as-of", DAY, "-p", "contracts", "5",
                      data_dir=data_dir)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed: " in again.stdout
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    assert position(data_dir) == target
    assert_books_agree(data_dir)
    index = RunIndex(DataPaths(data_dir).run_index)
    runs = index.list(job="daily-cycle")
    index.close()
    dead = [r for r in runs if r.status == "failed"]
    assert dead and dead[0].reason.startswith("interrupted"), [(r.status, r.reason) for r in runs]
    assert sum(r.status == "succeeded" for r in runs) == 1


@pytest.mark.slow
def test_hydra_run_killed_after_the_notebook_is_saved_the_next_run_knows(data_dir):
    """Killed between saving the executed notebook and finishing the index entry (the whole
    process group, as a shutdown would): the record stays, the next start marks the run failed
    (interrupted), and the date is already done: nothing is sent twice."""
    from hydra.ops.notebook_runs import RunIndex
    from hydra.paths import DataPaths
    from tests.kit import HYDRA, REPO, run_hydra

    (data_dir / "hydra.toml").write_text(CONFIG)
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir),
           "HYDRA_KILL_AT": "before_index_finished"}
    proc = subprocess.Popen([HYDRA, "run", "daily-cycle", "--as-of", DAY, "-p", "contracts",
                             "5"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    assert proc.wait(120) == -signal.SIGKILL
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # and whatever was left of its group
    orders = broker_rows(data_dir, "SELECT order_ref FROM orders")
    notebooks = list((data_dir / "runs" / "daily_cycle").rglob("*.ipynb"))
    assert orders and len(notebooks) == 1, "the cycle traded and its record was saved"
    again = run_hydra("run", "daily-cycle", "--as-of", DAY, "-p", "contracts", "5",
                      data_dir=data_dir)
    assert again.returncode == 0 and "status=already_done" in again.stdout, again.stdout
    assert broker_rows(data_dir, "SELECT order_ref FROM orders") == orders
    assert_books_agree(data_dir)
    index = RunIndex(DataPaths(data_dir).run_index)
    first = sorted(index.list(job="daily-cycle"), key=lambda r: r.started_at)[0]
    index.close()
    assert first.status == "failed" and first.reason.startswith("interrupted")


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


def _alive(pid: int) -> bool:
    """Whether `pid` is still a running process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("first", ["hydra run", "papermill"])
def test_hydra_run_and_plain_papermill_on_one_date_only_one_trades(data_dir, tmp_path, first):
    """The operator's two ways in, at once for one date (cron's `hydra run` and someone's plain
    papermill, in either order): the first trades the day, the second sends nothing and says
    why, and the day ends at its target."""
    from tests.kit import HYDRA, REPO

    (data_dir / "hydra.toml").write_text(CONFIG)
    stalled, release = tmp_path / "stalled", tmp_path / "release"
    # the first run holds between its slices until the second has been refused (bounded)
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir), "HYDRA_STALL_AT": "between_slices",
           "HYDRA_STALL_SECONDS": "170", "HYDRA_STALL_FLAG": str(stalled),
           "HYDRA_STALL_UNTIL": str(release)}
    plain = ["papermill", "--no-progress-bar", str(REPO / "notebooks" / "daily_cycle.ipynb"),
             str(tmp_path / "plain.ipynb"), "-p", "as_of", DAY, "-p", "data_dir", str(data_dir),
             "-p", "contracts", "5"]
    plain[0] = str(Path(HYDRA).with_name("papermill"))
    via_hydra = [HYDRA, "run", "daily-cycle", "--as-of", DAY, "-p", "contracts", "5"]
    one, two = (via_hydra, plain) if first == "hydra run" else (plain, via_hydra)
    trading = subprocess.Popen(one, env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not stalled.exists() and trading.poll() is None:
            time.sleep(0.1)
        assert stalled.exists(), "the first run never reached its second TWAP slice"
        try:
            second = subprocess.run(two, env={**env, "HYDRA_STALL_AT": ""}, cwd=REPO,
                                    capture_output=True, text=True, timeout=160)
        finally:
            release.touch()
        said = second.stdout + second.stderr
        if two is plain:
            said += (tmp_path / "plain.ipynb").read_text()
        assert second.returncode != 0 and "is already being run by another process" in said, \
            said[-3000:]
        out, _ = trading.communicate(timeout=180)
        assert trading.returncode == 0, out[-3000:]
    finally:
        if trading.poll() is None:
            trading.kill()
    refs = [r for (r,) in broker_rows(data_dir, "SELECT order_ref FROM orders")]
    assert refs and all(r.startswith("HYD-ZO-20261124-1-") for r in refs), \
        f"only the first run's parent has children at the broker: {refs}"
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    assert position(data_dir) == target
    assert_books_agree(data_dir)
