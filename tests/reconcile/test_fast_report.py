"""The report's fast path (columns: Journal.fill_columns, tca.*_of, reconcile.reconcile_columns)
gives the reference path's metrics (SQL rows into pandas: Journal.fills, tca's and reconcile's
DataFrame functions), double for double and break for break, on a journal full of edge cases.

benchmarks/reconcile.py times the two paths; this proves they agree where sizes are small and
cases are odd: one fill in a group, zero variance, fills without a prediction or a commission,
several markets, sides and routes, a correction, tied and non-canonical fill times, another
account's fills, fills outside the range, and every kind of break.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hydra.broker.columns import ExecutionColumns
from hydra.broker.sim.broker import SimBroker
from hydra.broker.sim.columns import read_execution_columns
from hydra.domain.broker import Execution, Position
from hydra.execution.journal import FillRecord, Journal
from hydra.paths import DataPaths
from hydra.reconcile import breaks, fill_report
from hydra.reference.clock import SimClock
from tests.sim_account import seed_account

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MARKETS = {"ZO": ("ZOH7", 0.25, 50.0, 350.0), "ZC": ("ZCH7", 0.25, 50.0, 450.0),
           "HE": ("HEG7", 0.025, 400.0, 80.0)}


def fill(i: int, market: str = "ZO", *, side: str = "BUY", route: str = "twap", qty: int = 1,
         predicted: float | None = 1.0, actual: float | None = 1.0, day: int = 0,
         commission: float | None = 2.35, when: str | None = None, account: str = "DUSIM0001",
         tail: str = "01") -> FillRecord:
    """A fill with slippage given in ticks (the other units as the cycle journals them)."""
    local, tick, pv, mid = MARKETS[market]
    trade = (T0 + timedelta(days=day)).date()
    ref = f"HYD-{market}-{trade:%Y%m%d}-{i}-s1-a1"
    sign = 1 if side == "BUY" else -1
    a = None if actual is None else actual * tick
    p = None if predicted is None else predicted * tick
    price = mid + sign * (a or 0.0)

    def units(x: float | None) -> dict[str, float | None]:
        if x is None:
            return dict.fromkeys(("ticks", "bps", "usd"))
        return {"ticks": x / tick, "bps": x / mid * 1e4, "usd": x * pv * qty}

    return FillRecord(
        exec_id=f"SIM.{i:06d}.{tail}", order_ref=ref, parent_ref=ref[:-6],
        cycle_id=f"{market}-{trade:%Y%m%d}", as_of=trade.isoformat(), symbol=market,
        local_symbol=local, side=side, quantity=qty, price=price,
        fill_time=when or (T0 + timedelta(days=day, seconds=i)).isoformat(), route=route,
        slice=1, decision_mid=mid, arrival_mid=mid, tick=tick, point_value=pv,
        predicted_price=p, **{f"predicted_{k}": v for k, v in units(p).items()},
        actual_price=a, **{f"actual_{k}": v for k, v in units(a).items()},
        commission=commission, latency_ms=5.0, broker="sim", account_id=account)


def edge_fills() -> list[FillRecord]:
    fills = [fill(i, side="BUY" if i % 3 else "SELL", route="twap" if i % 4 else "limit-patience",
                  qty=1 + i % 3, predicted=0.5 + (i % 5) * 0.3, actual=float(i % 4 - 1),
                  day=i % 3) for i in range(40)]
    fills += [
        fill(100, route="market"),  # a route of one fill
        fill(101, route="passive", predicted=2.0, actual=1.0),  # zero variance (2 fills)
        fill(102, route="passive", predicted=2.0, actual=1.0),
        fill(103, predicted=None, actual=2.0),  # no prediction: not in the statistics
        fill(104, commission=None),  # no commission report yet
        fill(105, when=(T0 + timedelta(seconds=7)).isoformat()),  # tied with fill 7's time
        fill(106, when="2026-11-23T15:00:05.5Z"),  # a time text the codec keeps as given
        fill(107, account="DUOTHER"),  # another account: left out of the comparison
        fill(108, day=-10),  # before the report's range: positions only
        fill(109, "ZC", side="SELL", qty=2, predicted=1.5, actual=3.0),
        fill(110, "ZC", predicted=1.5, actual=0.0),
        fill(111, "HE", qty=3, predicted=4.0, actual=-2.0),
        fill(112, actual=1.0 / 3.0),  # slippage not a whole tick: kept, not derived
    ]
    return fills


def journaled(root: Path) -> list[FillRecord]:
    fills = edge_fills()
    with Journal(DataPaths(root).journal_db) as j:
        j.record_fills(fills)
        corrected = replace(fills[3], exec_id=fills[3].exec_id[:-2] + "02", price=fills[3].price
                            + 0.25)
        assert not j.record_fill(corrected)  # a correction replaces fill 3
        fills[3] = corrected
    return fills


def executions(fills: list[FillRecord]) -> list[Execution]:
    out = [Execution(f.exec_id, str(i), f.order_ref, f.account_id, f.symbol, f.local_symbol, 1,
                     f.side, f.quantity, f.price, datetime.fromisoformat(
                         f.fill_time.replace("Z", "+00:00")), f.commission)
           for i, f in enumerate(fills) if f.account_id == "DUSIM0001"]
    by_id = {e.exec_id: k for k, e in enumerate(out)}
    out[by_id["SIM.000010.01"]] = replace(out[by_id["SIM.000010.01"]], price=999.0)
    out[by_id["SIM.000011.01"]] = replace(out[by_id["SIM.000011.01"]], commission=9.99)
    flipped = {"BUY": "SELL", "SELL": "BUY"}[out[by_id["SIM.000013.01"]].side]
    out[by_id["SIM.000013.01"]] = replace(out[by_id["SIM.000013.01"]], side=flipped)
    out[by_id["SIM.000012.01"]] = replace(out[by_id["SIM.000012.01"]], quantity=7)
    out[by_id["SIM.000014.01"]] = replace(out[by_id["SIM.000014.01"]],
                                          exec_id="SIM.000014.02")  # correction not applied
    for gone in ("SIM.000016.01", "SIM.000015.01"):  # missing at the broker (in key order)
        del out[by_id[gone]]
    e = out[0]
    out += [
        replace(e, exec_id="SIM.900000.01", order_ref="HYD-ZO-20261123-77-s1-a1"),  # not journaled
        replace(e, exec_id="SIM.900001.01", order_ref="SIM-EXPIRY", side="SELL"),  # explained
        replace(e, exec_id="X.1", order_ref="manual-trade", quantity=2),  # foreign
        replace(e, exec_id="SIM.900002.01"), replace(e, exec_id="SIM.900002.02"),  # two versions
    ]
    return out


def positions() -> list[Position]:
    return [Position("DUSIM0001", "ZO", "ZOH7", 1, 5, 350, 350, 50, 0, 0),
            Position("DUSIM0001", "HE", "HEG7", 2, 3, 80, 80, 400, 0, 0)]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Execution]]:
    root = tmp_path_factory.mktemp("fast")
    return root, executions(journaled(root))


def one_path(root: Path, execs: list[Execution] | ExecutionColumns | Path, reference: bool,
             history_start: datetime | None = None, **params: Any) -> fill_report.FullReport:
    """The report with this broker snapshot; a Path: the executions read from that simulated
    account file, as columns (the fast path) or as objects (the reference)."""
    rep = fill_report.open_report(data_dir=str(root), reference=reference, **params)
    fl = fill_report.fill_list(rep)
    slip = fill_report.slippage(rep, fl)
    if isinstance(execs, Path):
        execs = read_execution_columns(execs, rep.params.market)
        if reference:
            execs = execs.all_items()
        else:  # as fill_report.prefetch_broker's thread does (objects: computed when used)
            breaks.prepare_executions(execs)
    snap = fill_report.BrokerSnapshot("sim", "DUSIM0001", None, execs, positions(),
                                      "compared", "sim account DUSIM0001", history_start)
    if rep.params.broker == "none":
        snap = fill_report.BrokerSnapshot("none", "", None, [], [], "skipped", "none")
    check = fill_report.broker_check(rep, snap)
    return fill_report.FullReport(rep, fl, slip, check, fill_report.summarize(rep, fl, slip, check))


def both_paths(root: Path, execs: list[Execution], history_start: datetime | None = None,
               **params: Any) -> tuple[fill_report.FullReport, ...]:
    """(reference, fast) with the executions as objects; and, where a simulated account can
    hold them (execIds unique), the same executions in an account file: its column read
    (fast) gives the summary the reference gives of its objects (SimBroker.executions')."""
    out = tuple(one_path(root, execs, reference, history_start, **params)
                for reference in (True, False))
    if len({e.exec_id for e in execs}) == len(execs):
        with tempfile.TemporaryDirectory() as tmp:
            account = Path(tmp) / "sim.sqlite"
            seed_account(account, execs)
            ref, fast = (one_path(root, account, reference, history_start, **params)
                         for reference in (True, False))
            assert fast.summary == ref.summary
    return out


CASES = [
    dict(as_of="2026-11-25", market="ZO"),
    dict(as_of="2026-11-25", market="ALL"),
    dict(as_of="2026-11-25", market="ALL", since="2026-11-24", until="2026-11-24"),
    dict(as_of="2026-11-25", market="HE"),
    dict(as_of="2026-11-25", market="ZO", broker="none"),
    dict(as_of="2026-11-25", market="ZO", min_fills=2),
    dict(market="ZO"),  # no end given: the latest journaled trade date
]


@pytest.mark.parametrize("params", CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in
                                                                 p.items()))
def test_fast_metrics_equal_the_reference_metric_for_metric(data, params):
    root, execs = data
    ref, fast = both_paths(root, execs, **params)
    assert fast.summary == ref.summary  # every number: totals, bias, RMSE, multiplier, breaks
    pd.testing.assert_frame_equal(fast.fills.by_contract, ref.fills.by_contract)
    pd.testing.assert_frame_equal(fast.broker.positions, ref.broker.positions)
    history = ["symbol", "local_symbol", "change", "position", "market_position", "source"]
    pd.testing.assert_frame_equal(fast.broker.history[history].astype(str),
                                  ref.broker.history[history].astype(str))
    assert (fast.broker.history["time"].to_numpy() == ref.broker.history["time"].to_numpy()
            ).all()
    assert fast.fills.table(5).to_dict("list").keys() == ref.fills.table(5).to_dict(
        "list").keys()


def test_the_edge_cases_are_really_there(data):
    root, execs = data
    _, fast = both_paths(root, execs, as_of="2026-11-25", market="ALL")
    s = fast.summary
    kinds = {b["kind"] for b in s["broker_check"]["break_list"]}
    assert kinds == {"price_mismatch", "commission_mismatch", "side_mismatch",
                     "quantity_mismatch", "correction_not_applied", "missing_at_broker",
                     "missing_in_journal", "foreign_execution", "position_mismatch"}
    assert s["explained"] == 1
    routes = s["slippage"]["routes"]
    assert routes["market"]["fills"] == 1 and not routes["market"]["sufficient"]
    assert s["fills"]["commission_missing"] == 1
    assert s["slippage"]["overall"]["n"] == s["fills"]["fills"] - 1  # one without prediction
    assert "left out of the comparison" in s["broker_check"]["message"]
    low = fill_report.open_report(data_dir=str(root), as_of="2026-11-25", market="ZO",
                                  min_fills=2)
    flat = fill_report.slippage(low, fill_report.fill_list(low)).routes["passive"]
    assert flat.sufficient and flat.stats["ticks"].correlation is None  # zero variance


def test_history_start_counts_old_fills_on_both_paths(data):
    root, execs = data
    ref, fast = both_paths(root, execs, history_start=T0 + timedelta(days=1), as_of="2026-11-25",
                           market="ZO")
    assert fast.summary == ref.summary
    assert fast.summary["broker_check"]["not_compared"] > 0


def test_a_report_without_a_journal_is_empty_on_both_paths(tmp_path):
    ref, fast = both_paths(tmp_path, [], as_of="2026-11-25", market="ZO")
    assert fast.summary == ref.summary
    assert fast.summary["fills"]["fills"] == 0
    assert {b["kind"] for b in fast.summary["broker_check"]["break_list"]} == {
        "position_mismatch"}  # the broker holds positions the (missing) journal cannot explain


# ------------------------------------------- one alteration on an otherwise matching broker
def matching(fills: list[FillRecord]) -> list[Execution]:
    """The broker's executions of exactly the journal's fills of DUSIM0001 (no break)."""
    return [Execution(f.exec_id, str(i), f.order_ref, f.account_id, f.symbol, f.local_symbol, 1,
                      f.side, f.quantity, f.price, datetime.fromisoformat(
                          f.fill_time.replace("Z", "+00:00")), f.commission)
            for i, f in enumerate(fills) if f.account_id == "DUSIM0001"]


def _at(execs: list[Execution], exec_id: str) -> int:
    return next(k for k, e in enumerate(execs) if e.exec_id == exec_id)


def _alter(execs: list[Execution], which: str, **change: Any) -> list[Execution]:
    out = list(execs)
    out[_at(out, which)] = replace(out[_at(out, which)], **change)
    return out


def _swap_id(execs: list[Execution]) -> list[Execution]:
    """Same length: one execId twice at the broker, another journal fill not there."""
    return _alter(execs, "SIM.000021.01", exec_id="SIM.000020.01")


def _missing_and_extra(execs: list[Execution]) -> list[Execution]:
    out = [e for e in execs if e.exec_id != "SIM.000022.01"]
    return [*out, replace(out[0], exec_id="SIM.800000.01")]


ALTERATIONS: dict[str, tuple[Any, set[str]]] = {
    "none": (lambda x: x, set()),
    "broker order reversed": (lambda x: x[::-1], set()),
    "price": (lambda x: _alter(x, "SIM.000010.01", price=999.0), {"price_mismatch"}),
    "price within tolerance": (lambda x: _alter(x, "SIM.000010.01", price=x[
        _at(x, "SIM.000010.01")].price + 1e-12), set()),
    "quantity": (lambda x: _alter(x, "SIM.000012.01", quantity=7), {"quantity_mismatch"}),
    "side": (lambda x: _alter(x, "SIM.000013.01", side="SELL" if x[
        _at(x, "SIM.000013.01")].side == "BUY" else "BUY"), {"side_mismatch"}),
    "side spelled otherwise": (lambda x: _alter(x, "SIM.000013.01", side="SLD"),
                               {"side_mismatch"}),
    "commission": (lambda x: _alter(x, "SIM.000011.01", commission=9.99),
                   {"commission_mismatch"}),
    "commission not reported at the broker": (
        lambda x: _alter(x, "SIM.000011.01", commission=None), set()),
    "commission reported, journal has none": (
        lambda x: _alter(x, "SIM.000104.01", commission=2.35), {"commission_mismatch"}),
    "correction not applied": (lambda x: _alter(x, "SIM.000014.01", exec_id="SIM.000014.02"),
                               {"correction_not_applied"}),
    "an execId twice, one fill not at the broker": (  # fill 21's values under 20's id
        _swap_id, {"missing_at_broker", "side_mismatch", "quantity_mismatch", "price_mismatch"}),
    "missing at broker and extra at broker": (
        _missing_and_extra, {"missing_at_broker", "missing_in_journal"}),
}
FILL_KINDS = {"price_mismatch", "quantity_mismatch", "side_mismatch", "commission_mismatch",
              "correction_not_applied", "missing_at_broker", "missing_in_journal"}


@pytest.fixture(scope="module")
def journal_fills(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FillRecord]]:
    root = tmp_path_factory.mktemp("matching")
    return root, journaled(root)


@pytest.mark.parametrize("name", ALTERATIONS)
def test_one_alteration_at_the_broker_is_found_alike_on_both_paths(journal_fills, name):
    """The fast path's whole-execId match (in order, permuted, or falling back to the stem
    rules) gives the reference's breaks, one field at a time."""
    root, fills = journal_fills
    alter, kinds = ALTERATIONS[name]
    execs = alter(matching(fills))
    for params in (dict(as_of="2026-11-25", market="ALL"), dict(as_of="2026-11-25",
                                                               market="ZO")):
        ref, fast = both_paths(root, execs, **params)
        assert fast.summary == ref.summary
    found = {b["kind"] for b in fast.summary["broker_check"]["break_list"]} & FILL_KINDS
    assert found == kinds
    if "missing_at_broker" in kinds:  # its order ref: looked up, the journal's own
        [b] = [b for b in fast.summary["broker_check"]["break_list"]
               if b["kind"] == "missing_at_broker"]
        assert b["order_ref"].startswith("HYD-ZO-") and b["order_ref"] == next(
            f.order_ref for f in fills if f.exec_id == b["exec_id"])


@pytest.mark.parametrize("broker_has", ["it", "nothing", "another"])
def test_a_journal_of_one_fill_on_both_paths(tmp_path, broker_has):
    f = fill(1)
    with Journal(DataPaths(tmp_path).journal_db) as j:
        j.record_fills([f])
    execs = {"it": matching([f]), "nothing": [],
             "another": [replace(matching([f])[0], exec_id="SIM.000002.01")]}[broker_has]
    ref, fast = both_paths(tmp_path, execs, as_of="2026-11-25", market="ZO")
    assert fast.summary == ref.summary
    assert fast.summary["fills"]["fills"] == 1 and fast.summary["broker_check"]["matched"] == (
        1 if broker_has == "it" else 0)


def test_a_fill_gone_from_the_journal_mid_report_is_an_error_not_a_blank(tmp_path):
    """The bulk read leaves order refs out; a break's is looked up, and a fill deleted in
    between says so instead of listing a break without its order."""
    import sqlite3

    fills = [fill(1), fill(2)]
    with Journal(DataPaths(tmp_path).journal_db) as j:
        j.record_fills(fills)
    rep = fill_report.open_report(data_dir=str(tmp_path), as_of="2026-11-25", market="ZO")
    rep.journal_columns()
    db = sqlite3.connect(DataPaths(tmp_path).journal_db)
    with db:
        db.execute("DELETE FROM fills WHERE exec_id = ?", (fills[1].exec_id,))
    db.close()
    snap = fill_report.BrokerSnapshot("sim", "DUSIM0001", None, matching(fills[:1]), [],
                                      "compared", "sim")
    with pytest.raises(ValueError, match="left the journal while the report read it"):
        fill_report.broker_check(rep, snap)


# ------------------------------------------------ the simulated account read in columns
def test_the_account_file_read_in_columns_is_simbrokers_executions(data, tmp_path):
    """Every value SimBroker.executions() gives, in its order (time, then execId), also when
    the file's rows are not in that order, for every market or cut to one."""
    _, execs = data
    shuffled = [*execs[::-1], replace(execs[0], exec_id="SIM.000000.00")]  # a tie in time
    account = tmp_path / "sim.sqlite"
    seed_account(account, shuffled, clock=T0 + timedelta(days=30))
    broker = SimBroker(account, SimClock(T0 + timedelta(days=30)))
    broker.connect()
    try:
        expected = broker.executions(None)
    finally:
        broker.close()
    for market in (None, "ZO", "HE", "XX"):
        want = [e for e in expected if market in (None, e.symbol)]
        cols = read_execution_columns(account, market)
        assert cols.market == market and cols.all_items() == want
        assert cols.exec_id.to_pylist() == [e.exec_id for e in want]
        assert cols.order_ref.to_pylist() == [e.order_ref for e in want]
        assert cols.side.to_pylist() == [e.side for e in want]
        assert cols.quantity.tolist() == [e.quantity for e in want]
        assert cols.price.tolist() == [e.price for e in want]
        assert [None if c != c else c for c in cols.commission.tolist()] == [
            e.commission for e in want]
        assert cols.items([len(want) - 1, 0]) == [want[-1], want[0]] if want else True


def test_a_column_snapshot_of_another_market_is_refused(data, tmp_path):
    root, execs = data
    account = tmp_path / "sim.sqlite"
    seed_account(account, execs)
    with pytest.raises(ValueError, match="executions of every market given for a report of ZO"):
        one_path(root, read_execution_columns(account), False, as_of="2026-11-25", market="ZO")


@pytest.mark.parametrize("commissions", [(2.35, 1.0 / 3.0, None), (None, None, None),
                                         (1.0 / 3.0, 1.0 / 7.0, 2.35)])
def test_commissions_and_times_not_stored_as_integers_are_read_again(tmp_path, commissions):
    """Commissions kept as REAL (not on the 1/10,000 grid) or not reported, decoded in SQL;
    fill times read as stored, and read again decoded when a time kept as text makes the
    column text: the reference's values."""
    fills = [fill(i, commission=c) for i, c in enumerate(commissions)]
    fills.append(fill(9, when="2026-11-23T15:00:09Z" if commissions[0] else None))
    with Journal(DataPaths(tmp_path).journal_db) as j:
        j.record_fills(fills)
    ref, fast = both_paths(tmp_path, matching(fills), as_of="2026-11-25", market="ZO")
    assert fast.summary == ref.summary
    cols = fast.report.journal_columns()
    assert [None if c != c else c for c in cols.commission[cols.order].tolist()] == [
        f.commission for f in fills]


def test_a_broken_account_file_read_in_the_thread_fails_the_report_saying_so(tmp_path):
    """prefetch_broker reads the simulator in a thread; its error still reaches build's
    caller as the report's error (not lost in the thread, not a blank comparison)."""
    with Journal(DataPaths(tmp_path).journal_db) as j:
        j.record_fills([fill(1)])
    account = DataPaths(tmp_path).sim_db
    account.parent.mkdir(parents=True, exist_ok=True)
    account.write_bytes(b"not a database at all, padded" * 10)
    with pytest.raises(fill_report.ReportError, match=r"broker check failed: .*not a readable"):
        fill_report.build(data_dir=str(tmp_path), as_of="2026-11-25", market="ZO",
                          broker="sim")
