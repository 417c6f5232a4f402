"""The daily cycle in-process on the simulated broker: each step, reruns, and bad input."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from hydra import cycle
from hydra.cycle.params import ParameterError
from hydra.execution.journal import Journal
from hydra.paths import DataDirError
from tests.kit import broker_orders, pin_signal

DAY = "2026-11-24"


def run_cycle(data_dir: Path, **params):
    summary = cycle.run_in_process(data_dir=str(data_dir), **params)
    with Journal(data_dir / "journal" / "journal.sqlite") as journal:
        return summary, journal.fills(cycle_id=summary["cycle_id"])


def test_cycle_trades_to_target_and_journals_fills(data_dir):
    pin_signal(data_dir, +1)  # a trade on DAY, whatever the trained model would say
    summary, fills = run_cycle(data_dir, as_of=DAY, contracts=2)
    assert summary["signal"] in ("LONG", "SHORT", "FLAT")
    assert summary["target_position"] == {"LONG": 2, "SHORT": -2, "FLAT": 0}[summary["signal"]]
    assert summary["status"] == "traded"
    assert summary["position_before"] == 0
    assert summary["position_after"] == summary["target_position"]
    assert summary["orders_sent"] == 1
    assert fills["quantity"].sum() == 2
    # every fill carries predicted and actual slippage in all units, and a commission
    for col in ("predicted_ticks", "actual_ticks", "actual_bps", "actual_usd", "commission"):
        assert fills[col].notna().all(), col
    assert (fills["predicted_ticks"] > 0).all()
    # the journal agrees with the broker, execution by execution
    with sqlite3.connect(data_dir / "broker" / "sim.sqlite") as con:
        broker_execs = sorted(con.execute("SELECT exec_id, quantity, price FROM executions"))
    assert sorted(zip(fills.exec_id, fills.quantity, fills.price, strict=True)) == broker_execs


def test_rerun_same_date_sends_nothing(data_dir):
    pin_signal(data_dir, +1)
    first, _ = run_cycle(data_dir, as_of=DAY)
    assert first["orders_sent"]
    before = broker_orders(data_dir)
    second, fills = run_cycle(data_dir, as_of=DAY)
    assert broker_orders(data_dir) == before
    if first["orders_sent"]:
        assert second["status"] == "already_done"
        assert second["orders_sent"] == 0
        assert any("already done" in b for b in second["blocked"])
        assert second["position_after"] == first["position_after"]
        assert len(fills) == first["fills"]  # nothing journaled twice


def test_consecutive_days_accumulate_history(data_dir):
    s1, _ = run_cycle(data_dir, as_of="2026-11-23")
    s2, _ = run_cycle(data_dir, as_of="2026-11-24")
    assert s2["position_before"] == s1["position_after"]


def test_dry_run_sends_nothing(data_dir):
    summary, _ = run_cycle(data_dir, as_of=DAY, dry_run=True)
    assert summary["orders_sent"] == 0
    assert broker_orders(data_dir) == []
    if summary["target_position"] != 0:
        assert summary["status"] == "dry_run"
        assert any("dry run" in b for b in summary["blocked"])


def test_holiday_blocks_with_the_reason(data_dir):
    summary, _ = run_cycle(data_dir, as_of="2026-11-26")
    assert summary["orders_sent"] == 0
    if summary["target_position"] != 0:
        assert any("Thanksgiving" in b for b in summary["blocked"])
    assert broker_orders(data_dir) == []


@pytest.mark.parametrize("params,message", [
    ({"market": "XX"}, "unknown market 'XX'"),
    ({"contracts": -1}, "contracts must be >= 0"),
    ({"contracts": 1.5}, "contracts must be a whole number"),
    ({"contracts": "two"}, "contracts must be a whole number"),
    ({"as_of": "2026-13-01"}, "as_of must be a date like"),
    ({"as_of": "24/11/2026"}, "as_of must be a date like"),
    ({"broker": "ibkr"}, "broker must be one of sim, ib"),
    ({"dry_run": "maybe"}, "dry_run must be True or False"),
])
def test_bad_parameters_stop_before_any_order(data_dir, params, message):
    with pytest.raises(ParameterError, match=message):
        cycle.open_cycle(data_dir=str(data_dir), **({"as_of": DAY} | params))
    assert not (data_dir / "broker").exists()


def test_all_parameter_problems_reported_at_once(data_dir):
    with pytest.raises(ParameterError) as info:
        cycle.open_cycle(data_dir=str(data_dir), market="XX", contracts=-2, as_of="nope")
    text = str(info.value)
    assert "unknown market" in text and "contracts" in text and "as_of" in text


def test_unwritable_data_dir_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError, match="not writable"):
        cycle.open_cycle(as_of=DAY, data_dir=str(blocker / "data"))


def test_live_port_refused_without_both_confirmations(data_dir, monkeypatch):
    monkeypatch.delenv("HYDRA_LIVE_CONFIRMED", raising=False)
    with pytest.raises(ParameterError, match="LIVE trading port"):
        cycle.open_cycle(as_of=DAY, data_dir=str(data_dir), broker="ib", port=4001,
                         confirm_live=True)
    monkeypatch.setenv("HYDRA_LIVE_CONFIRMED", "true")
    with pytest.raises(ParameterError, match="confirm_live"):
        cycle.open_cycle(as_of=DAY, data_dir=str(data_dir), broker="ib", port=7496)


def test_signal_ignores_the_trade_dates_own_bar(data_dir):
    cyc = cycle.open_cycle(data_dir=str(data_dir), as_of=DAY)
    try:
        sig = cycle.compute_signal(cyc)
    finally:
        cyc.close()
    assert sig.signal.last_bar_date < date.fromisoformat(DAY)
    assert all(b.date < date.fromisoformat(DAY) for b in sig.bars)


def test_a_fill_after_an_earlier_cycles_window_is_journaled_by_the_next_cycle(data_dir):
    from hydra.domain.broker import OrderRequest

    cyc = cycle.open_cycle(data_dir=str(data_dir), as_of="2026-11-23")
    try:
        sig = cycle.compute_signal(cyc)
        q = cyc.broker.quote(sig.contract)
        # a resting GTC order of an earlier cycle, left working at the broker, fills later on
        cyc.broker.place_order(OrderRequest(sig.contract, "BUY", 1, "LMT", q.bid - 10 * 0.25,
                                            "HYD-ZO-20261123-7-s1-a1", tif="GTC"))
        assert cyc.journal.fills().empty
    finally:
        cyc.close()
    later = cycle.open_cycle(data_dir=str(data_dir), as_of="2026-11-25")
    try:
        late = [e for e in later.broker.executions("HYD-ZO-20261123-7")]
        check = cycle.check_account(later)
        journaled = later.journal.fills()
    finally:
        later.close()
    assert late, "the seeded market trades 2.5 cents lower within two days"
    assert check.synced_fills >= 1
    assert set(e.exec_id for e in late) <= set(journaled["exec_id"])
    assert set(journaled[journaled.order_ref == "HYD-ZO-20261123-7-s1-a1"]["cycle_id"]) == {
        "ZO-20261123"}
