"""A delayed quote with ib_insync or ib_async against a sim gateway serving delayed data only;
prints the Ticker's fields as JSON. Usage: `python delayed_quote.py PORT [ib_async|ib_insync]`.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time

LIB = importlib.import_module(sys.argv[2] if len(sys.argv) > 2 else "ib_async")
WAIT = 10.0
FIELDS = ("bid", "ask", "last", "close", "bidSize", "askSize", "lastSize")


def main(port: int) -> dict:
    errors: list[int] = []
    ib = LIB.IB()
    ib.RequestTimeout = WAIT
    ib.errorEvent += lambda req, code, text, *rest: errors.append(code)
    ib.connect("127.0.0.1", port, clientId=8, timeout=WAIT)
    [details] = ib.reqContractDetails(LIB.Future("ZO", exchange="CBOT",
                                                 lastTradeDateOrContractMonth="202703"))
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(details.contract, "", False, False)
    deadline = time.monotonic() + WAIT
    while any(_missing(getattr(ticker, f)) for f in FIELDS) and time.monotonic() < deadline:
        ib.sleep(0.02)
    out = {f: float(getattr(ticker, f)) for f in FIELDS}
    out["marketDataType"] = ticker.marketDataType
    out["errors"] = sorted({c for c in errors if c < 2100})
    ib.disconnect()
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
