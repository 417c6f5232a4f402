"""The bar store: append-only, and every query is point-in-time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest

from hydra.domain.broker import Bar
from hydra.model.store import BarStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _bar(day: int, close: float = 100.0) -> Bar:
    return Bar(date(2026, 3, day), close, close + 1, close - 1, close, 1000)


def test_queries_see_only_bars_before_the_trade_date(tmp_path):
    with BarStore(tmp_path / "bars.sqlite") as store:
        store.append("ZO", [_bar(d, 100 + d) for d in (2, 3, 4, 5, 6)], T0)
        seen = store.bars_before("ZO", date(2026, 3, 5))
        assert list(seen.index) == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
        assert list(store.bars_before("ZO", date(2026, 3, 5), limit=2).index) == [
            date(2026, 3, 3), date(2026, 3, 4)]
        assert store.last_date("ZO") == date(2026, 3, 6)
        assert store.bars_before("ZC", date(2026, 3, 5)).empty


def test_stored_bars_are_never_rewritten(tmp_path):
    with BarStore(tmp_path / "bars.sqlite") as store:
        store.append("ZO", [_bar(2, 100)], T0)
        res = store.append("ZO", [_bar(2, 100), _bar(2, 105), _bar(3, 101)], T0)
        assert (res.added, res.unchanged, res.revisions) == (1, 1, 1)
        assert store.bars_before("ZO", date(2026, 3, 4))["close"].tolist() == [100, 101]
        assert store.revisions("ZO")["close"].tolist() == [105]
    with sqlite3.connect(tmp_path / "bars.sqlite") as conn, pytest.raises(
            sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE bars SET close = 1")
