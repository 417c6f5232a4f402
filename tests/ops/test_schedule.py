"""Job definitions and their runs on the CBOT grains calendar, across DST changes and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hydra.ops import notebook_runs as runs
from hydra.ops import schedule
from hydra.ops.schedule import Job, ScheduleError, due_slot, next_runs, parse_jobs, validate_job

CT = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def jobs() -> dict[str, Job]:
    return schedule.load_jobs(schedule.DEFAULT_JOBS_FILE)


def _job(cron: str = "0 10 * * 1-5", **extra: object) -> Job:
    body = "\n".join(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
                     for k, v in extra.items())
    text = (f'[jobs.x]\nnotebook = "notebooks/daily_cycle.ipynb"\ncron = "{cron}"\n'
            f'timezone = "America/Chicago"\nmarket = "ZO"\n{body}\n')
    return parse_jobs(text, "test.toml")["x"]


def test_default_jobs_trade_inside_the_grains_session_and_reconcile_after_it(jobs):
    cycle, rec = jobs["daily-cycle"], jobs["reconciliation"]
    assert (cycle.cron, cycle.timezone, cycle.calendar) == ("0 10 * * 1-5", "America/Chicago",
                                                             "CBOT_Agriculture")
    assert cycle.window == "session" and cycle.min_minutes_before_close >= 60
    assert cycle.trading_days_only and rec.trading_days_only
    assert rec.window == "after-close" and rec.notebook == "notebooks/reconciliation.ipynb"
    # the whole next year of daily cycles can be worked before the close
    assert not [p for p in validate_job(cycle, datetime(2026, 11, 25, tzinfo=UTC))
                if p.level == "error"]


def test_runs_keep_10_chicago_across_the_fall_dst_change(jobs):
    got = next_runs(jobs["daily-cycle"], datetime(2026, 10, 29, 0, 0, tzinfo=UTC), 4)
    assert [r.utc for r in got] == [
        datetime(2026, 10, 29, 15, 0, tzinfo=UTC),  # CDT, UTC-5
        datetime(2026, 10, 30, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 16, 0, tzinfo=UTC),  # CST, UTC-6 (DST ended Sunday Nov 1)
        datetime(2026, 11, 3, 16, 0, tzinfo=UTC),
    ]
    assert all((r.local.hour, r.local.minute) == (10, 0) for r in got)


def test_runs_keep_10_chicago_across_the_spring_dst_change(jobs):
    got = next_runs(jobs["daily-cycle"], datetime(2026, 3, 6, 0, 0, tzinfo=UTC), 2)
    assert [r.utc for r in got] == [datetime(2026, 3, 6, 16, 0, tzinfo=UTC),
                                    datetime(2026, 3, 9, 15, 0, tzinfo=UTC)]


def test_thanksgiving_is_skipped_and_the_early_close_day_after_still_runs(jobs):
    got = next_runs(jobs["daily-cycle"], datetime(2026, 11, 25, 20, 0, tzinfo=UTC), 2,
                    include_skipped=True)
    thu, fri, mon = got
    assert thu.trade_date.isoformat() == "2026-11-26" and "Thanksgiving" in thu.skipped
    assert fri.trade_date.isoformat() == "2026-11-27" and fri.skipped is None
    assert fri.session_close.hour == 12  # early close, still two hours after 10:00
    assert mon.trade_date.isoformat() == "2026-11-30" and mon.session_close.hour == 13
    plain = next_runs(jobs["daily-cycle"], datetime(2026, 11, 25, 20, 0, tzinfo=UTC), 1)
    assert plain[0].trade_date.isoformat() == "2026-11-27"


@pytest.mark.parametrize("after,holiday,name", [
    ("2026-04-02", "2026-04-03", "Good Friday"),
    ("2026-06-18", "2026-06-19", "Juneteenth"),
    ("2026-12-24", "2026-12-25", "Christmas"),
])
def test_grains_holidays_are_skipped(jobs, after, holiday, name):
    start = datetime.fromisoformat(after).replace(hour=20, tzinfo=UTC)
    got = next_runs(jobs["daily-cycle"], start, 1, include_skipped=True)
    assert got[0].trade_date.isoformat() == holiday and name in got[0].skipped
    assert got[1].skipped is None and got[1].trade_date.isoformat() > holiday


def test_due_slot_accepts_only_the_scheduled_local_time(jobs):
    job = jobs["daily-cycle"]
    summer, winter = datetime(2026, 7, 7, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC)
    assert due_slot(job, summer.replace(hour=15, second=4)) == datetime(2026, 7, 7, 10, tzinfo=CT)
    assert due_slot(job, summer.replace(hour=16, second=4)) is None  # the CST line's firing
    assert due_slot(job, winter.replace(hour=16, second=4)) == datetime(2026, 12, 8, 10, tzinfo=CT)
    assert due_slot(job, winter.replace(hour=15, second=4)) is None  # the CDT line's firing
    assert due_slot(job, winter.replace(hour=16)) is not None  # exactly on time
    assert due_slot(job, winter.replace(hour=16, minute=14)) is not None  # late but same slot
    assert due_slot(job, winter.replace(hour=16, minute=20)) is None
    assert due_slot(job, datetime(2026, 12, 12, 16, 0, 4, tzinfo=UTC)) is None  # a Saturday


def test_the_originals_schedule_is_refused():
    """14:00 Chicago seven days a week: after the 13:20 close, so orders could not be worked."""
    job = _job("0 14 * * *", window="session")
    [problem] = [p for p in validate_job(job, datetime(2026, 11, 25, tzinfo=UTC))
                 if p.level == "error"]
    assert "outside the CBOT session" in problem.message
    assert "13:20" in problem.message


def test_too_close_to_the_close_and_before_the_close_are_refused():
    late = _job("0 13 * * 1-5", window="session", min_minutes_before_close=60)
    [p] = validate_job(late, datetime(2026, 11, 25, tzinfo=UTC))
    assert "leaves 20 min before the 13:20 close" in p.message
    early_recon = _job("0 12 * * 1-5", window="after-close")
    [p] = validate_job(early_recon, datetime(2026, 11, 25, tzinfo=UTC))
    assert "before that day's 13:20 close" in p.message


@pytest.mark.parametrize("body,message", [
    ('cron = "0 25 * * *"', "Bad hour"),
    ('cron = "0 10 * *"', "must have 5 fields"),
    ('cron = "0 10 * * 1-5"\ntimezone = "America/Chicgo"', "not an IANA zone"),
    ('cron = "0 10 * * 1-5"\nmarket = "XX"', "unknown market"),
    ('cron = "0 10 * * 1-5"\ncalendar = "NYSE"', "is not market ZO's calendar"),
    ('cron = "0 10 * * 1-5"\nwhen = "10:00"', "unknown key(s) when"),
    ('cron = "0 10 * * 1-5"\nparameters = { as_of = "2026-11-24" }', "set by `hydra run`"),
    ('cron = "0 10 * * 1-5"\nparameters = { market = "HE" }', "trades another market"),
    ('cron = "0 10 * * 1-5"\ntimeout = "900"', "timeout must be int"),
])
def test_bad_jobs_are_refused_with_what_to_fix(body, message):
    defaults = {"notebook": '"n.ipynb"', "timezone": '"America/Chicago"', "market": '"ZO"'}
    given = {line.split(" = ")[0] for line in body.splitlines()}
    lines = [f"{k} = {v}" for k, v in defaults.items() if k not in given]
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_jobs("[jobs.x]\n" + "\n".join(lines) + "\n" + body + "\n", "t.toml")


def test_get_job_names_the_known_jobs_and_the_file(monkeypatch):
    with pytest.raises(runs.RunError, match=r"daily-cycle, reconciliation.*jobs\.toml"):
        runs.get_job("daily-cycel")
    monkeypatch.setitem(runs.JOBS, "extra", runs.Job("extra", "/tmp/x.ipynb", "extra"))
    assert runs.get_job("extra").folder == "extra"
    assert "extra" in runs.JOBS and "daily-cycle" in runs.JOBS


def test_a_broken_jobs_file_is_a_clear_run_error(tmp_path, monkeypatch):
    bad = tmp_path / "jobs.toml"
    bad.write_text("[jobs.x]\nnotebook = 1\n")
    monkeypatch.setenv(schedule.JOBS_FILE_ENV, str(bad))
    with pytest.raises(runs.RunError, match="lacks cron, timezone, market"):
        runs.get_job("x")


def test_a_slot_is_the_same_whatever_the_start_latency(jobs):
    job = jobs["daily-cycle"]
    fire = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    slots = {due_slot(job, fire + timedelta(seconds=s)) for s in (0, 1, 59, 600, 899)}
    assert slots == {datetime(2026, 11, 24, 10, 0, tzinfo=CT)}


def test_missed_runs_are_open_days_without_any_record():
    from datetime import UTC, date, datetime

    from hydra.ops import schedule as sch

    job = sch.load_jobs(sch.jobs_file(None))["daily-cycle"]
    since = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    now = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # Monday, after its 10:00 CT run
    recorded = {date(2026, 11, 20), date(2026, 11, 24)}
    missed = [m.trade_date for m in sch.missed_runs(job, since, now, recorded)]
    # Thanksgiving (26th) and the weekend are not runs; the 27th early close still is
    assert missed == [date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 27),
                      date(2026, 11, 30)]
    early = datetime(2026, 11, 30, 16, 10, tzinfo=UTC)  # ten minutes after 10:00 CT
    assert date(2026, 11, 30) not in [m.trade_date for m in sch.missed_runs(
        job, since, early, recorded)]  # not missed yet: still within the grace period
