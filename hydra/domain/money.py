"""One way to write money: "USD 1,234.50", never with a `$`.

JupyterLab's MathJax reads text between two `$` in HTML and Markdown outputs as TeX, which
garbles dollar amounts (stack-notes trap 13). Writing the currency code instead leaves nothing
for any front end to misread, so every banner, table, markdown line and CLI row goes through here.
"""

from __future__ import annotations

import math

CURRENCY = "USD"


def money(value: float | int | None, *, signed: bool = False, currency: str = CURRENCY,
          missing: str = "not available", decimals: int = 2) -> str:
    """`value` as "USD 1,234.50" ("USD +25.00" when `signed`); None or NaN as `missing`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    amount = round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0: no "USD -0.00"
    return f"{currency} {amount:{'+' if signed else ''},.{decimals}f}"


def signed_number(value: float, decimals: int = 2) -> str:
    """`value` with its sign ("+0.08"); one that rounds to zero is "+0.00", never "-0.00"."""
    return f"{round(float(value), decimals) + 0.0:+.{decimals}f}"
