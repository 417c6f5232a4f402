"""Step 6: the fill journal. A last sweep of the broker's executions, then this cycle's fills
as the journal holds them (every fill journaled exactly once: hydra.execution.fillsync)."""

from __future__ import annotations

import pandas as pd

from hydra.cycle.context import Cycle, sync_fills


def journal_fills(cyc: Cycle) -> pd.DataFrame:
    """A last sweep, then this cycle's fills as the journal holds them."""
    sync_fills(cyc)
    return cyc.journal.cycle_fills(cyc.cycle_id)

