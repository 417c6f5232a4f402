import math

import pytest

from hydra.execution import slippage


def test_predicted_uses_volatility_in_price_units():
    # half spread 0.25 + 0.1 * 6.0 * sqrt(4 / 900) = 0.25 + 0.04
    got = slippage.predicted_price(0.25, 6.0, 4, 900, 0.1)
    assert got == pytest.approx(0.25 + 0.1 * 6.0 * math.sqrt(4 / 900))
    assert got - 0.25 == pytest.approx(0.04)  # the impact term is material, not ~0


def test_actual_is_signed_cost():
    assert slippage.actual_price("BUY", 321.0, 320.5) == pytest.approx(0.5)
    assert slippage.actual_price("SELL", 321.0, 320.5) == pytest.approx(-0.5)
    assert slippage.actual_price("SELL", 320.0, 320.5) == pytest.approx(0.5)


def test_units_for_oats():
    # ZO: tick 0.25 cents, $50 per cent per contract; 0.5 cents on 2 contracts at 320
    s = slippage.in_units(0.5, tick=0.25, reference_price=320.0, point_value=50.0, quantity=2)
    assert s.ticks == pytest.approx(2.0)
    assert s.bps == pytest.approx(0.5 / 320.0 * 1e4)
    assert s.dollars == pytest.approx(50.0)


def test_daily_vol_and_adv():
    assert slippage.daily_vol_price([100, 101, 100, 101]) == pytest.approx(
        math.sqrt(((1 - 1 / 3) ** 2 * 2 + (-1 - 1 / 3) ** 2) / 2))
    assert slippage.average_daily_volume([10, 20, 30]) == 20
    with pytest.raises(ValueError):
        slippage.predicted_price(0.1, 1.0, 0, 100, 0.1)
