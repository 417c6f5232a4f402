"""Planning is pure: step 4 reads the broker and the journal and writes neither; the step that
acts (execute) journals the plan's pre-trade risk views and trips the breakers they reach."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from hydra import cycle
from hydra.paths import DataPaths

DAY = "2026-11-24"


def _journal(data_dir: Path) -> dict[str, list[tuple]]:
    """Every row of the journal's tables (the cycle's record of what it decided and did)."""
    with sqlite3.connect(DataPaths(data_dir).journal_db) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}


def _broker(data_dir: Path) -> list[tuple]:
    with sqlite3.connect(data_dir / "broker" / "sim.sqlite") as db:
        return db.execute("SELECT * FROM orders").fetchall()


def test_planning_writes_nothing_and_the_acting_step_journals_the_gates_view(data_dir):
    # a loss limit the account is already past: the gate's view trips the daily-loss breaker
    (data_dir / "hydra.toml").write_text("[risk]\ndaily_loss_fraction = 0.0000001\n")
    cyc = cycle.open_cycle(as_of=DAY, data_dir=str(data_dir))
    try:
        cycle.check_account(cyc)
        sig = replace(cycle.compute_signal(cyc), target_position=2)
        cyc.broker.account_state = (lambda real: lambda: replace(real(), daily_pnl=-500.0))(
            cyc.broker.account_state)
        before, orders = _journal(data_dir), _broker(data_dir)
        plan = cycle.plan_orders(cyc, sig)
        assert plan.risk and not plan.risk[0].allowed and "daily loss" in plan.risk[0].tripped
        assert _journal(data_dir) == before, "planning wrote to the journal"
        assert _broker(data_dir) == orders, "planning touched the broker"
        again = cycle.plan_orders(cyc, sig)  # the same inputs give the same plan
        assert [leg.reason for leg in again.legs] == [leg.reason for leg in plan.legs]
        cycle.execute(cyc, plan, sig)
    finally:
        cyc.close()
    after = _journal(data_dir)
    decisions = [r for r in after["risk_decisions"] if r not in before["risk_decisions"]]
    assert len(decisions) == 1  # the pre-trade view, journaled by the step that acts
    with sqlite3.connect(DataPaths(data_dir).journal_db) as db:
        [(breakers,)] = db.execute("SELECT value FROM risk_state WHERE key='breakers'")
    assert DAY in breakers and "daily loss" in breakers
    assert _broker(data_dir) == orders  # blocked: nothing sent
