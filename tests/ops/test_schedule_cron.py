"""The rendered crontab: absolute paths, flock, logs, and a DST design that fires each slot once."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from hydra.ops import schedule
from hydra.ops.schedule import BLOCK_BEGIN, BLOCK_END, CrontabStore, CronTarget, ScheduleError
from tests.kit import HYDRA, run_hydra

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def jobs() -> dict[str, schedule.Job]:
    return schedule.load_jobs(schedule.DEFAULT_JOBS_FILE)


def _target(data_dir: Path) -> CronTarget:
    return CronTarget(hydra=Path(HYDRA), flock=Path("/usr/bin/flock"), data_dir=data_dir)


def _job_lines(block: str, job: str) -> list[str]:
    return [ln for ln in block.splitlines()
            if not ln.startswith("#") and f" run {job} " in ln]


def test_utc_host_fires_the_daily_cycle_at_both_dst_equivalents(jobs, tmp_path):
    block = schedule.render_block(jobs, _target(tmp_path), ZoneInfo("Etc/UTC"), "Etc/UTC", START)
    lines = _job_lines(block, "daily-cycle")
    assert [ln.split(" /")[0] for ln in lines] == ["0 15 * * 1-5", "0 16 * * 1-5"]
    for line in lines:
        cmd = shlex.split(line.split(" ", 5)[5])
        assert cmd[:5] == ["/usr/bin/flock", "-n", "-E", "75",
                           str(tmp_path / "runs" / "locks" / "daily-cycle.cron.lock")]
        assert cmd[5:11] == [HYDRA, "run", "daily-cycle", "--scheduled", "--data-dir",
                             str(tmp_path)]
        assert Path(cmd[5]).is_absolute() and Path(cmd[5]).is_file()
        assert f">> {tmp_path / 'logs' / 'daily-cycle.log'} 2>&1" in line
        assert "still running" in line
    assert "CRON_TZ" not in block and "TZ=" not in block
    assert block.startswith(BLOCK_BEGIN) and block.rstrip().endswith(BLOCK_END)
    recon = _job_lines(block, "reconciliation")
    assert [ln.split(" /")[0] for ln in recon] == ["0 19 * * 1-5", "0 20 * * 1-5"]


def test_a_chicago_host_needs_one_line(jobs, tmp_path):
    block = schedule.render_block(jobs, _target(tmp_path), ZoneInfo("America/Chicago"),
                                  "America/Chicago", START)
    assert [ln.split(" /")[0] for ln in _job_lines(block, "daily-cycle")] == ["0 10 * * 1-5"]


def test_a_host_east_of_the_date_line_shifts_the_weekdays(jobs, tmp_path):
    block = schedule.render_block(jobs, _target(tmp_path), ZoneInfo("Asia/Tokyo"),
                                  "Asia/Tokyo", START)
    assert [ln.split(" /")[0] for ln in _job_lines(block, "daily-cycle")] == [
        "0 0 * * 2-6", "0 1 * * 2-6"]


@pytest.mark.parametrize("host", ["Etc/UTC", "America/Chicago", "Europe/London", "Asia/Tokyo"])
def test_every_scheduled_slot_of_a_year_runs_exactly_once(jobs, host):
    """Simulate cron on the host over 2026 (both DST changes, and the host's own): every firing
    goes through `due_slot`, as `hydra run --scheduled` does. Each scheduled Chicago time must be
    claimed by exactly one firing, and no other firing may claim anything."""
    job = jobs["daily-cycle"]
    tz = ZoneInfo(host)
    lines = schedule.host_cron_lines(job, tz, START)
    end = datetime(2027, 1, 1, tzinfo=UTC)
    claimed: list[datetime] = []
    for line in lines:
        for fire in CronSim(line.spec, START.astimezone(tz)):
            if fire >= end:
                break
            slot = schedule.due_slot(job, fire + timedelta(seconds=2))  # process start latency
            if slot is not None:
                claimed.append(slot)
    expected = list(schedule.fire_times(job, START, end - timedelta(seconds=1)))
    assert len(expected) == 261  # weekdays of 2026
    assert sorted(claimed) == sorted(expected)


def test_install_is_idempotent_and_leaves_the_users_lines_alone(tmp_path):
    tab = tmp_path / "crontab"
    mine = "MAILTO=me@example.com\n# my backup\n*/5  *  * * *   /usr/bin/backup   --quiet\n"
    tab.write_text(mine)
    store = CrontabStore(tab)
    block = f"{BLOCK_BEGIN}: test\n0 15 * * 1-5 /x run daily-cycle\n{BLOCK_END}\n"
    assert store.install(block) is True
    once = tab.read_text()
    assert store.install(block) is False and tab.read_text() == once
    assert once.startswith(mine) and once.count(BLOCK_BEGIN) == 1
    newer = block.replace("0 15", "0 16")
    assert store.install(newer) is True
    assert tab.read_text() == mine + newer
    assert store.installed_block() == newer
    assert store.uninstall() is True and tab.read_text() == mine
    assert store.uninstall() is False and tab.read_text() == mine


def test_a_damaged_block_is_not_guessed_at(tmp_path):
    tab = tmp_path / "crontab"
    tab.write_text(f"{BLOCK_BEGIN}\n0 15 * * * x\n")
    with pytest.raises(ScheduleError, match="damaged Hydra block"):
        CrontabStore(tab).install(f"{BLOCK_BEGIN}\n{BLOCK_END}\n")
    assert tab.read_text() == f"{BLOCK_BEGIN}\n0 15 * * * x\n"


def test_a_percent_sign_cannot_reach_a_crontab_line(tmp_path):
    with pytest.raises(ScheduleError, match="'%'"):
        schedule.cron_command(schedule.load_jobs()["daily-cycle"],
                              _target(tmp_path / "50%"))


def test_cli_render_install_uninstall(data_dir, tmp_path):
    out = tmp_path / "rendered.crontab"
    tab = tmp_path / "crontab"
    tab.write_text("0 3 * * * /usr/bin/true\n")
    proc = run_hydra("schedule", "render", "--output", str(out), "--cron-timezone", "Etc/UTC",
                     data_dir=data_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "0 15 * * 1-5 /usr/bin/flock -n" in text and f"--data-dir {data_dir}" in text
    env = {"HYDRA_CRONTAB_FILE": str(tab)}
    for _ in range(2):
        proc = run_hydra("schedule", "install", "--cron-timezone", "Etc/UTC", data_dir=data_dir,
                         env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
    installed = tab.read_text()
    assert installed == "0 3 * * * /usr/bin/true\n" + text
    assert "already installed, unchanged" in proc.stdout
    assert (data_dir / "logs").is_dir() and (data_dir / "runs" / "locks").is_dir()
    proc = run_hydra("schedule", "uninstall", data_dir=data_dir, env=env, timeout=60)
    assert proc.returncode == 0 and tab.read_text() == "0 3 * * * /usr/bin/true\n"


def test_cli_check_lists_holidays_and_fails_on_a_bad_job(tmp_path):
    proc = run_hydra("schedule", "check", "--from", "2026-11-25", "-n", "3", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Thu 2026-11-26 10:00 CST" in proc.stdout and "Thanksgiving" in proc.stdout
    assert "2026-11-27 16:00" in proc.stdout  # 10:00 CST in UTC
    bad = tmp_path / "jobs.toml"
    bad.write_text('[jobs.late]\nnotebook = "notebooks/daily_cycle.ipynb"\ncron = "0 14 * * *"\n'
                   'timezone = "America/Chicago"\nmarket = "ZO"\nwindow = "session"\n')
    proc = run_hydra("schedule", "check", "--schedules", str(bad), timeout=60)
    assert proc.returncode == 1
    assert "outside the CBOT session" in proc.stdout and "error" in proc.stderr
