"""`hydra paper-trade start|stop|status` and `hydra status`, as the operator runs them."""

from __future__ import annotations

import json

import pytest

from hydra.ops.schedule import BLOCK_BEGIN
from tests.kit import TRADE_DATE, run_hydra

MINE = "MAILTO=ops@example.com\n30 2 * * * /usr/local/bin/backup\n"


@pytest.fixture
def crontab(tmp_path):
    tab = tmp_path / "crontab"
    tab.write_text(MINE)
    return tab


def _paused(data_dir) -> bool | None:
    state = data_dir / "state" / "trading.json"
    return json.loads(state.read_text())["paused"] if state.exists() else None


def test_paper_trade_start_status_stop(data_dir, crontab):
    env = {"HYDRA_CRONTAB_FILE": str(crontab)}
    run_hydra("pause", "--reason", "weekend", data_dir=data_dir, timeout=60)
    start = run_hydra("paper-trade", "start", data_dir=data_dir, env=env, timeout=120)
    assert start.returncode == 0, start.stderr
    assert "safety daily-cycle: ok (simulated" in start.stdout
    assert "paper trading started" in start.stdout
    text = crontab.read_text()
    assert text.startswith(MINE) and text.count(BLOCK_BEGIN) == 1
    assert "run daily-cycle --scheduled" in text and "run reconciliation --scheduled" in text
    assert _paused(data_dir) is False

    status = run_hydra("paper-trade", "status", data_dir=data_dir, env=env, timeout=120)
    assert status.returncode == 0, status.stderr
    out = " ".join(status.stdout.split())
    assert "schedule: installed" in out and "trading: allowed" in out
    assert "daily-cycle" in out and "simulated" in out and "ZO x 1" in out

    stop = run_hydra("paper-trade", "stop", data_dir=data_dir, env=env, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert crontab.read_text() == MINE
    assert _paused(data_dir) is True
    status = run_hydra("paper-trade", "status", data_dir=data_dir, env=env, timeout=120)
    assert "schedule: not installed" in status.stdout and "PAUSED" in status.stdout


def test_paper_trade_refuses_a_live_port_and_changes_nothing(data_dir, crontab, tmp_path):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        '[jobs.daily-cycle]\nnotebook = "notebooks/daily_cycle.ipynb"\ncron = "0 10 * * 1-5"\n'
        'timezone = "America/Chicago"\nmarket = "ZO"\n'
        '[jobs.daily-cycle.parameters]\nbroker = "ib"\nport = 4001\n')
    run_hydra("pause", data_dir=data_dir, timeout=60)
    env = {"HYDRA_CRONTAB_FILE": str(crontab), "HYDRA_SCHEDULES": str(jobs),
           "HYDRA_LIVE_CONFIRMED": "true"}
    proc = run_hydra("paper-trade", "start", data_dir=data_dir, env=env, timeout=60)
    assert proc.returncode == 2
    assert "paper trading not started, nothing changed" in proc.stderr
    assert "4001 is a LIVE trading port" in " ".join(proc.stderr.split())
    assert crontab.read_text() == MINE and _paused(data_dir) is True


def test_status_on_an_empty_data_dir(data_dir, crontab):
    proc = run_hydra("status", data_dir=data_dir, env={"HYDRA_CRONTAB_FILE": str(crontab)},
                     timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "no simulated account yet" in out and "trading: allowed" in out
    assert "schedule: not installed" in out and "markets (model; jobs; position):" in out
    assert "ZO: no model yet" in out and "jobs: daily-cycle" in out
    assert "daily-cycle" in out and "never" in out and "10:00" in out


@pytest.mark.slow
def test_status_after_a_cycle_shows_position_pnl_and_the_last_run(data_dir, crontab, traded_run):
    # the session's one `hydra run` of TRADE_DATE (tests/shared_data.py), copied
    assert traded_run.info["returncode"] == 0, traded_run.info["stderr"]
    traded_run.copy_to(data_dir)
    proc = run_hydra("status", data_dir=data_dir, env={"HYDRA_CRONTAB_FILE": str(crontab)},
                     timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "connected: account DUSIM0001" in out and "net liquidation" in out
    assert "day P&L" in out
    assert f"for {TRADE_DATE} (succeeded" in out
    summary = json.loads(run_hydra("runs", "list", "--json", data_dir=data_dir,
                                   timeout=60).stdout.splitlines()[0])["summary"]
    if summary["position_after"]:
        assert "positions" in out and f"{summary['position_after']:+d}" in out
    else:
        assert "positions: flat" in out


@pytest.mark.slow
def test_status_lists_a_market_that_only_has_a_position_at_the_broker(data_dir, crontab):
    """Corn held at the broker, no job trades it and no model for it: the line must be there,
    and say that nothing in Hydra manages that position."""
    import shutil

    from hydra import cycle

    s = cycle.run_in_process(data_dir=str(data_dir), as_of=TRADE_DATE, contracts=2, market="ZC")
    assert s["position_after"], s  # the seeded simulator trades corn that day
    shutil.rmtree(data_dir / "models" / "ZC")  # no model either: only the position is left
    proc = run_hydra("status", data_dir=data_dir, env={"HYDRA_CRONTAB_FILE": str(crontab)},
                     timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    zc = out[out.index("ZC: "):]
    assert zc.startswith("ZC: no model; no job trades it; position: ZC"), zc[:200]
    assert f"{s['position_after']:+d} at the broker, held outside Hydra's jobs" in zc
    assert "ZO: no model yet" in out and "jobs: daily-cycle, " in out  # the jobs' market too


@pytest.mark.parametrize("command", [("status",), ("paper-trade", "status")])
def test_a_hand_edited_kill_switch_reads_paused_without_inventing_a_time(data_dir, crontab,
                                                                         command):
    state = data_dir / "state" / "trading.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"paused": null}')
    out = run_hydra(*command, data_dir=data_dir, env={"HYDRA_CRONTAB_FILE": str(crontab)},
                    timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "trading: PAUSED (kill-switch file" in text and "paused=None, not true" in text
    assert "since None" not in text and "by None" not in text
