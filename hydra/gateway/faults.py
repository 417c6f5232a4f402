"""The broker-reply faults `hydra sim-gateway --fault` can inject, by name.

Apart from the wire messages so that the CLI's help (which lists them) loads no protocol code.
"""

from __future__ import annotations

from collections.abc import Iterable

FAULTS: dict[str, str] = {
    "link-lost-1101": "after the first fill: error 1100 (connectivity lost), nothing pushed, "
                      "then 1101 (restored, data lost: market data subscriptions dropped)",
    "link-lost-1102": "after the first fill: error 1100, nothing pushed, then 1102 (restored, "
                      "data maintained)",
    "link-broken-2110": "after the first fill: error 2110 (connectivity between TWS and server "
                        "broken), never restored",
    "reject-201": "every order rejected with error 201 (order rejected)",
    "reject-110": "every order rejected with error 110 (price does not conform to the tick)",
    "reject-321": "every order rejected with error 321 (error validating request)",
    "client-id-326": "every connection refused with error 326 (client id already in use)",
    "cancel-202": "every order that rests is cancelled by IB unasked (error 202)",
    "details-missing": "contract details answered with nothing (error 200)",
    "details-ambiguous": "contract details answer two contracts for each month",
    "wrong-min-tick": "contract details report twice the real minTick",
    "wrong-market-rule": "market rules report twice the real price increment",
    "quotes-nan": "no bid or ask ever arrives (the client sees NaN)",
    "quotes-minus-one": "bid and ask are -1 (IB's 'no data')",
    "quotes-zero": "bid and ask are 0",
    "status-late": "every order's first orderStatus follows its openOrder half a second late "
                   "(a busy gateway: the client holds the permId before it has a status)",
    "die-at-order-2-unstored": "the gateway process dies on receiving its 2nd placeOrder, "
                               "before storing it (IB never got the order)",
    "die-at-order-2-stored": "the gateway process dies on its 2nd placeOrder after storing it, "
                             "before acknowledging it (IB has the order; the client never heard)",
}


def parse_faults(text: str | Iterable[str] | None) -> frozenset[str]:
    """'a,b' (or several such) -> the fault names; an unknown name is an error naming them."""
    items = [text] if isinstance(text, str) else list(text or [])
    names = {n.strip() for item in items for n in item.split(",") if n.strip()}
    unknown = sorted(names - FAULTS.keys())
    if unknown:
        raise ValueError(f"unknown sim-gateway fault(s) {', '.join(unknown)}; known: "
                         f"{', '.join(FAULTS)}")
    return frozenset(names)
