"""Tables as the operator reads them in a notebook: one place decides rounding and wording."""

from __future__ import annotations

from typing import Any

import pandas as pd

MISSING = "none"  # how a table says a value is absent (NaN reads as an error to an operator)


def _decimals(column: str) -> int | None:
    """Meaningful precision by what a column holds; None keeps up to 6 significant digits."""
    name = column.lower()
    if "bps" in name:
        return 1
    if "ticks" in name or any(w in name for w in ("usd", "commission", "pnl", "cash",
                                                    "liquidation", "notional")):
        return 2
    return None


def _cell(value: Any, decimals: int | None) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{decimals}f}" if decimals is not None else f"{value:.6g}"
    return str(value)


class Table:
    """A frame as the operator reads it: rounded, no index, missing values in words, and
    wrapped in a scrolling block so it never runs past the notebook's width."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        cols = [str(c) for c in frame.columns]
        self.text = pd.DataFrame(
            {c: [_cell(v, _decimals(c)) for v in frame[orig]]
             for c, orig in zip(cols, frame.columns, strict=True)}, columns=cols)

    def _repr_html_(self) -> str:
        inner = self.text.to_html(index=False, escape=True, border=0)
        return f"<div style='overflow-x:auto;max-width:100%'>{inner}</div>"

    def __repr__(self) -> str:
        return self.text.to_string(index=False)


def table(frame: pd.DataFrame) -> Table:
    """Wrap `frame` for display (the frame itself stays untouched for scraps and tests)."""
    return Table(frame)
