"""`hydra replay`: a year of simulated days through the real cycle, and what the loop did."""

from __future__ import annotations

from datetime import date

import pytest

from hydra.agent.journal import AgentJournal, agent_db_path
from hydra.broker.sim.market import sim_market
from hydra.cycle.replay import ReplayError, replay
from hydra.execution.journal import Journal
from hydra.model.store import BarStore, bar_store_path
from hydra.paths import DataPaths
from hydra.reference.markets import get_market
from hydra.reference.sessions import trading_days
from tests.kit import run_hydra


def test_a_year_of_replay_detects_a_regime_change_and_promotes_a_retrained_model(data_dir):
    result = replay(start=date(2025, 6, 2), end=date(2026, 6, 1), market="ZO",
                    data_dir=data_dir)
    assert len(result.days) >= 250
    assert result.count("initial") == 1
    assert result.drift_days > 0
    # the simulator's regime starts (seed 7) inside the replay
    zo = get_market("ZO")
    starts = [r.start for r in sim_market("ZO", 7).regimes
              if date(2025, 6, 2) < r.start < date(2026, 6, 1)]
    assert starts
    with AgentJournal(agent_db_path(data_dir)) as j:
        promotions = j.events(market="ZO", step="promote")
        diagnosed = {e.as_of: e for e in j.events(market="ZO", step="diagnose")}
        observed = j.events(market="ZO", step="observe")
    drifted = [date.fromisoformat(e.as_of) for e in observed
               if e.data.get("drift", {}).get("is_drifted")]
    detected = [(s, d) for s in starts for d in drifted
                if s <= d and len(trading_days(zo, s, d)) <= 40]
    assert detected, f"no drift within 40 trading days of a regime change {starts}"
    for p in promotions:  # promotions need evidence now: rare, and always after a diagnosis
        assert diagnosed[p.as_of].data["causes"], "a promotion always follows a diagnosis"
    # every promotion changed what the next cycle traded
    by_day = {d.as_of: d for d in result.days}
    days = [d.as_of for d in result.days]
    for p in promotions:
        i = days.index(date.fromisoformat(p.as_of))
        if i + 1 < len(days):
            nxt = by_day[days[i + 1]]
            assert nxt.model == p.model_id or nxt.action in ("promoted", "rolled_back")
    # P&L is what the account says
    assert result.pnl == pytest.approx(result.days[-1].net_liquidation - result.start_equity)
    assert result.start_equity == 100_000.0


def test_replay_refuses_a_start_behind_the_account_clock(data_dir):
    replay(start=date(2026, 3, 2), end=date(2026, 3, 3), data_dir=data_dir)
    with pytest.raises(ReplayError, match=r"clock only moves forward.*fresh data dir"):
        replay(start=date(2026, 3, 2), end=date(2026, 3, 10), data_dir=data_dir)
    later = replay(start=date(2026, 3, 4), end=date(2026, 3, 4), data_dir=data_dir)
    assert [d.as_of for d in later.days] == [date(2026, 3, 4)]


def test_replay_cli_prints_the_loop_and_the_pnl(data_dir):
    res = run_hydra("replay", "--start", "2026-03-02", "--end", "2026-03-06", data_dir=data_dir)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "initial" in out and "replay ZO 2026-03-02..2026-03-06: 5 cycles" in out
    assert "promotion(s)" in out and "P&L: net liquidation 100,000.00 ->" in out
    assert "model-scored P&L" in out and "slippage (fills vs arrival mid)" in out
    assert "= account P&L" in out
    again = run_hydra("replay", "--start", "2026-03-02", "--end", "2026-03-03",
                      data_dir=data_dir)
    assert again.returncode == 2
    assert "only moves forward" in again.stderr
    journal = run_hydra("journal", "--step", "decision", "--limit", "3", data_dir=data_dir)
    assert journal.returncode == 0 and "2026-03-06" in journal.stdout
    diag = run_hydra("diagnose", data_dir=data_dir)
    assert diag.returncode == 0, diag.stderr
    assert "feature drift" in diag.stdout and "vol_20" in diag.stdout


def test_a_short_replay_reconciles_model_scored_pnl_with_the_account_to_a_cent(data_dir):
    """Model-scored P&L + modelled costs back + position gap + arrival delay + slippage +
    commissions = the account's P&L, with nothing left over (a cent: float sums of a few
    fills; the simulator values every contract month at one price, so there is no basis)."""
    result = replay(start=date(2026, 3, 2), end=date(2026, 3, 10), data_dir=data_dir)
    r = result.reconciliation
    assert r is not None, result.not_reconciled
    assert sum(d.position_after != (result.days[i - 1].position_after if i else 0)
               for i, d in enumerate(result.days)) >= 2  # it traded
    assert r.account_pnl == pytest.approx(result.pnl, abs=1e-9)
    assert abs(r.other) < 0.01, result.reconciliation_lines()
    pieces = (r.model_pnl + r.modelled_costs + r.position_gap + r.arrival_delay + r.slippage
              + r.commissions + r.other)
    assert pieces == pytest.approx(r.account_pnl, abs=1e-6)
    # the actual costs are the fill journal's own numbers
    with Journal(DataPaths(data_dir).journal_db) as j:
        fills = j.fills(symbol="ZO")
    assert len(fills) >= 2
    assert r.slippage == pytest.approx(-fills["actual_usd"].sum(), abs=1e-6)
    assert r.commissions == pytest.approx(-fills["commission"].sum(), abs=1e-6)
    assert r.modelled_costs > 0
    # and the model's gross P&L is its targets over the stored 10:00 entries
    with BarStore(bar_store_path(data_dir)) as store:
        entries = store.entries("ZO", result.start, result.end)
    a = [float(entries.loc[d.as_of]) for d in result.days] + [r.end_mark]
    gross = sum(d.target * (a[i + 1] - a[i]) * 50.0 for i, d in enumerate(result.days))
    assert r.model_pnl + r.modelled_costs == pytest.approx(gross, abs=1e-6)
    assert any("= account P&L" in line for line in result.reconciliation_lines())
