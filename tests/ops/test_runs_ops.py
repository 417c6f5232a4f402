"""`hydra run` as cron meets it: closed days, one run at a time, on-failure, scheduled firings;
`hydra runs verify|show|list` over real executed notebooks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hydra.ops import notebook_runs as runs
from hydra.paths import DataPaths
from tests.kit import HYDRA, REPO, copy_data_dir, run_hydra, small_notebook

TRADING_DAY = "2026-11-24"
LABEL = '\nlabel = "x"'




def _jobs_file(tmp_path: Path, notebook: Path, *, on_failure: str = "",
               cron: str = "0 10 * * 1-5") -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(
        f'[jobs.tiny]\nnotebook = "{notebook}"\ncron = "{cron}"\ntimezone = "America/Chicago"\n'
        f'market = "ZO"\ntimeout = 60\non_failure = {json.dumps(on_failure)}\n'
        '[jobs.tiny.parameters]\nlabel = "from-the-jobs-file"\n')
    return path


def _rows(data_dir: Path) -> list[dict]:
    db = data_dir / "runs" / "index.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started_at")]


GLUE = ('import scrapbook as sb\nsb.glue("summary", {"status": "traded", "signal": "LONG", '
        '"label": label})')


def test_thanksgiving_run_is_recorded_as_skipped_and_executes_nothing(data_dir):
    proc = run_hydra("run", "daily-cycle", "--as-of", "2026-11-26", data_dir=data_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "SKIPPED" in proc.stdout and "Thanksgiving" in proc.stdout
    [row] = _rows(data_dir)
    assert row["status"] == "skipped" and "Thanksgiving" in row["reason"]
    assert row["output_path"] is None and row["as_of"] == "2026-11-26"
    assert not list((data_dir / "runs").rglob("*.ipynb"))
    assert not (data_dir / "broker").exists() and not (data_dir / "journal").exists()
    listed = run_hydra("runs", "list", "--status", "skipped", data_dir=data_dir, timeout=60)
    assert "skipped" in listed.stdout and "Thanksgiving" in listed.stdout


def test_scheduled_firings_run_once_per_slot_and_ignore_the_other_dst_offset(
        data_dir, tmp_path, monkeypatch):
    nb = small_notebook(tmp_path / "tiny.ipynb", GLUE, params=LABEL)
    monkeypatch.setitem(runs.JOBS, "tiny", runs.Job(
        "tiny", str(nb), "tiny", cron="0 10 * * 1-5", market="ZO", timeout=60))
    winter_ok = datetime(2026, 11, 24, 16, 0, 3, tzinfo=UTC)  # 10:00 CST
    wrong = runs.run_job("tiny", data_dir, scheduled=True,
                         now=datetime(2026, 11, 24, 15, 0, 3, tzinfo=UTC))  # 09:00 CST
    assert wrong.kind == "not-due" and "other DST" in wrong.message and wrong.exit_code == 0
    assert _rows(data_dir) == []
    first = runs.run_job("tiny", data_dir, scheduled=True, now=winter_ok)
    assert first.kind == "ran" and first.result.ok
    again = runs.run_job("tiny", data_dir, scheduled=True, now=winter_ok.replace(minute=5))
    assert again.kind == "already-ran"
    holiday = runs.run_job("tiny", data_dir, scheduled=True,
                           now=datetime(2026, 11, 26, 16, 0, 3, tzinfo=UTC))
    assert holiday.kind == "skipped"
    rows = _rows(data_dir)
    assert [(r["as_of"], r["status"], r["scheduled_for"]) for r in rows] == [
        ("2026-11-24", "succeeded", "2026-11-24T16:00:00+00:00"),
        ("2026-11-26", "skipped", "2026-11-26T16:00:00+00:00"),
    ]


def test_two_concurrent_runs_of_a_job_exactly_one_runs(data_dir, tmp_path):
    release = tmp_path / "release"  # the first run holds on until the second has been refused
    wait = (f"import pathlib, time\nend = time.monotonic() + 90\n"
            f"while not pathlib.Path({str(release)!r}).exists() and time.monotonic() < end:\n"
            "    time.sleep(0.05)")
    nb = small_notebook(tmp_path / "slow.ipynb", wait, params=LABEL)
    env = {"HYDRA_SCHEDULES": str(_jobs_file(tmp_path, nb))}
    cmd = [HYDRA, "run", "tiny", "--as-of", TRADING_DAY]
    first = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env,
                                                  "HYDRA_DATA_DIR": str(data_dir)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not runs.is_running(DataPaths(data_dir), "tiny"):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.05)
        second = run_hydra(*cmd[1:], data_dir=data_dir, env=env, timeout=60)
        release.touch()
        _, errs = first.communicate(timeout=120)
    finally:
        release.touch()
        if first.poll() is None:
            first.kill()
    assert second.returncode == 3
    assert "job tiny is already running" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.returncode == 0, errs
    [row] = _rows(data_dir)
    assert row["status"] == "succeeded"
    assert not runs.is_running(DataPaths(data_dir), "tiny")


def test_a_killed_run_leaves_no_stale_lock(data_dir):
    code = ("import sys, time\nfrom pathlib import Path\n"
            "from hydra.ops import notebook_runs as runs\n"
            "from hydra.paths import DataPaths\n"
            "with runs.job_lock(DataPaths(Path(sys.argv[1])), runs.get_job('daily-cycle')):\n"
            "    print('locked', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert runs.is_running(DataPaths(data_dir), "daily-cycle")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert not runs.is_running(DataPaths(data_dir), "daily-cycle")
    proc = run_hydra("run", "daily-cycle", "--as-of", "2026-11-26", data_dir=data_dir, timeout=60)
    assert proc.returncode == 0 and "SKIPPED" in proc.stdout


def test_a_failed_run_calls_on_failure_with_its_details(data_dir, tmp_path):
    nb = small_notebook(tmp_path / "boom.ipynb", "raise RuntimeError('feed is down')",
                        params=LABEL)
    report = tmp_path / "alert.txt"
    hook = f'printf "%s|%s|%s|%s" "$HYDRA_JOB" "$HYDRA_RUN_ID" "$HYDRA_RUN_STATUS" ' \
           f'"$HYDRA_RUN_REASON" > {report}'
    env = {"HYDRA_SCHEDULES": str(_jobs_file(tmp_path, nb, on_failure=hook))}
    proc = run_hydra("run", "tiny", "--as-of", TRADING_DAY, data_dir=data_dir, env=env,
                     timeout=120)
    assert proc.returncode == 1 and "FAILED" in proc.stderr
    assert "on_failure command exited 0" in proc.stderr
    [row] = _rows(data_dir)
    job, run_id, status, reason = report.read_text().split("|", 3)
    assert (job, run_id, status) == ("tiny", row["run_id"], "failed")
    assert "feed is down" in reason and reason == row["reason"]
    assert json.loads(row["parameters"])["label"] == "from-the-jobs-file"


def test_a_job_whose_notebook_does_not_exist_yet_is_a_clear_error(data_dir, tmp_path):
    env = {"HYDRA_SCHEDULES": str(_jobs_file(tmp_path, tmp_path / "reconciliation.ipynb"))}
    proc = run_hydra("run", "tiny", "--as-of", TRADING_DAY, data_dir=data_dir, env=env,
                     timeout=60)
    assert proc.returncode == 2
    assert "reconciliation.ipynb does not exist yet" in proc.stderr
    assert _rows(data_dir) == []


@pytest.fixture(scope="module")
def _two_runs_once(tmp_path_factory):
    """Two real runs of a tiny job (papermill, a kernel each: seconds), made once per module;
    each test gets its own copy of the data dir (tests/kit.py copy_data_dir)."""
    root = tmp_path_factory.mktemp("two-runs")
    data_dir = root / "data"
    data_dir.mkdir()
    nb = small_notebook(root / "tiny.ipynb", GLUE, params=LABEL)
    job = runs.Job("tiny", str(nb), "tiny", timeout=60)
    saved = runs.JOBS.get("tiny")
    runs.JOBS["tiny"] = job
    try:
        a = runs.execute("tiny", data_dir, as_of=TRADING_DAY, parameters={"label": "a"})
        b = runs.execute("tiny", data_dir, as_of=TRADING_DAY, parameters={"label": "b"})
    finally:
        if saved is None:
            del runs.JOBS["tiny"]
        else:
            runs.JOBS["tiny"] = saved
    assert a.ok and b.ok
    for r in (a, b):
        assert r.output == data_dir / r.record.output_path
    return data_dir, job, a.record, b.record


@pytest.fixture
def two_runs(data_dir, monkeypatch, _two_runs_once):
    template, job, a, b = _two_runs_once
    copy_data_dir(template, data_dir)
    monkeypatch.setitem(runs.JOBS, "tiny", job)
    return (runs.RunResult(a, data_dir / a.output_path),
            runs.RunResult(b, data_dir / b.output_path))


def test_verify_catches_an_edited_a_deleted_and_an_extra_notebook(data_dir, two_runs):
    a, b = two_runs
    ok = run_hydra("runs", "verify", data_dir=data_dir, timeout=60)
    assert ok.returncode == 0 and "OK" in ok.stdout and "2 executed notebook(s)" in ok.stdout
    assert not a.output.stat().st_mode & 0o222  # read-only, yet root can still write it:
    with a.output.open("a") as fh:
        fh.write(" ")
    b.output.unlink()
    extra = a.output.parent / "smuggled.ipynb"
    extra.write_text("{}")
    bad = run_hydra("runs", "verify", data_dir=data_dir, timeout=60)
    assert bad.returncode == 1
    text = " ".join(bad.stderr.split())
    assert f"EDITED {a.record.output_path}" in text and a.record.run_id in text
    assert f"MISSING {b.record.output_path}" in text
    assert "EXTRA " + str(extra.relative_to(data_dir)) in text
    assert "3 problem(s)" in text


def test_verify_reports_a_run_whose_process_died(data_dir, two_runs):
    a, _ = two_runs
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        con.execute("UPDATE runs SET status='running', sha256=NULL WHERE run_id=?",
                    (a.record.run_id,))
    report = runs.verify(data_dir)
    assert [i.kind for i in report.issues] == ["unfinished"]


def test_runs_show_prints_parameters_status_and_scraps(data_dir, two_runs):
    a, _ = two_runs
    proc = run_hydra("runs", "show", a.record.run_id[:6], data_dir=data_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "succeeded" in proc.stdout and "matches the index" in proc.stdout
    assert '"label": "a"' in proc.stdout and '"signal": "LONG"' in proc.stdout
    shown = json.loads(run_hydra("runs", "show", a.record.run_id, "--json",
                                 data_dir=data_dir, timeout=60).stdout)
    assert shown["scraps"]["summary"] == {"status": "traded", "signal": "LONG", "label": "a"}
    assert shown["parameters"]["as_of"] == TRADING_DAY
    missing = run_hydra("runs", "show", "nosuchrun", data_dir=data_dir, timeout=60)
    assert missing.returncode == 2 and "no run with id" in missing.stderr


def test_history_reads_the_same_rows_from_the_index_and_from_the_notebooks(data_dir, two_runs):
    fast = runs.history(data_dir, job="tiny")
    slow = runs.history(data_dir, job="tiny", source="notebooks")
    assert [r["label"] for r in fast] == ["a", "b"] and fast == slow


def test_an_index_of_the_first_release_is_migrated_in_place(data_dir):
    db = data_dir / "runs" / "index.sqlite"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        con.executescript("""
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, notebook TEXT NOT NULL,
              as_of TEXT NOT NULL, parameters TEXT NOT NULL, started_at TEXT NOT NULL,
              ended_at TEXT, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
              output_path TEXT NOT NULL UNIQUE, sha256 TEXT, hydra_version TEXT NOT NULL,
              git_commit TEXT, summary TEXT);
            INSERT INTO runs VALUES ('r1', 'daily-cycle', 'notebooks/daily_cycle.ipynb',
              '2026-11-24', '{}', '2026-11-24T16:00:00+00:00', NULL, 'succeeded', '',
              'runs/x.ipynb', 'abc', '0.1.0', NULL, NULL);
        """)
    index = runs.RunIndex(db)
    [old] = index.list()
    assert (old.run_id, old.output_path, old.scheduled_for) == ("r1", "runs/x.ipynb", None)
    index.close()
    proc = run_hydra("run", "daily-cycle", "--as-of", "2026-11-26", data_dir=data_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in _rows(data_dir)] == ["succeeded", "skipped"]


def test_verify_reports_files_the_index_does_not_know(data_dir, two_runs):
    """A front end's empty .ipynb_checkpoints/ and a stray file are writes no run made."""
    a, _ = two_runs
    (a.output.parent / ".ipynb_checkpoints").mkdir()
    (data_dir / "runs" / "notes.txt").write_text("scribble")
    report = runs.verify(data_dir)
    found = sorted((i.kind, i.path) for i in report.issues)
    checkpoints = str((a.output.parent / ".ipynb_checkpoints").relative_to(data_dir))
    assert found == sorted([("unknown", checkpoints), ("unknown", "runs/notes.txt")])
    bad = run_hydra("runs", "verify", data_dir=data_dir, timeout=60)
    assert bad.returncode == 1 and "UNKNOWN runs/notes.txt" in " ".join(bad.stderr.split())


def test_a_truncated_record_is_named_by_verify_and_breaks_no_reader(data_dir, two_runs, tmp_path):
    """A record cut short (a full disk, an interrupted copy or restore): verify says which file,
    what is wrong and what to do; list, show and status still work."""
    a, b = two_runs
    whole = a.output.read_bytes()
    a.output.chmod(0o644)
    a.output.write_bytes(whole[: len(whole) // 2])
    # the same, where the index even holds the cut file's digest (a save cut short in the run)
    b.output.chmod(0o644)
    b.output.write_bytes(b.output.read_bytes()[:200])
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        con.execute("UPDATE runs SET sha256=? WHERE run_id=?",
                    (runs.sha256_of(b.output), b.record.run_id))
    stray = a.output.parent / "000000Z-copied.ipynb"
    stray.write_bytes(whole[:100])
    bad = run_hydra("runs", "verify", data_dir=data_dir, timeout=60)
    assert bad.returncode == 1
    text = " ".join(bad.stderr.split())
    assert "Traceback" not in text
    for rec in (a.record, b.record):
        said = text[text.index(f"TRUNCATED {rec.output_path}: "):]
        assert f"run {rec.run_id} (succeeded): not a complete notebook" in said
        assert "restore it from a backup" in said and f"hydra runs show {rec.run_id}" in said
    assert f"EXTRA {stray.relative_to(data_dir)}: " in text and "not a complete notebook" in text
    assert "3 problem(s)" in text

    listed = run_hydra("runs", "list", data_dir=data_dir, timeout=60)
    assert listed.returncode == 0 and a.record.run_id in listed.stdout, listed.stderr
    shown = run_hydra("runs", "show", a.record.run_id, data_dir=data_dir, timeout=60)
    assert shown.returncode == 0, shown.stderr
    out = " ".join(shown.stdout.split())
    assert "TRUNCATED: not a complete notebook" in out
    assert '"signal": "LONG"' in out  # the outcome, from the index's copy
    status = run_hydra("status", data_dir=data_dir, timeout=60,
                       env={"HYDRA_CRONTAB_FILE": str(tmp_path / "crontab")})
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
