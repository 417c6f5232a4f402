"""Step 2: model maintenance, the self-healing loop (hydra.agent.loop) run for this cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.cycle.context import Cycle


@dataclass(frozen=True)
class ModelStatus:
    model: str  # the champion that trades this cycle (after any promotion or rollback)
    action: str  # initial | none | promoted | retrained_rejected | rolled_back | skipped | ...
    detail: str
    outcome: Any = None  # hydra.agent.loop.LoopOutcome: health, drift, candidates, watch


def maintain_model(cyc: Cycle) -> ModelStatus:
    """The self-healing loop (hydra.agent.loop): observe, diagnose, retrain, promote, roll back."""
    from hydra.agent.loop import maintain  # scipy and scikit-learn load here, not at import

    out = maintain(cyc.broker, cyc.market, cyc.params.as_of, cyc.config, cyc.paths.root,
                   cyc.cycle_id)
    return ModelStatus(model=out.champion_id, action=out.action, detail=out.detail, outcome=out)

