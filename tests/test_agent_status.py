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
