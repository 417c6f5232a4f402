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


def test_kelly_target_is_clipped_to_the_risk_limits_before_netting():
    """contracts 10 with a confident signal: Kelly alone asks for 10, but 10 x $20k notional
    on $100k breaks max_notional_fraction 1.0; the target is clipped to what the gate allows."""
    from hydra.model.sizing import target_contracts

    kw = dict(sizing="kelly", cap=10, kelly_fraction=0.5, daily_sigma=0.005,
              equity=100_000.0, notional_per_contract=20_000.0)
    assert target_contracts(1, 0.8, **kw) == 10  # unclipped: beyond the notional limit
    assert target_contracts(1, 0.8, **kw, max_position_contracts=10,
                            max_notional_fraction=1.0) == 5
    assert target_contracts(-1, 0.8, **kw, max_position_contracts=3,
                            max_notional_fraction=1.0) == -3
    assert target_contracts(1, 0.8, **kw, max_notional_fraction=0.1) == 0
