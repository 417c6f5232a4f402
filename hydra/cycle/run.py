"""The whole cycle without a notebook (replays, benchmarks, tests): the same steps in order."""

from __future__ import annotations

from typing import Any

from hydra.cycle.account import check_account
from hydra.cycle.context import open_cycle
from hydra.cycle.fills import journal_fills
from hydra.cycle.maintain import maintain_model
from hydra.cycle.plan import plan_orders
from hydra.cycle.signal import compute_signal
from hydra.cycle.summary import summarize
from hydra.cycle.trade import execute


def run_in_process(**params: Any) -> dict[str, Any]:
    """The whole cycle without a notebook (replays, benchmarks); same steps, same safeguards."""
    cyc = open_cycle(**params)
    try:
        check = check_account(cyc)
        model = maintain_model(cyc)
        sig = compute_signal(cyc)
        plan = plan_orders(cyc, sig)
        result = execute(cyc, plan, sig)
        fills = journal_fills(cyc)
        return summarize(cyc, check, model, sig, plan, result, fills)
    finally:
        cyc.close()
