"""The status summary other commands show: champion, window, health, drift, last decision."""

from __future__ import annotations

from hydra import cycle
from hydra.agent.status import health_summary, model_line


def test_health_summary_before_and_after_cycles(data_dir):
    assert health_summary(data_dir) == {}
    assert model_line(data_dir) is None
    for day in ("2026-03-02", "2026-03-03"):
        summary = cycle.run_in_process(as_of=day, market="ZO", data_dir=str(data_dir))
    entry = health_summary(data_dir)["ZO"]
    assert entry["champion"] == summary["model"]
    assert entry["trained_from"] < entry["trained_to"] < "2026-03-03"
    assert entry["health"]["as_of"] == "2026-03-03"
    assert entry["last_decision"]["as_of"] == "2026-03-03"
    assert set(entry["drift"]) == {"drifted", "is_drifted"}
    line = model_line(data_dir)
    assert line is not None and line.startswith(f"ZO: champion {summary['model']}")


def test_status_lists_job_markets_and_ignores_a_retired_models_health(data_dir):
    """After a rollback the last observe step can describe the retired model: not shown."""
    from datetime import UTC, date, datetime

    from hydra.agent.journal import AgentJournal, agent_db_path

    for day in ("2026-03-02", "2026-03-03"):
        summary = cycle.run_in_process(as_of=day, market="ZO", data_dir=str(data_dir))
    journal = AgentJournal(agent_db_path(data_dir))
    journal.record(at=datetime(2026, 3, 4, 20, tzinfo=UTC), as_of=date(2026, 3, 4), market="ZO",
                   cycle_id="c-retired", step="observe", outcome="degraded", detail="retired",
                   model_id="ZO-retired", data={"health": {"metrics": {"hit_rate": 0.25}}})
    journal.close()
    entry = health_summary(data_dir)["ZO"]
    assert entry["champion"] == summary["model"]
    assert entry["health"]["as_of"] == "2026-03-03"  # the champion's own, not the retired one's
    line = model_line(data_dir, ["ZO", "ZC"])
    assert line is not None
    assert "ZC: no model yet" in line and f"ZO: champion {summary['model']}" in line
    assert "0.25" not in line


def test_a_not_judged_champion_is_not_called_healthy():
    from hydra.agent.status import status_line

    entry = {"champion": "m1", "trained_from": "2025-01-01", "trained_to": "2026-01-01",
             "health": {"outcome": "not_judged", "metrics": {}},
             "last_decision": {"as_of": "2026-03-02", "outcome": "healthy"}, "drift": {}}
    line = status_line(entry)
    assert "health not judged" in line and "kept (not judged yet)" in line
    assert "healthy" not in line
