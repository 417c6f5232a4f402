"""Translation between ib_insync's objects and Hydra's: snapshots of trades and fills taken
on the event loop thread, IB's numbers and dates read safely (NaN, -1, the unset double mean "no
value"), IB's contract details checked against the markets registry, and an order checked
before IB sees it. Pure functions; the adapter (adapter.py) calls them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hydra.broker.ib.hours import session_disagreements
from hydra.domain.broker import (
    BrokerError,
    OrderRequest,
)
from hydra.domain.market import Market
from hydra.reference.markets import load_registry

UNSET_DOUBLE = 1.7976931348623157e308  # IB's "no value" for a double


@dataclass
class _FillRec:
    """An execution as read from ib_insync on its loop thread (plain values only)."""

    exec_id: str
    perm_id: int
    order_ref: str
    account: str
    con_id: int
    symbol: str
    ib_local_symbol: str
    side: str  # BOT | SLD
    shares: float
    price: float
    time: datetime
    commission: float | None
    currency: str


@dataclass
class _OrderMeta:
    """What the adapter itself knows about an order it placed (survives reconnects)."""

    order_ref: str
    submitted_at: datetime
    client_id: int
    order_id: int
    perm_id: int = 0
    cancel_requested: bool = False
    rejection: str = ""
    updated_at: datetime | None = None


@dataclass
class _TradeSnap:
    perm_id: int
    client_id: int
    order_id: int
    order_ref: str
    con_id: int
    action: str
    quantity: float
    order_type: str
    limit_price: float
    status: str
    filled: float
    avg_fill_price: float
    log_message: str


def _fill_rec(fill: Any) -> _FillRec:
    ex, c, cr = fill.execution, fill.contract, fill.commissionReport
    commission = float(cr.commission) if getattr(cr, "execId", "") else None
    when = ex.time if isinstance(ex.time, datetime) else fill.time
    return _FillRec(
        exec_id=ex.execId, perm_id=int(ex.permId or 0), order_ref=ex.orderRef or "",
        account=ex.acctNumber, con_id=int(c.conId), symbol=c.symbol,
        ib_local_symbol=c.localSymbol, side=ex.side, shares=float(ex.shares),
        price=float(ex.price), time=when.astimezone(UTC), commission=commission,
        currency=(cr.currency if getattr(cr, "execId", "") else "") or c.currency or "USD",
    )


def _trade_snap(trade: Any) -> _TradeSnap:
    o, s = trade.order, trade.orderStatus
    filled = float(s.filled or 0)
    fq = getattr(o, "filledQuantity", UNSET_DOUBLE)
    if fq is not None and float(fq) < UNSET_DOUBLE:
        filled = max(filled, float(fq))
    message = ""
    for entry in reversed(trade.log):
        if entry.message:
            message = entry.message
            break
    return _TradeSnap(
        perm_id=int(o.permId or s.permId or 0), client_id=int(o.clientId or 0),
        order_id=int(o.orderId or 0), order_ref=o.orderRef or "", con_id=int(trade.contract.conId),
        action=o.action, quantity=float(o.totalQuantity), order_type=o.orderType,
        limit_price=float(o.lmtPrice), status=s.status, filled=filled,
        avg_fill_price=float(s.avgFillPrice or 0.0), log_message=message,
    )


def _price(value: Any) -> float | None:
    """IB's "no price": NaN, -1 (no data) or 0 (nothing on that side)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(x) or x == -1.0 or x == 0.0 or math.isinf(x):
        return None
    return x


def _size(value: Any) -> int:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0
    return int(x) if math.isfinite(x) and x > 0 else 0


def check_sessions(market: Market, d: Any) -> list[str]:
    """Where the broker's tradingHours disagree with the exchange calendar Hydra trades by.

    The cycle times its orders from the calendar; if IB's sessions differ (a holiday or early
    close one side does not know) orders could go out into a closed market, so it stops.
    """
    zone = str(getattr(d, "timeZoneId", "") or "")  # IB's ids ("US/Central") are tz links
    try:
        found = session_disagreements(market, str(getattr(d, "tradingHours", "") or ""), zone)
    except ValueError as exc:
        return [str(exc)]
    return [f"trading hours: {'; '.join(found)}"] if found else []


def market_rule_agrees(increment: float, tick: float, magnifier: int) -> bool:
    """Whether IB's market-rule increment is the registry's price grid.

    Clients that trade on IB read the rule in minTick (exchange) units and multiply by
    priceMagnifier (0.0025 x 100 = 0.25 cents for ZO); an increment already in order-price
    units (0.25) is the same grid. Anything else is a different grid, refused before any order.
    """
    return any(math.isclose(increment * scale, tick, rel_tol=1e-9)
               for scale in {1, magnifier})


def _market_for_local(local: str) -> Market:
    key = local.strip().upper()
    matches = [m for s, m in load_registry().items()
               if key.startswith(s) and len(key) == len(s) + 2]
    if not matches:
        raise BrokerError(f"{local!r} is not a local symbol of a known market (like ZOZ6); "
                          f"known markets are {', '.join(sorted(load_registry()))}")
    return max(matches, key=lambda m: len(m.symbol))


def _lib() -> Any:
    from hydra.broker.ib import ibapi

    return ibapi


def _month_of(d: Any) -> str:
    month = (getattr(d, "contractMonth", "") or "")[:6]
    return month or str(d.contract.lastTradeDateOrContractMonth)[:6]


def _ib_date(text: str | None) -> date | None:
    text = (text or "").strip()[:8]
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _invalid(r: OrderRequest) -> str:
    """Why this order must not be sent (bad input caught before IB sees it), or ''."""
    if problem := r.shape_problem():
        return problem
    if not r.order_ref:
        return "every Hydra order needs an orderRef"
    if r.order_type == "LMT":
        lp = float(r.limit_price or 0.0)
        steps = lp / r.contract.tick
        if abs(steps - round(steps)) > 1e-6:
            return (f"limit {r.limit_price} is not on {r.contract.local_symbol}'s tick grid "
                    f"({r.contract.tick:g}); IB would reject it as an invalid price")
    return ""
