"""The words a cycle uses for what happened: one vocabulary for every reader.

The order manager ends each leg with a `LegOutcome`; the summary derives the cycle's `CycleStatus`
from the legs; the run index, the banner and the CLI show these same values. StrEnum members are
plain strings, so they survive JSON, SQLite and scrapbook unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class LegOutcome(StrEnum):
    FILLED = "filled"  # every contract of the leg filled
    PARTIAL = "partial"  # some filled; the rest cancelled (see the leg's reason)
    UNFILLED = "unfilled"  # sent, nothing filled by the end of the window; cancelled
    BLOCKED = "blocked"  # refused by the risk gate (before or while working)
    REJECTED = "rejected"  # refused by the broker
    CANCELLED = "cancelled"  # cancelled outside Hydra
    ERROR = "error"  # an exception while working; working children cancelled (or said why not)
    NOT_SENT = "not_sent"  # planned, never sent (an earlier leg stopped short, or a halt)

    @property
    def sent(self) -> bool:
        return self not in (LegOutcome.BLOCKED, LegOutcome.NOT_SENT)


class CycleStatus(StrEnum):
    TRADED = "traded"  # every leg filled
    PARTIAL = "partial"  # some contracts filled, not every leg reached its goal
    SENT_NO_FILL = "sent_no_fill"  # orders worked, nothing filled
    EXECUTION_STOPPED = "execution_stopped"  # nothing filled and a leg was rejected/errored
    BLOCKED = "blocked"  # nothing sent: a risk check, a closed market, no quote ...
    DRY_RUN = "dry_run"  # orders computed, none sent
    ALREADY_DONE = "already_done"  # a rerun of a date that already traded
    NO_TRADE = "no_trade"  # already at the target


def leg_outcome(filled: int, quantity: int, stopped: LegOutcome | None) -> LegOutcome:
    """A worked leg's outcome from its confirmed fills and why it stopped (None: ran out)."""
    if quantity > 0 and filled >= quantity:
        return LegOutcome.FILLED
    if filled > 0:
        return LegOutcome.PARTIAL
    return stopped or LegOutcome.UNFILLED


def cycle_status(outcomes: Sequence[LegOutcome], filled_contracts: int, *,
                 already_done: bool, blocked: bool, dry_run: bool) -> CycleStatus:
    """The cycle's one word, from its legs (see CycleStatus for each meaning)."""
    sent = [o for o in outcomes if o.sent]
    if sent:
        if all(o is LegOutcome.FILLED for o in outcomes):
            return CycleStatus.TRADED
        if filled_contracts > 0:
            return CycleStatus.PARTIAL
        if any(o in (LegOutcome.REJECTED, LegOutcome.ERROR, LegOutcome.CANCELLED,
                     LegOutcome.BLOCKED) for o in outcomes):
            return CycleStatus.EXECUTION_STOPPED
        return CycleStatus.SENT_NO_FILL
    if already_done:
        return CycleStatus.ALREADY_DONE
    if blocked:  # a reason other than the dry run (market closed, no quote, a risk check)
        return CycleStatus.BLOCKED
    if dry_run:
        return CycleStatus.DRY_RUN
    return CycleStatus.BLOCKED if outcomes else CycleStatus.NO_TRADE
