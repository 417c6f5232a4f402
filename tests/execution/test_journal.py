"""The fill journal: exactly once per execution, corrections replace, crashes lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict, replace
from datetime import date

import pytest

from hydra.execution.journal import FillRecord, Journal, JournalError

FILL = FillRecord(
    exec_id="0000e0d5.6564c2a1.01.01", order_ref="HYD-ZO-20261124-1-s1-a1",
    parent_ref="HYD-ZO-20261124-1", cycle_id="ZO-20261124", as_of="2026-11-24", symbol="ZO",
    local_symbol="ZOH7", side="BUY", quantity=1, price=320.25,
    fill_time="2026-11-24T16:00:00+00:00", route="limit-patience", slice=1,
    decision_mid=320.0, arrival_mid=320.125, tick=0.25, point_value=50.0,
    predicted_price=0.15, predicted_ticks=0.6, predicted_bps=4.7, predicted_usd=7.5,
    actual_price=0.125, actual_ticks=0.5, actual_bps=3.9, actual_usd=6.25, commission=None,
    latency_ms=120.0, broker="ib", account_id="DU123",
)


def test_replayed_execution_is_journaled_once(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.record_fill(FILL) is True
        assert j.record_fill(FILL) is False
        assert j.record_fill(replace(FILL, commission=2.35)) is False  # late commission report
        fills = j.fills()
    assert len(fills) == 1
    assert fills.loc[0, "commission"] == 2.35


def test_correction_replaces_the_fill_and_is_kept_on_record(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_fill(FILL)
        corrected = replace(FILL, exec_id="0000e0d5.6564c2a1.01.02", price=320.5)
        assert j.record_fill(corrected) is False
        j.record_fill(FILL)  # the stale original arriving again changes nothing
        fills = j.fills()
        history = j._db.execute("SELECT * FROM fill_corrections").fetchall()
    assert len(fills) == 1
    assert fills.loc[0, "exec_id"] == "0000e0d5.6564c2a1.01.02"
    assert fills.loc[0, "price"] == 320.5
    assert len(history) == 1 and history[0]["old_price"] == 320.25


def test_queries_by_date_range_and_symbol(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_fill(FILL)
        j.record_fill(replace(FILL, exec_id="x.1.01", as_of="2026-11-25", symbol="ZC"))
        assert len(j.fills(since=date(2026, 11, 25))) == 1
        assert len(j.fills(until=date(2026, 11, 24))) == 1
        assert list(j.fills(symbol="zc")["symbol"]) == ["ZC"]


def test_corrupt_journal_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"not a database at all" * 10)
    before = path.read_bytes()
    with pytest.raises(JournalError, match="left untouched"):
        Journal(path)
    assert path.read_bytes() == before


def test_process_killed_right_after_a_fill_loses_nothing(tmp_path):
    """A real simulated fill, journaled, then SIGKILL: the fill is on disk."""
    data = tmp_path / "data"
    script = textwrap.dedent(f"""
        import sys, time
        from hydra import cycle
        cyc = cycle.open_cycle(as_of="2026-11-24", data_dir={str(data)!r})
        sig = cycle.compute_signal(cyc)
        q = cyc.broker.quote(sig.contract)
        from hydra.domain.broker import OrderRequest
        for n in range(1, 4):
            cyc.broker.place_order(OrderRequest(sig.contract, "BUY", 1, "LMT", q.ask,
                                                f"HYD-ZO-20261124-{{n}}-s1-a1"))
            cycle.sync_fills(cyc)
            print("journaled", n, flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while len(lines) < 3:
            line = proc.stdout.readline()
            assert line, "child exited early"
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with Journal(data / "journal" / "journal.sqlite") as j:
        fills = j.fills()
        integrity = j._db.execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"
    assert len(fills) == 3
    assert sorted(fills["order_ref"]) == [f"HYD-ZO-20261124-{n}-s1-a1" for n in (1, 2, 3)]


def test_the_columnar_read_gives_the_row_reads_values_for_every_kind_of_fill(tmp_path):
    """Journal.fill_frame (the report's fast read) = Journal.fills, value for value, also
    for fills the compact encoding keeps as given (odd times, prices, slippage)."""
    import pandas as pd

    from hydra.execution import slippage

    def consistent(exec_id: str, side: str, price: float, predicted: float) -> FillRecord:
        """Slippage computed as fillsync does: stored as formula bits, not values."""
        units = {"tick": 0.25, "reference_price": 320.125, "point_value": 50.0, "quantity": 3}
        pred = slippage.in_units(predicted, **units)
        act = slippage.in_units(slippage.actual_price(side, price, 320.125), **units)
        return replace(FILL, exec_id=exec_id, side=side, price=price, quantity=3,
                       predicted_price=pred.price, predicted_ticks=pred.ticks,
                       predicted_bps=pred.bps, predicted_usd=pred.dollars,
                       actual_price=act.price, actual_ticks=act.ticks, actual_bps=act.bps,
                       actual_usd=act.dollars)

    odd = [FILL, consistent("e.1", "BUY", 320.5, 0.1373), consistent("f.1", "SELL", 320.125, 0.3),
           replace(FILL, exec_id="b.1", symbol="ZC", actual_ticks=9.0, commission=2.35 * 3),
           replace(FILL, exec_id="c", fill_time="2026-11-24T09:00:00-06:00", parent_ref=None,
                   price=320.123456789, arrival_mid=None),
           replace(FILL, exec_id="d.2", fill_time=FILL.fill_time, tick=0.0, side="SELL")]
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_fills(odd)
        for symbol in (None, "ZO", "ZC"):
            rows = j.fills(symbol=symbol)
            rows["fill_time"] = pd.to_datetime(rows["fill_time"], utc=True, format="ISO8601")
            rows["journaled_at"] = pd.to_datetime(rows["journaled_at"], utc=True)
            pd.testing.assert_frame_equal(j.fill_frame(symbol=symbol), rows, check_dtype=False,
                                          check_exact=True)
        derived = j._db.execute("SELECT derived FROM fill_rows WHERE exec_stem='e'").fetchone()
        written = {f.exec_id: asdict(f) for f in odd}
        for got in j.fills().to_dict("records"):  # each value read back as it was written
            want = written[got["exec_id"]]
            assert {k: got[k] for k in want if pd.notna(got[k])} == \
                {k: v for k, v in want.items() if v is not None}, got["exec_id"]
    assert len(rows) == 1 and rows.loc[0, "actual_ticks"] == 9.0
    assert derived[0] == 127  # every slippage column stored as its formula


@pytest.mark.parametrize("bad", [{"price": float("nan")}, {"price": float("inf")},
                                 {"quantity": 0}, {"fill_time": ""}, {"exec_id": ""}])
def test_a_fill_that_cannot_be_journaled_is_an_error_not_a_duplicate(tmp_path, bad):
    """A broker reply with no price (NaN is stored as NULL) used to be skipped by INSERT OR
    IGNORE and reported as "already journaled": a fill lost in silence."""
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(JournalError, match="cannot be journaled"):
            j.record_fill(replace(FILL, **bad))
        assert len(j.fills()) == 0
        assert j.record_fill(FILL) is True, "the journal is still usable"


def test_prices_stored_as_ten_thousandths_read_back_bit_for_bit(tmp_path):
    """The bulk reads divide integer-stored prices in numpy: the same doubles as the SQL
    view's k / 10000.0 (and as written) for a few thousand prices that are not short
    decimals, arrival mids with a NULL among them."""
    import numpy as np

    rng = np.random.default_rng(3)
    ks = rng.integers(1, 10**9, 3000)
    fills = [replace(FILL, exec_id=f"p{i}.1", price=float(k) / 10_000,
                     arrival_mid=None if i == 7 else float(k + 3) / 10_000)
             for i, k in enumerate(ks)]
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_fills(fills)
        assert j._db.execute("SELECT count(*) FROM fill_rows WHERE typeof(price) != 'integer'"
                             ).fetchone()[0] == 0  # every price on the 1/10,000 grid
        rows = j.fills()
        frame, cols = j.fill_frame(), j.fill_columns()
    written = np.array([f.price for f in sorted(fills, key=lambda f: f.exec_id)])
    key_order = np.argsort(rows["exec_id"].to_numpy().astype(str), kind="stable")
    assert (rows["price"].to_numpy()[key_order] == written).all()
    assert (frame["price"].to_numpy() == rows["price"].to_numpy()).all()
    assert (cols.price[cols.order] == rows["price"].to_numpy()).all()
    np.testing.assert_array_equal(cols.arrival_mid[cols.order], rows["arrival_mid"].to_numpy(
        dtype=float, na_value=np.nan))
