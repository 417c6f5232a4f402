"""Crash recovery through the operator's commands: `hydra run` (papermill, a real kernel) killed
mid-TWAP or after its notebook is saved, and `hydra run` with plain papermill on one date at once.
The same checks as tests/cycle/test_crash_recovery.py (its helpers); apart from it only so that
another xdist worker takes these (each starts one or two notebook runs, about 15 s each).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cycle.test_crash_recovery import (  # noqa: F401  (_long_signal: the autouse fixture)
    CONFIG,
    DAY,
    _long_signal,
    assert_books_agree,
    broker_rows,
    journal_rows,
    position,
)


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
