"""Position sizing: flat stays flat, fixed uses the cap, Kelly never exceeds it."""

from __future__ import annotations

import pytest

from hydra.model.sizing import kelly_leverage, target_contracts


def test_fixed_sizing_holds_the_cap_in_the_signal_direction():
    assert target_contracts(1, 0.6, sizing="fixed", cap=3) == 3
    assert target_contracts(-1, 0.4, sizing="fixed", cap=3) == -3
    assert target_contracts(0, 0.5, sizing="fixed", cap=3) == 0
    assert target_contracts(1, 0.6, sizing="fixed", cap=0) == 0


def test_kelly_grows_with_the_edge_and_is_capped():
    kw = dict(sizing="kelly", kelly_fraction=0.5, daily_sigma=0.02, equity=100_000,
              notional_per_contract=16_000)
    small = target_contracts(1, 0.52, cap=50, **kw)
    large = target_contracts(1, 0.60, cap=50, **kw)
    assert 0 <= small < large
    assert target_contracts(-1, 0.40, cap=2, **kw) == -2  # capped
    assert target_contracts(1, 0.501, cap=5, **kw) == 0  # too little edge for one contract
    assert kelly_leverage(0.5, 0.02) == 0


def test_unknown_sizing_is_refused():
    with pytest.raises(ValueError, match="unknown sizing"):
        target_contracts(1, 0.6, sizing="martingale", cap=1)
