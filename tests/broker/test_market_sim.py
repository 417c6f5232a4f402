"""The simulated market is deterministic, internally consistent and shaped like a market."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise

import numpy as np
import pytest

from hydra.broker.sim.market import SimMarket, round_to_tick, sim_market
from hydra.reference.markets import get_market

DAY = date(2026, 11, 24)  # a Tuesday
THANKSGIVING = date(2026, 11, 26)


def _on_tick(values: np.ndarray, tick: float) -> bool:
    steps = np.asarray(values) / tick
    return bool(np.all(np.abs(steps - np.round(steps)) < 1e-7))


def test_same_seed_same_market_across_fresh_instances() -> None:
    a, b = SimMarket(get_market("ZO"), 11), SimMarket(get_market("ZO"), 11)
    assert a.bars(date(2026, 9, 1), date(2026, 11, 30)) == b.bars(
        date(2026, 9, 1), date(2026, 11, 30)
    )
    for when in (
        datetime(2026, 11, 24, 15, 7, 31, tzinfo=UTC),  # day session
        datetime(2026, 11, 24, 3, 0, tzinfo=UTC),  # overnight session
        datetime(2026, 11, 24, 22, 0, tzinfo=UTC),  # closed
    ):
        assert a.quote_at(when) == b.quote_at(when)
    assert a.regimes == b.regimes
    assert sim_market("ZO", 11) is sim_market("ZO", 11)


def test_different_seeds_or_symbols_differ() -> None:
    a, b = sim_market("ZO", 1), sim_market("ZO", 2)
    days = (date(2026, 11, 2), DAY)
    assert [a.close(d) for d in days] != [b.close(d) for d in days]
    assert a.bar(DAY) != b.bar(DAY)
    assert a.regimes != b.regimes
    assert sim_market("ZC", 1).close(DAY) != a.close(DAY)


@pytest.mark.parametrize("symbol", ["ZO", "HE"])
def test_bars_are_read_off_the_intraday_path(symbol: str) -> None:
    sm = sim_market(symbol, 7)
    tick = sm.market.tick
    bars = sm.bars(date(2026, 10, 1), date(2026, 11, 30))
    assert len(bars) > 35
    for bar in bars:
        path = sm.day_path(bar.date)
        assert bar.open == path.last[0]
        assert bar.close == path.last[-1] == sm.close(bar.date)
        assert bar.high == path.last.max() >= max(bar.open, bar.close)
        assert bar.low == path.last.min() <= min(bar.open, bar.close)
        assert bar.volume == int(path.volume.sum()) > 0
        assert _on_tick(np.array([bar.open, bar.high, bar.low, bar.close]), tick)


def test_minute_grid_covers_the_session_windows() -> None:
    sm = sim_market("ZO", 7)
    path = sm.day_path(DAY)
    windows = sm.windows(DAY)
    assert len(windows) == 2  # overnight + day session
    expected = sum(int((e - s).total_seconds()) // 60 for s, e in windows)
    assert len(path) == expected
    assert path.time(0) == windows[0][0]
    assert path.time(len(path) - 1) == windows[1][1] - timedelta(minutes=1)
    # the day session trades more per minute than the overnight session
    assert path.volume[path.day_session].mean() > 2 * path.volume[~path.day_session].mean()


@pytest.mark.parametrize(("symbol", "tick"), [("ZO", 0.25), ("HE", 0.025)])
def test_quotes_on_tick_with_positive_spread(symbol: str, tick: float) -> None:
    sm = sim_market(symbol, 7)
    spread_ticks = sm.market.sim.spread_ticks
    for day in (date(2026, 11, 23), DAY, date(2026, 11, 27)):
        path = sm.day_path(day)
        assert np.all(path.bid < path.ask)
        assert _on_tick(path.bid, tick) and _on_tick(path.ask, tick)
        assert np.all(path.ask - path.bid >= spread_ticks * tick - 1e-9)
        assert np.all((path.bid <= path.last) & (path.last <= path.ask))
        assert np.all(path.bid_size >= 1) and np.all(path.ask_size >= 1)
    wide = sm.day_path(DAY).spread_ticks > spread_ticks
    assert 0 < wide.sum() < len(wide) / 4  # occasionally wider, usually not


def test_book_walks_away_from_the_touch() -> None:
    sm = sim_market("ZO", 7)
    path = sm.day_path(DAY)
    i = 900
    asks = list(islice(sm.book(DAY, i, "ask"), 40))
    bids = list(islice(sm.book(DAY, i, "bid"), 40))
    assert asks[0] == (path.ask[i], path.ask_size[i])
    assert bids[0] == (path.bid[i], path.bid_size[i])
    assert all(b[0] - a[0] == pytest.approx(0.25) for a, b in pairwise(asks))
    assert all(a[0] - b[0] == pytest.approx(0.25) for a, b in pairwise(bids))
    assert all(size >= 1 for _, size in asks + bids)
    assert list(islice(sm.book(DAY, i, "ask"), 40)) == asks  # deterministic


def test_quote_in_and_out_of_session() -> None:
    sm = sim_market("ZO", 7)
    inside = sm.quote_at(datetime(2026, 11, 24, 15, 7, 31, tzinfo=UTC))
    assert inside.in_session and inside.trade_date == DAY
    assert inside.time == datetime(2026, 11, 24, 15, 7, tzinfo=UTC)
    after_close = sm.quote_at(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))
    last = sm.day_path(DAY).quote(len(sm.day_path(DAY)) - 1)
    assert not after_close.in_session
    assert (after_close.bid, after_close.ask, after_close.time) == (last.bid, last.ask, last.time)
    assert after_close.last == sm.close(DAY)
    # the break between the overnight and the day session shows the overnight's last minute
    in_break = sm.quote_at(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    assert not in_break.in_session
    assert in_break.time == datetime(2026, 11, 24, 13, 44, tzinfo=UTC)


def test_regimes_exist_switch_and_show_in_returns() -> None:
    sm = sim_market("ZO", 7)
    regimes = sm.regimes
    assert len(regimes) > 60
    assert regimes[0].start == sm.days[0] and regimes[-1].end == sm.days[-1]
    for prev, cur in pairwise(regimes):
        assert sm.previous_day(cur.start) == prev.end  # contiguous blocks
        assert prev.kind != cur.kind  # every switch changes the kind
    lengths = [sm.days.index(r.end) - sm.days.index(r.start) + 1 for r in regimes[:-1]]
    assert min(lengths) >= 40 and max(lengths) <= 160
    assert {r.kind for r in regimes} == {"trending", "mean_reverting", "random_walk"}
    assert {r.volatility for r in regimes} == {"calm", "normal", "volatile"}
    assert sm.regime(regimes[3].start) == regimes[3].kind

    closes = np.array([c for _, c in sm.closes(sm.days[0], sm.days[-1])])
    returns = np.diff(np.log(closes))
    by_kind: dict[str, list[float]] = {}
    by_vol: dict[str, list[np.ndarray]] = {}
    for r in regimes:
        lo, hi = sm.days.index(r.start), sm.days.index(r.end)
        x = returns[max(lo, 1) : hi]
        by_kind.setdefault(r.kind, []).append(float(np.corrcoef(x[:-1], x[1:])[0, 1]))
        by_vol.setdefault(r.volatility, []).append(x)
    assert np.mean(by_kind["trending"]) > 0.15
    assert np.mean(by_kind["mean_reverting"]) < -0.15
    assert np.concatenate(by_vol["volatile"]).std() > 1.6 * np.concatenate(by_vol["calm"]).std()


def test_prices_stay_plausible_for_decades() -> None:
    for symbol in ("ZO", "ZC", "HE"):
        sm = sim_market(symbol, 7)
        closes = np.array([c for _, c in sm.closes(sm.days[0], sm.days[-1])])
        ratio = closes / sm.market.sim.price
        assert ratio.min() > 0.35 and ratio.max() < 2.7, symbol
        assert abs(np.log(closes[0] / sm.market.sim.price)) < 0.2


def test_holidays_have_no_bar() -> None:
    sm = sim_market("ZO", 7)
    dates = [b.date for b in sm.bars(date(2026, 11, 25), date(2026, 11, 30))]
    assert dates == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]
    assert sm.windows(THANKSGIVING) == []
    with pytest.raises(ValueError, match="not a ZO trading day"):
        sm.close(THANKSGIVING)
    # the early close the day after Thanksgiving is respected
    assert sm.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def test_round_to_tick_is_clean() -> None:
    assert round_to_tick(85.0749999, 0.025) == 85.075
    assert round_to_tick(np.array([320.12, 320.13]), 0.25).tolist() == [320.0, 320.25]


def test_three_hundred_bars_from_a_fresh_market_end_on_the_day() -> None:
    # (how long it takes is printed by benchmarks/model_loop.py: speed is not asserted here)
    sm = SimMarket(get_market("ZO"), 12345)  # fresh: nothing cached
    bars = sm.bars_before(DAY, 300)
    assert len(bars) == 300 and bars[-1].date == DAY


def test_null_market_is_one_random_walk_regime_without_autocorrelation() -> None:
    """The calibration market: i.i.d. log returns, so no model can have an edge on it."""
    null = sim_market("ZO", 7, True)
    assert len(null.regimes) == 1 and null.regimes[0].label == "random_walk/normal"
    assert null.regimes[0].phi == 0.0 and null.regimes[0].drift == 0.0
    closes = np.array([c for _, c in null.closes(date(2001, 1, 1), date(2020, 12, 31))])
    r = np.diff(np.log(closes))
    rho = float(np.corrcoef(r[:-1], r[1:])[0, 1])
    assert abs(rho) < 3 / np.sqrt(len(r))  # ~0 within sampling error
    assert abs(np.std(r) / get_market("ZO").sim.daily_vol - 1.0) < 0.05
    regimes = sim_market("ZO", 7)  # the default is untouched: seeded regimes
    assert len(regimes.regimes) > 10 and regimes.close(DAY) != null.close(DAY)


def test_the_null_market_setting_reaches_the_simulated_broker(tmp_path):
    """`[sim] null_market = true` in hydra.toml prices the cycle from the random walk."""
    from hydra import cycle

    prices = {}
    for null in (False, True):
        d = tmp_path / f"null-{null}"
        d.mkdir()
        (d / "hydra.toml").write_text(f"[sim]\nnull_market = {str(null).lower()}\n")
        cyc = cycle.open_cycle(as_of="2026-11-24", data_dir=str(d), dry_run=True)
        try:
            assert cyc.broker.null_market is null
            c = cyc.broker.contract_details("ZO", cyc.params.as_of)
            prices[null] = [b.close for b in cyc.broker.daily_bars(c, 30)]
        finally:
            cyc.close()
    assert prices[False] != prices[True]
