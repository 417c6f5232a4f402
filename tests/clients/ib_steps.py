"""The issue-13 steps driven with ib_async 2.1 (or ib_insync) against a sim gateway; prints JSON.

ib_async runs in its own venv (its aeventkit and ib_insync's eventkit install the same
`eventkit/` package), so this imports nothing from Hydra. Usage:
`python ib_steps.py PORT [ib_async|ib_insync]`; both share this API.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

LIB = importlib.import_module(sys.argv[2] if len(sys.argv) > 2 else "ib_async")
IB, ExecutionFilter, Future, LimitOrder = LIB.IB, LIB.ExecutionFilter, LIB.Future, LIB.LimitOrder

WAIT = 10.0


def wait(ib: IB, done, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{LIB.__name__}: no {what} within {WAIT}s")
        ib.sleep(0.02)


def main(port: int) -> dict:
    out: dict = {}
    errors: list[tuple[int, int]] = []
    ib = IB()
    ib.RequestTimeout = WAIT
    ib.errorEvent += lambda req, code, text, *rest: errors.append((req, code))
    ib.connect("127.0.0.1", port, clientId=7, timeout=WAIT)
    out["server_version"] = ib.client.serverVersion()
    details = ib.reqContractDetails(Future("ZO", exchange="CBOT"))
    out["n_details"] = len(details)
    front = min(details, key=lambda d: d.contract.lastTradeDateOrContractMonth)
    by_id = ib.reqContractDetails(Future(conId=front.contract.conId, exchange="CBOT"))
    out["by_con_id"] = [d.contract.localSymbol for d in by_id]
    out["time_zone"] = front.timeZoneId
    out["trading_hours"] = front.tradingHours
    rule = int(front.marketRuleIds.split(",")[0])
    out["increments"] = [[p.lowEdge, p.increment] for p in ib.reqMarketRule(rule)]
    c = by_id[0].contract
    ib.reqMarketDataType(1)
    [live] = ib.reqTickers(c)
    ib.reqMarketDataType(3)
    [delayed] = ib.reqTickers(c)
    out["live"] = [live.bid, live.ask]
    out["delayed"] = [delayed.bid, delayed.ask]
    daily = ib.reqHistoricalData(c, "", "10 D", "1 day", "TRADES", True)
    intraday = ib.reqHistoricalData(c, "", "3600 S", "5 mins", "TRADES", True, formatDate=2)
    out["bars"] = [len(daily), len(intraday)]
    ib.reqMarketDataType(1)
    trade = ib.placeOrder(c, LimitOrder("BUY", 2, live.ask, orderRef="HYD-ASYNC-1"))
    wait(ib, lambda: trade.isDone() and trade.fills
         and all(f.commissionReport.commission for f in trade.fills), "fill and commission")
    out["fill"] = [trade.orderStatus.status, trade.orderStatus.filled,
                   sum(f.commissionReport.commission for f in trade.fills)]
    off = ib.placeOrder(c, LimitOrder("BUY", 1, round(live.bid - 0.001, 4)))
    wait(ib, lambda: (off.order.orderId, 110) in errors, "error 110")
    rest = ib.placeOrder(c, LimitOrder("BUY", 1, round(live.bid - 0.25, 4)))
    wait(ib, lambda: rest.orderStatus.status == "Submitted", "a resting order")
    ib.cancelOrder(rest.order)
    wait(ib, lambda: (rest.order.orderId, 202) in errors, "error 202")
    out["errors"] = sorted({code for _, code in errors if code < 2100})
    ib.disconnect()
    ib.sleep(0.2)
    ib.connect("127.0.0.1", port, clientId=7, timeout=WAIT)
    fills = ib.reqExecutions(ExecutionFilter())
    out["refs_after_reconnect"] = sorted({f.execution.orderRef for f in fills})
    out["positions"] = [p.position for p in ib.positions() if p.contract.conId == c.conId]
    out["summary_tags"] = sorted({v.tag for v in ib.accountSummary()})
    pnl = ib.reqPnL(ib.managedAccounts()[0])
    wait(ib, lambda: pnl.dailyPnL == pnl.dailyPnL and pnl.dailyPnL is not None, "PnL")
    single = ib.reqPnLSingle(ib.managedAccounts()[0], "", c.conId)
    wait(ib, lambda: single.position == single.position and single.position, "PnL single")
    out["pnl_single"] = [single.position, single.value]
    out["completed"] = len(ib.reqCompletedOrders(False))
    ib.disconnect()
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
