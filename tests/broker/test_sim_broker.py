"""The embedded simulated broker: accounting, persistence, order life cycle, safety checks.

Real SQLite files in tmp_path and a SimClock; expected numbers are computed by hand from the
execution prices the broker reports.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hydra.broker.sim.broker import EXPIRY_REF, Fill, SimBroker
from hydra.broker.sim.market import sim_market
from hydra.domain.broker import BrokerError, ContractDetails, OrderRequest
from hydra.reference.clock import SimClock

SEED = 7
DAY = date(2026, 11, 24)  # a Tuesday; ZO day session 14:30-19:20 UTC
IN_SESSION = datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC)
DAY_CLOSE = datetime(2026, 11, 24, 19, 20, tzinfo=UTC)
NEXT_OPEN = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # Tuesday 19:00 CT: the overnight session
PV = 50.0  # ZO dollars per cent
COMMISSION = 2.35


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "accounts" / "sim.db"


@pytest.fixture
def clock() -> SimClock:
    return SimClock(IN_SESSION)


@pytest.fixture
def broker(db: Path, clock: SimClock) -> Iterator[SimBroker]:
    with SimBroker(db, clock, seed=SEED) as b:
        yield b  # type: ignore[misc]


def _zo(broker: SimBroker) -> ContractDetails:
    return broker.contract_details("ZO", DAY)


def _order(
    c: ContractDetails,
    side: str,
    qty: int,
    limit: float | None,
    ref: str,
    tif: str = "DAY",
) -> OrderRequest:
    kind = "MKT" if limit is None else "LMT"
    return OrderRequest(c, side, qty, kind, limit, ref, tif)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ accounting


def test_buy_two_sell_three_accounting(broker: SimBroker) -> None:
    c = _zo(broker)
    q = broker.quote(c)
    assert q.in_session and q.data_type == "simulated"
    assert q.ask_size >= 2 and q.bid_size >= 3  # both orders fill at the touch

    buy = broker.place_order(_order(c, "BUY", 2, q.ask, "T-buy"))
    sell = broker.place_order(_order(c, "SELL", 3, q.bid, "T-sell"))
    assert (buy.status, buy.filled, sell.status, sell.filled) == ("Filled", 2, "Filled", 3)

    execs = broker.executions()
    assert [(e.side, e.quantity) for e in execs] == [("BUY", 2), ("SELL", 3)]
    a, b = execs[0].price, execs[1].price
    assert (a, b) == (q.ask, q.bid)
    assert [e.commission for e in execs] == pytest.approx([2 * COMMISSION, 3 * COMMISSION])
    assert execs[0].exec_id == f"SIM.{int(buy.order_id):08d}.01.01"

    mark = (q.bid + q.ask) / 2  # in session: positions are marked at the mid
    realized = (b - a) * 2 * PV  # closed 2 long at b
    unrealized = (mark - b) * -1 * PV  # 1 short opened at b
    commissions = 5 * COMMISSION
    cash = 100_000 + realized - commissions

    [pos] = broker.positions()
    assert (pos.local_symbol, pos.quantity, pos.avg_price) == (c.local_symbol, -1, b)
    assert pos.market_price == pytest.approx(mark)
    assert pos.point_value == PV
    assert pos.realized_pnl == pytest.approx(realized)
    assert pos.unrealized_pnl == pytest.approx(unrealized)

    acct = broker.account_state()
    assert acct.account_id == "DUSIM0001"
    assert acct.cash == pytest.approx(cash)
    assert acct.realized_pnl == pytest.approx(realized)
    assert acct.unrealized_pnl == pytest.approx(unrealized)
    assert acct.net_liquidation == pytest.approx(cash + unrealized)
    # nothing was held at the previous close, so today's P&L is all of it
    assert acct.daily_pnl == pytest.approx(cash + unrealized - 100_000)


def test_daily_pnl_is_measured_from_the_previous_close(broker: SimBroker, clock: SimClock) -> None:
    c = _zo(broker)
    broker.place_order(_order(c, "BUY", 1, None, "T-mkt"))
    [fill] = broker.executions()
    sm = sim_market("ZO", SEED)
    clock.advance_to(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # next day, in session
    mark = sm.quote_at(clock.now()).mid
    acct = broker.account_state()
    assert acct.unrealized_pnl == pytest.approx((mark - fill.price) * PV)
    assert acct.daily_pnl == pytest.approx((mark - sm.close(DAY)) * PV)
    clock.advance_to(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))  # after the close
    assert broker.positions()[0].market_price == sm.close(date(2026, 11, 25))


# ---------------------------------------------------------------------------- persistence


def test_account_persists_across_close_and_reopen(db: Path, clock: SimClock) -> None:
    with SimBroker(db, clock, seed=SEED) as b:
        c = _zo(b)
        q = b.quote(c)
        b.place_order(_order(c, "BUY", 2, q.ask, "P-1"))
        b.place_order(_order(c, "BUY", 1, q.bid - 40 * c.tick, "P-2", tif="GTC"))
        before = (b.positions(), b.orders(), b.executions(), b.account_state().cash)
    assert not b.is_connected()
    with pytest.raises(BrokerError, match="not connected"):
        b.positions()

    with SimBroker(db, clock, seed=SEED) as again:
        after = (again.positions(), again.orders(), again.executions(), again.account_state().cash)
    assert after == before
    assert SimBroker.last_processed(db) == IN_SESSION
    with closing(sqlite3.connect(db)) as raw:  # shareable between processes
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # a second process with a later clock sees the same history
    later = SimClock(IN_SESSION + timedelta(minutes=30))
    with SimBroker(db, clock, seed=SEED) as first, SimBroker(db, later, seed=SEED) as second:
        assert [o.order_ref for o in second.orders()] == ["P-1", "P-2"]
        assert second.positions()[0].quantity == 2
        with pytest.raises(BrokerError, match="cannot act at earlier time"):
            first.positions()  # the account has moved on past its clock


# ------------------------------------------------------------------------ order life cycle


def test_order_outside_session_rests_until_the_next_open(db: Path) -> None:
    clock = SimClock(datetime(2026, 11, 24, 21, 0, tzinfo=UTC))  # after the close
    with SimBroker(db, clock, seed=SEED) as b:
        c = _zo(b)
        assert not b.quote(c).in_session
        status = b.place_order(_order(c, "BUY", 1, None, "O-1"))
        assert status.status == "PreSubmitted"
        assert status.message == "resting until the next session opens"
        clock.advance_to(NEXT_OPEN - timedelta(seconds=1))
        assert b.order_status(status.order_id).status == "PreSubmitted"
        assert b.executions() == []
        clock.advance_to(NEXT_OPEN + timedelta(seconds=30))
        done = b.order_status(status.order_id)
        [fill] = b.executions("O-1")
    first = sim_market("ZO", SEED).day_path(date(2026, 11, 25)).quote(0)
    assert done.status == "Filled" and done.filled == 1
    assert fill.time == NEXT_OPEN == first.time
    assert fill.price == first.ask


def test_passive_limit_fills_only_when_the_market_trades_through(
    broker: SimBroker, clock: SimClock
) -> None:
    c = _zo(broker)
    path = sim_market("ZO", SEED).day_path(DAY)
    now = path.index_at(IN_SESSION)
    assert now is not None
    later_asks = path.ask[now + 1 :]
    j = now + 1 + int(np.argmin(later_asks))  # first minute the ask reaches its low
    limit = float(path.ask[j])
    assert limit < path.ask[now]  # not marketable now

    status = broker.place_order(_order(c, "BUY", 1, limit, "R-1"))
    assert (status.status, status.filled) == ("Submitted", 0)
    clock.advance_to(path.time(j) - timedelta(seconds=1))
    assert broker.order_status(status.order_id).filled == 0
    clock.advance_to(path.time(j))
    done = broker.order_status(status.order_id)
    assert (done.status, done.filled, done.avg_fill_price) == ("Filled", 1, limit)
    [fill] = broker.executions("R-1")
    assert fill.time == path.time(j) and fill.price == limit


def test_day_orders_expire_at_the_close_gtc_orders_persist(
    broker: SimBroker, clock: SimClock
) -> None:
    c = _zo(broker)
    far = sim_market("ZO", SEED).bar(DAY).low - 20 * c.tick
    day = broker.place_order(_order(c, "BUY", 1, far, "E-day"))
    gtc = broker.place_order(_order(c, "BUY", 1, far, "E-gtc", tif="GTC"))
    clock.advance_to(DAY_CLOSE - timedelta(seconds=1))
    assert broker.order_status(day.order_id).status == "Submitted"
    clock.advance_to(DAY_CLOSE + timedelta(minutes=1))
    expired = broker.order_status(day.order_id)
    assert expired.status == "Cancelled"
    assert expired.message == "DAY order expired at the session close"
    assert expired.updated_at == DAY_CLOSE
    assert broker.order_status(gtc.order_id).status == "Submitted"

    cancelled = broker.cancel_order(gtc.order_id)
    assert (cancelled.status, cancelled.message) == ("Cancelled", "cancelled by request")
    again = broker.cancel_order(day.order_id)
    assert again.status == "Cancelled" and "already Cancelled" in again.message
    assert broker.order_status(day.order_id).message == "DAY order expired at the session close"


def test_off_tick_limit_is_inactive(broker: SimBroker) -> None:
    c = _zo(broker)
    q = broker.quote(c)
    status = broker.place_order(_order(c, "BUY", 1, q.ask + c.tick / 2, "X-1"))
    assert status.status == "Inactive" and status.filled == 0
    assert status.message.startswith("Invalid Price")
    assert broker.executions() == []
    bad_qty = broker.place_order(_order(c, "BUY", 0, q.ask, "X-2"))
    assert bad_qty.status == "Inactive" and "positive whole number" in bad_qty.message
    assert [o.status for o in broker.orders("X-")] == ["Inactive", "Inactive"]


def test_hog_limits_on_the_fine_tick_are_accepted(broker: SimBroker) -> None:
    he = broker.contract_details("HE", DAY)
    q = broker.quote(he)
    assert q.in_session
    below = round(q.bid - 3 * he.tick, 3)  # e.g. 85.075: not exact in binary
    assert broker.place_order(_order(he, "BUY", 1, below, "H-1")).status == "Submitted"
    off = broker.place_order(_order(he, "BUY", 1, below + 0.01, "H-2"))
    assert off.status == "Inactive" and "Invalid Price" in off.message


def test_large_marketable_order_walks_the_book(broker: SimBroker) -> None:
    c = _zo(broker)
    q = broker.quote(c)
    qty = q.ask_size + 12
    status = broker.place_order(_order(c, "BUY", qty, q.ask + 10 * c.tick, "W-1"))
    assert (status.status, status.filled) == ("Filled", qty)
    fills = broker.executions("W-1")
    assert len(fills) >= 2
    assert (fills[0].price, fills[0].quantity) == (q.ask, q.ask_size)
    assert [f.price for f in fills] == sorted(f.price for f in fills)
    assert status.avg_fill_price is not None and status.avg_fill_price > q.ask
    vwap = sum(f.price * f.quantity for f in fills) / qty
    assert status.avg_fill_price == pytest.approx(vwap)
    assert [f.exec_id for f in fills] == [
        f"SIM.{int(status.order_id):08d}.{k:02d}.01" for k in range(1, len(fills) + 1)
    ]


def test_limit_caps_the_walk_and_the_rest_works(broker: SimBroker) -> None:
    c = _zo(broker)
    q = broker.quote(c)
    status = broker.place_order(_order(c, "BUY", q.ask_size + 500, q.ask, "W-2"))
    assert (status.status, status.filled) == ("Submitted", q.ask_size)


def test_contract_expiry_closes_positions_and_cancels_orders(db: Path) -> None:
    clock = SimClock(datetime(2026, 12, 10, 15, 0, tzinfo=UTC))
    with SimBroker(db, clock, seed=SEED) as b:
        z6 = b.contract_by_local_symbol("ZOZ6")
        assert z6.last_trade_date == date(2026, 12, 14)
        b.place_order(_order(z6, "BUY", 2, None, "X-buy"))
        working = b.place_order(_order(z6, "BUY", 1, 1.0, "X-gtc", tif="GTC"))
        clock.advance_to(datetime(2026, 12, 14, 21, 0, tzinfo=UTC))  # after the last close
        assert b.positions() == []
        [expiry] = b.executions(EXPIRY_REF)
        gone = b.order_status(working.order_id)
        late = b.place_order(_order(z6, "BUY", 1, None, "X-late"))
    sm = sim_market("ZO", SEED)
    assert (expiry.side, expiry.quantity) == ("SELL", 2)
    assert expiry.price == sm.close(date(2026, 12, 14))
    assert expiry.time == sm.session_close(date(2026, 12, 14))
    assert gone.status == "Cancelled" and "expired" in gone.message
    assert late.status == "Inactive" and "expired" in late.message


def test_executions_filter_by_ref_prefix_and_since(broker: SimBroker, clock: SimClock) -> None:
    c = _zo(broker)
    broker.place_order(_order(c, "BUY", 1, None, "C1-A-1"))
    clock.sleep(120)
    t1 = clock.now()
    broker.place_order(_order(c, "BUY", 1, None, "C1-B-1"))
    broker.place_order(_order(c, "SELL", 2, None, "C2-A-1"))
    assert [e.order_ref for e in broker.executions("C1-")] == ["C1-A-1", "C1-B-1"]
    assert [e.order_ref for e in broker.executions(since=t1)] == ["C1-B-1", "C2-A-1"]
    assert [e.order_ref for e in broker.executions("C1-", since=t1)] == ["C1-B-1"]
    assert broker.executions("C_") == []  # a literal prefix, not a LIKE pattern
    assert [o.order_ref for o in broker.orders("C2")] == ["C2-A-1"]


def test_daily_bars_have_no_partial_bar(broker: SimBroker, clock: SimClock) -> None:
    c = _zo(broker)
    bars = broker.daily_bars(c, 300)
    assert len(bars) == 300 and bars[-1].date == date(2026, 11, 23)
    assert bars == sim_market("ZO", SEED).bars_before(date(2026, 11, 23), 300)
    clock.advance_to(DAY_CLOSE)
    assert broker.daily_bars(c, 1)[0].date == DAY


# ------------------------------------------------------------------------------ safety


def test_clock_going_backwards_is_refused(db: Path) -> None:
    with SimBroker(db, SimClock(IN_SESSION), seed=SEED) as b:
        b.account_state()
    earlier = SimClock(IN_SESSION - timedelta(hours=1))
    with SimBroker(db, earlier, seed=SEED) as b, pytest.raises(BrokerError) as err:
        b.account_state()
    assert "clock is at 2026-11-24T15:00:30" in str(err.value)
    assert "cannot act at earlier time" in str(err.value)


def test_a_reader_follows_an_account_another_process_moves_on(db: Path) -> None:
    """A report opened at the account's time while `hydra sim-gateway` goes on moving that
    account's clock (and filling its orders) reads it as it is now, instead of refusing."""
    with SimBroker(db, SimClock(IN_SESSION), seed=SEED) as b:
        b.account_state()
    opened_at = SimBroker.last_processed(db)
    assert opened_at == IN_SESSION
    reader_clock, later = SimClock(opened_at), IN_SESSION + timedelta(minutes=20)
    with SimBroker(db, reader_clock, seed=SEED, follow_account=True) as reader, \
            SimBroker(db, SimClock(later), seed=SEED) as mover:
        c = _zo(mover)
        assert mover.place_order(_order(c, "BUY", 2, mover.quote(c).ask, "T-mover")).filled == 2
        assert [(p.con_id, p.quantity) for p in reader.positions()] == [(c.con_id, 2)]
        assert reader.now() == later and reader_clock.now() == later
    with SimBroker(db, SimClock(opened_at), seed=SEED) as stale, \
            pytest.raises(BrokerError, match="cannot act at earlier time"):
        stale.positions()  # a trading broker still refuses to act in the account's past


def test_seed_mismatch_is_refused(db: Path, clock: SimClock) -> None:
    with SimBroker(db, clock, seed=SEED) as b:
        b.positions()
    with pytest.raises(BrokerError, match="seed 7"):
        SimBroker(db, clock, seed=8).connect()
    with pytest.raises(BrokerError, match="DUSIM0001"):
        SimBroker(db, clock, seed=SEED, account_id="DUSIM0002").connect()


def test_corrupt_file_is_refused_and_left_untouched(db: Path, clock: SimClock) -> None:
    db.parent.mkdir(parents=True)
    junk = b"this is not a database\n" * 50
    db.write_bytes(junk)
    with pytest.raises(BrokerError) as err:
        SimBroker(db, clock, seed=SEED).connect()
    assert str(db) in str(err.value) and "Move it aside" in str(err.value)
    with pytest.raises(BrokerError):
        SimBroker.last_processed(db)
    assert db.read_bytes() == junk
    assert sorted(p.name for p in db.parent.iterdir()) == ["sim.db"]


def test_unknown_market_lists_known_ones(broker: SimBroker) -> None:
    with pytest.raises(BrokerError, match="HE, ZC, ZO"):
        broker.contract_details("XX", DAY)
    with pytest.raises(BrokerError, match="HE, ZC, ZO"):
        broker.contract_by_local_symbol("QQZ6")
    assert SimBroker.last_processed(Path("/nonexistent/never.db")) is None


# ------------------------------------------------- remembered executions (replay speed)


def test_positions_follow_a_fill_committed_by_another_connection(db: Path, clock: SimClock) -> None:
    """The broker remembers the executions it read; a fill another process commits to the
    same account must still show in its positions and cash on the next call."""
    with SimBroker(db, clock, seed=SEED) as a, SimBroker(db, clock, seed=SEED) as b:
        c = _zo(a)
        assert a.positions() == [] and a.account_state().realized_pnl == 0.0  # read, remembered
        q = b.quote(c)
        assert b.place_order(_order(c, "BUY", 2, q.ask, "T-other")).status == "Filled"
        assert [(p.con_id, p.quantity) for p in a.positions()] == [(c.con_id, 2)]
        assert a.account_state().cash == pytest.approx(a.starting_cash - 2 * COMMISSION)
        assert [e.order_ref for e in a.executions()] == ["T-other"]


def test_positions_follow_its_own_fill_and_forget_a_rolled_back_one(
        broker: SimBroker, clock: SimClock) -> None:
    c = _zo(broker)
    assert broker.positions() == []  # the empty history, remembered
    q = broker.quote(c)
    broker.place_order(_order(c, "BUY", 2, q.ask, "T-own"))
    assert [p.quantity for p in broker.positions()] == [2]
    before = broker.account_state()
    # a fill written inside a session that then fails is rolled back: it must not be counted
    with pytest.raises(RuntimeError), broker._session() as (conn, now):
        o = broker._order_obj(conn, conn.execute("SELECT * FROM orders").fetchone())
        broker._record_fill(conn, o, Fill(2, q.ask), now)
        assert [b.quantity for b in broker._books(conn).values()] == [4]  # seen inside
        raise RuntimeError("fail after the fill")
    assert [p.quantity for p in broker.positions()] == [2]
    assert broker.account_state().cash == before.cash
