"""CLI defects a new user met: help text and row counts say exactly what they mean."""

from __future__ import annotations

import re

from tests.kit import run_hydra


def test_help_shows_no_bool_type_and_upper_case_arguments() -> None:
    proc = run_hydra("runs", "show", "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "<bool>" not in proc.stdout
    assert "Usage: hydra runs show [OPTIONS] RUN" in " ".join(proc.stdout.split())
    assert "{run}" not in proc.stdout


def test_schedule_check_n_lists_n_rows() -> None:
    # from 2026-11-25 the next times cross Thanksgiving (a skipped row among them)
    proc = run_hydra("schedule", "check", "--from", "2026-11-25", "-n", "5", timeout=60)
    assert proc.returncode == 0, proc.stderr
    jobs = proc.stdout.split("next 5 scheduled times")[1:]
    assert jobs and "skipped" in jobs[0]
    for job in jobs:
        table = job.split("└")[0]
        rows = re.findall(r"^│ (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d", table, re.M)
        assert len(rows) == 5, table


def test_runs_show_rounds_float_noise_and_the_reconciliation_line_says_its_outcome_once() -> None:
    from hydra.cli.commands.runs import _one_line, readable

    assert readable({"x": -14.850000000000023, "y": [0.1 + 0.2], "n": 3}) == {
        "x": -14.85, "y": [0.3], "n": 3}
    line = _one_line({"status": "insufficient_data",
                      "headline": "INSUFFICIENT DATA: 1 fill(s) with slippage"})
    assert line == "INSUFFICIENT DATA: 1 fill(s) with slippage"


def test_diagnose_says_not_judged_on_too_few_live_days() -> None:
    from hydra.cli.commands.model import diagnosis_text

    assert diagnosis_text([], False, 4, 20) == "not judged: 4 live days, 20 needed"
    assert diagnosis_text([], True, 30, 20) == "healthy"
    assert diagnosis_text(["drifted: ret_5"], False, 4, 20) == "drifted: ret_5"


def test_journal_names_the_replaced_champion_in_promote_and_rollback_rows() -> None:
    from hydra.cli.commands.model import other_model

    assert other_model("promote", "ZO-0001") == "replaced ZO-0001"
    assert other_model("rollback", "ZO-0002") == "retired ZO-0002"
    assert other_model("compare", "ZO-0003") == "candidate ZO-0003"
    assert other_model("observe", None) == ""


def test_sync_fills_uses_the_data_dirs_broker_and_names_it(tmp_path) -> None:
    from hydra.cli.commands.ib import data_dir_broker
    from hydra.paths import DataPaths

    paths = DataPaths(tmp_path)
    paths.sim_db.parent.mkdir(parents=True)
    paths.sim_db.write_bytes(b"")
    assert data_dir_broker(paths) == "sim"  # a simulated account: never try IB
    proc = run_hydra("sync-fills", "--broker", "ib", "--port", "1", data_dir=tmp_path,
                     timeout=60)
    assert "sync-fills: IB at 127.0.0.1:1" in proc.stdout


def test_an_invalid_hydra_toml_is_refused_before_any_notebook_runs(tmp_path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "hydra.toml").write_text("this is = not [valid\n")
    proc = run_hydra("run", "daily-cycle", "--as-of", "2026-11-24", data_dir=data_dir,
                     timeout=60)
    assert proc.returncode == 2
    assert "not valid TOML" in " ".join(proc.stderr.split())
    assert not (data_dir / "runs").exists()
