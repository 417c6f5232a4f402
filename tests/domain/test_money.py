"""Money is written with its currency code and never with a `$` (MathJax reads `$...$` as TeX)."""

from __future__ import annotations

import math

import pytest

from hydra.domain.money import money
from hydra.views.cycle import _banner


@pytest.mark.parametrize(("value", "signed", "text"), [
    (25, False, "USD 25.00"),
    (25, True, "USD +25.00"),
    (-14.850000000000023, True, "USD -14.85"),
    (1234567.891, False, "USD 1,234,567.89"),
    (-0.001, True, "USD +0.00"),
    (-0.0, False, "USD 0.00"),
    (None, False, "not available"),
    (math.nan, True, "not available"),
])
def test_money_text(value: float | None, signed: bool, text: str) -> None:
    assert money(value, signed=signed) == text


def test_banner_has_no_dollar_sign() -> None:
    summary = {
        "status": "traded", "as_of": "2026-11-30", "market": "ZC", "contract": "ZCH7",
        "broker": "sim", "account_id": "DU1", "mode": "paper", "safety": "paper account",
        "signal": "LONG", "signal_score": 0.4, "model": "m1", "position_before": 0,
        "target_position": 1, "position_after": 1, "orders_sent": 1, "fills": 1,
        "filled_contracts": 1, "avg_fill_price": 450.25, "slippage_ticks": 2.0,
        "slippage_usd": 25.0, "predicted_slippage_usd": 13.63, "commission": 2.5,
        "net_liquidation": 1_000_000.0, "daily_pnl": -12.5, "blocked": [],
        "order_outcomes": ["c1-open filled"],
    }
    out = _banner(summary)
    for text in out.values():
        assert "$" not in text
    assert "USD +25.00" in out["text/html"] and "USD 1,000,000.00" in out["text/html"]

    # a score or a slippage that rounds to zero reads +0.00, never -0.00
    out = _banner({**summary, "signal": "FLAT", "signal_score": -0.001, "slippage_ticks": -0.0})
    assert "score +0.00," in out["text/plain"] and "-0.00" not in out["text/plain"]
