"""Broker vs journal on a real simulated account: real cycles make the fills, then the journal
or the account is damaged the way it happens in life and the report must list the break."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from hydra import cycle
from hydra.broker.factory import BrokerSpec, make_broker
from hydra.broker.sim.broker import SimBroker
from hydra.config import load_config
from hydra.domain.broker import Execution, OrderRequest, Position
from hydra.execution.journal import FillRecord, Journal
from hydra.paths import DataPaths
from hydra.reconcile import breaks as reconcile
from hydra.reconcile import fill_report
from tests.kit import pin_signal

DAY = "2026-11-24"
CFG = load_config().reconcile


def build_history(root: Path, days: list[str], contracts: int = 2) -> list[dict]:
    return [cycle.run_in_process(as_of=d, data_dir=str(root), contracts=contracts) for d in days]


@pytest.fixture(scope="module")
def traded(tmp_path_factory) -> Path:
    """One real cycle on the simulator that bought 2 ZOH7 (checked), shared read-only."""
    root = tmp_path_factory.mktemp("traded") / "data"
    root.mkdir()
    pin_signal(root, +1)  # LONG 2, whatever the trained model would say on DAY
    [s] = build_history(root, [DAY])
    assert s["status"] == "traded" and s["position_after"] == 2, s
    return root


@pytest.fixture
def data(traded, tmp_path) -> Path:
    """A private copy of the traded data directory, free to damage."""
    return Path(shutil.copytree(traded, tmp_path / "data"))


def run_report(data_dir: Path, **params) -> fill_report.FullReport:
    return fill_report.build(as_of=params.pop("as_of", DAY), data_dir=str(data_dir), **params)


def kinds(rep: fill_report.FullReport) -> list[str]:
    return sorted(b.kind for b in rep.broker.breaks)


def journal_sql(data_dir: Path, sql: str, *args) -> None:
    with sqlite3.connect(DataPaths(data_dir).journal_db) as con:
        con.execute(sql, args)


def test_agreeing_journal_and_broker_have_zero_breaks(data):
    rep = run_report(data)
    b = rep.broker
    assert b.status == "compared" and b.break_count == 0 and not b.explained
    assert b.matched == b.journal_fills == b.broker_executions == rep.fills.totals.fills >= 1
    assert b.journal_commission == pytest.approx(b.broker_commission)
    assert b.broker_commission > 0
    assert b.positions.to_dict("records") == [{
        "local_symbol": "ZOH7", "journal": 2, "explained": 0, "expected": 2, "broker": 2,
        "difference": 0, "status": "ok"}]
    assert b.headline.startswith("zero breaks")
    assert rep.summary["breaks"] == 0 and rep.summary["status"] in ("insufficient_data",
                                                                    "reconciled")
    fill_report.raise_on_breaks(rep.report, b)  # nothing to raise


def test_journal_missing_a_fill_the_broker_has(data):
    lost = run_report(data).fills.fills.iloc[0]
    journal_sql(data, "DELETE FROM fills WHERE exec_id = ?", lost["exec_id"])
    rep = run_report(data)
    assert kinds(rep) == ["missing_in_journal", "position_mismatch"]
    missing = next(b for b in rep.broker.breaks if b.kind == "missing_in_journal")
    assert missing.exec_id == lost["exec_id"] and missing.journal == "-"
    assert missing.broker.startswith(f"BUY {lost['quantity']} @ ")
    pos = rep.broker.positions.iloc[0]
    assert (pos["expected"], pos["broker"]) == (2 - lost["quantity"], 2)
    assert rep.summary["status"] == "breaks" and rep.summary["breaks"] == 2
    assert rep.summary["headline"].startswith("BREAKS")
    with pytest.raises(fill_report.BreaksFound, match="missing_in_journal ZOH7"):
        fill_report.raise_on_breaks(rep.report, rep.broker)


def test_journal_has_a_fill_the_broker_does_not(data):
    with Journal(DataPaths(data).journal_db) as j:
        real = j.fills().iloc[0]
        values = {f.name: getattr(real[f.name], "item", lambda v=real[f.name]: v)()
                  for f in fields(FillRecord)}
        j.record_fill(FillRecord(**values | {"exec_id": "SIM.99999999.01.01", "quantity": 1,
                                             "order_ref": "HYD-ZO-20261124-9-s1-a1",
                                             "side": "SELL"}))
    rep = run_report(data)
    assert kinds(rep) == ["missing_at_broker", "position_mismatch"]
    extra = next(b for b in rep.broker.breaks if b.kind == "missing_at_broker")
    assert extra.exec_id == "SIM.99999999.01.01" and extra.broker == "-"
    pos = rep.broker.positions.iloc[0]
    assert (pos["journal"], pos["broker"], pos["status"]) == (1, 2, "BREAK")


def test_a_trade_hydra_did_not_place_makes_positions_differ(data):
    config, paths = load_config(data), DataPaths(data)
    broker, _ = make_broker(BrokerSpec("sim"), config, paths, sim_start=None)
    with broker:
        contract = broker.contract_details("ZO", date(2026, 11, 24))
        status = broker.place_order(OrderRequest(contract, "BUY", 1, "MKT", None, "MANUAL-1"))
        assert status.filled == 1
    rep = run_report(data)
    assert kinds(rep) == ["foreign_execution", "position_mismatch"]
    pos = next(b for b in rep.broker.breaks if b.kind == "position_mismatch")
    assert pos.journal.startswith("+2") and pos.broker == "+3 (foreign executions net +1)"
    foreign = next(b for b in rep.broker.breaks if b.kind == "foreign_execution")
    assert foreign.order_ref == "MANUAL-1"


def test_price_and_commission_disagreements_are_breaks(data):
    first = run_report(data).fills.fills.iloc[0]
    journal_sql(data, "UPDATE fills SET price = price + 0.25, commission = NULL WHERE exec_id=?",
                first["exec_id"])
    rep = run_report(data)
    assert kinds(rep) == ["commission_mismatch", "price_mismatch"]
    assert all(b.exec_id == first["exec_id"] for b in rep.broker.breaks)
    assert rep.broker.positions["status"].tolist() == ["ok"]


def test_the_simulators_expiry_close_out_is_explained_not_a_break(tmp_path):
    data = tmp_path / "data"
    [s] = build_history(data, ["2026-11-10"])
    assert s["contract"] == "ZOZ6" and s["position_after"] == 2, s
    # the account's clock moves past ZOZ6's last trade date (2026-12-14): the simulator closes it
    broker, _ = make_broker(BrokerSpec("sim"), load_config(data), DataPaths(data),
                            sim_start=datetime(2026, 12, 16, 18, tzinfo=UTC))
    with broker:
        assert broker.positions() == []
    rep = run_report(data, as_of="2026-12-16")
    assert rep.broker.break_count == 0
    [explained] = rep.broker.explained
    assert explained.kind == "expiry_close" and explained.order_ref == "SIM-EXPIRY"
    assert explained.broker.startswith("SELL 2 @ ")
    row = rep.broker.positions.set_index("local_symbol").loc["ZOZ6"]
    assert (row["journal"], row["explained"], row["broker"], row["status"]) == (2, -2, 0, "ok")
    history = rep.broker.history
    assert history["position"].tolist() == [*history["position"].tolist()[:-1], 0]
    assert history["source"].iloc[-1] == "explained"


def test_journal_fills_without_any_simulated_account_are_all_missing_at_the_broker(data):
    DataPaths(data).sim_db.unlink()
    for extra in ("-wal", "-shm"):
        Path(str(DataPaths(data).sim_db) + extra).unlink(missing_ok=True)
    rep = run_report(data)
    assert rep.broker.status == "no_account" and "no simulated account" in rep.broker.message
    assert set(kinds(rep)) == {"missing_at_broker", "position_mismatch"}
    assert not DataPaths(data).sim_db.exists()  # the report never creates an account


def test_the_report_reads_without_writing(data, tmp_path):
    clock = SimBroker.last_processed(DataPaths(data).sim_db)
    run_report(data, as_of="2027-01-15")  # a later end date does not move the account's clock
    assert SimBroker.last_processed(DataPaths(data).sim_db) == clock
    empty = tmp_path / "empty"
    rep = run_report(empty)
    assert not empty.exists()
    assert rep.summary["status"] == "no_fills" and rep.summary["breaks"] == 0
    assert rep.broker.headline.startswith("zero breaks: nothing to compare")


def test_fills_outside_the_range_are_not_compared_but_still_make_the_position(data):
    rep = run_report(data, since="2026-11-25", until="2026-11-30", as_of="2026-11-30")
    assert rep.fills.totals.fills == 0 and rep.broker.journal_fills == 0
    assert rep.broker.break_count == 0  # the broker's execution is dated 2026-11-24 too
    assert rep.broker.positions["expected"].tolist() == [2]


# ------------------------------------------------------------------------ pure, fabricated
T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def execution(exec_id: str, price: float = 500.0, qty: int = 1,
              ref: str = "HYD-ZO-20261124-1-s1-a1", commission: float | None = 2.35,
              when: datetime = T0) -> Execution:
    return Execution(exec_id, "1", ref, "DU1", "ZO", "ZOH7", 1, "BUY", qty, price, when, commission)


def journal_frame(rows: list[dict]) -> pd.DataFrame:
    base = {"order_ref": "HYD-ZO-20261124-1-s1-a1", "as_of": "2026-11-24", "symbol": "ZO",
            "local_symbol": "ZOH7", "side": "BUY", "quantity": 1, "price": 500.0,
            "commission": 2.35, "tick": 0.25, "fill_time": T0.isoformat()}
    frame = pd.DataFrame([base | r for r in rows])
    frame["exec_stem"] = [x.rsplit(".", 1)[0] for x in frame["exec_id"]]
    return frame


def check(journal: pd.DataFrame, execs: list[Execution], positions: list[Position] | None = None,
          **kw) -> reconcile.BrokerReconciliation:
    held = positions if positions is not None else [
        Position("DU1", "ZO", "ZOH7", 1, int(journal["quantity"].sum()), 500, 500, 50, 0, 0)]
    return reconcile.reconcile(journal, execs, held, CFG, since=None, until=date(2026, 11, 24),
                               timezone="America/Chicago", broker="ib", account_id="DU1",
                               broker_time=None, **kw)


def test_a_one_market_report_leaves_other_markets_positions_alone():
    j = journal_frame([{"exec_id": "0001.a.01.01"}])
    hogs = Position("DU1", "HE", "HEG7", 2, -1, 80, 80, 400, 0, 0)
    zo = Position("DU1", "ZO", "ZOH7", 1, 1, 500, 500, 50, 0, 0)
    hog_fill = replace(execution("0009.a.01.01", ref="HYD-HE-20261124-1-s1-a1"), symbol="HE",
                       local_symbol="HEG7", side="SELL")
    execs = [execution("0001.a.01.01"), hog_fill]
    assert check(j, execs, [zo, hogs], symbol="ZO").break_count == 0
    everything = check(j, execs, [zo, hogs])  # all markets: the hog trade is not journaled
    assert sorted(b.kind for b in everything.breaks) == ["missing_in_journal",
                                                         "position_mismatch"]


def test_a_correction_the_journal_has_not_applied_is_one_break_not_two():
    j = journal_frame([{"exec_id": "0001.a.01.01"}])
    out = check(j, [execution("0001.a.01.01"), execution("0001.a.01.02", price=500.25)])
    assert sorted(b.kind for b in out.breaks) == ["correction_not_applied", "price_mismatch"]
    assert all(b.exec_id == "0001.a.01.02" for b in out.breaks)
    assert out.matched == 1


def test_a_price_within_tolerance_is_not_a_break():
    j = journal_frame([{"exec_id": "0001.a.01.01", "price": 500.0}])
    assert check(j, [execution("0001.a.01.01", price=500.0 + 1e-9)]).break_count == 0
    # a commission the broker has not reported yet is not a break either
    assert check(j, [execution("0001.a.01.01", commission=None)]).break_count == 0


def test_fills_older_than_the_brokers_history_are_counted_not_reported_missing():
    old = (T0.replace(day=23)).isoformat()
    j = journal_frame([{"exec_id": "0001.a.01.01", "fill_time": old, "as_of": "2026-11-23"},
                       {"exec_id": "0002.a.01.01"}])
    out = check(j, [execution("0002.a.01.01")], history_start=T0.replace(hour=6))
    assert out.break_count == 0 and out.not_compared == 1 and out.matched == 1
    # an older execution the broker still remembers is cut at the same instant, not "missing"
    out = check(j, [execution("0001.a.01.01", when=T0.replace(day=23)),
                    execution("0002.a.01.01")], history_start=T0.replace(hour=6))
    assert out.break_count == 0 and out.matched == 1


def test_position_over_time_is_the_running_sum_per_contract_and_market():
    j = journal_frame([{"exec_id": "1.01", "quantity": 2},
                       {"exec_id": "2.01", "quantity": 3, "side": "SELL",
                        "fill_time": T0.replace(minute=5).isoformat()},
                       {"exec_id": "3.01", "quantity": 1, "local_symbol": "ZOK7",
                        "fill_time": T0.replace(minute=9).isoformat()}])
    h = reconcile.position_over_time(j)
    assert h["position"].tolist() == [2, -1, 1]
    assert h["market_position"].tolist() == [2, -1, 0]
    assert reconcile.position_over_time(j.iloc[0:0]).empty


def test_executions_are_classified_by_order_ref():
    assert reconcile.execution_origin("HYD-ZO-20261124-1-s1-a1") == "hydra"
    assert reconcile.execution_origin("SIM-EXPIRY") == "expiry"
    assert reconcile.execution_origin("") == "foreign"
    assert reconcile.execution_origin("HYDX-1") == "foreign"


def test_glued_record_is_plain_json(data):
    import json

    summary = run_report(data).summary
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
