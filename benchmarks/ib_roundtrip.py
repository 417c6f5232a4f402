"""How fast the IB adapter answers the calls the order manager polls, over a real socket.

Runs `hydra sim-gateway`'s server in-process on 127.0.0.1 (a temporary account, simulated
clock at 2026-11-24 10:00 CT) and times the adapter: connect (with ib_insync's start-up sync),
quote, order_status, now(), executions() (a reqExecutions sweep), place_order to
acknowledgement, and placement to the execDetails event. Prints medians and 95th percentiles
in milliseconds. Against a real IB Gateway add its network and processing time (typically
tens of milliseconds per request).

    .venv/bin/python benchmarks/ib_roundtrip.py [repeats]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hydra.broker.ib.adapter import IBBroker
from hydra.broker.sim.broker import SimBroker
from hydra.config import IBConfig
from hydra.domain.broker import OrderRequest
from hydra.gateway.server import GatewayOptions, TwsServer
from hydra.reference.clock import SimClock

SETTINGS = IBConfig(connect_timeout_seconds=5.0, connect_attempts=1, retry_backoff_seconds=0.1,
                    request_timeout_seconds=10.0, market_data_type=3, quote_wait_seconds=2.0,
                    account="")


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(f"{name:<34} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms   n={len(ms)}")


def main(repeats: int = 50) -> None:
    clock = SimClock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago")))
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimBroker(Path(tmp) / "sim.sqlite", clock, seed=7)
        with TwsServer(sim, options=GatewayOptions(poll_seconds=0.05)) as gw:
            os.environ["HYDRA_PAPER_PORTS"] = str(gw.port)
            connects = []
            for client in range(5):
                b = IBBroker(port=gw.port, client_id=100 + client, settings=SETTINGS)
                t0 = time.perf_counter()
                b.connect()
                connects.append((time.perf_counter() - t0) * 1000)
                b.close()
            report("connect + start-up sync", connects)
            b = IBBroker(port=gw.port, client_id=7, settings=SETTINGS)
            b.connect()
            try:
                c = b.contract_details("ZO", date(2026, 11, 24))
                b.quote(c)
                report("quote (subscribed)", timed(lambda: b.quote(c), repeats))
                report("now()", timed(b.now, repeats))
                acks, events = [], []
                for i in range(repeats // 5 or 1):
                    q = b.quote(c)
                    ref = f"HYD-ZO-20261124-{i + 1}"
                    t0 = time.perf_counter()
                    st = b.place_order(OrderRequest(c, "BUY" if i % 2 == 0 else "SELL", 1, "LMT",
                                                    q.ask if i % 2 == 0 else q.bid, ref))
                    acks.append((time.perf_counter() - t0) * 1000)
                    while not any(k == "execDetails" and r == ref for k, r, _ in b.events):
                        if (time.perf_counter() - t0) > 5:
                            raise SystemExit(f"no execDetails for {ref} within 5 s")
                        time.sleep(0.001)
                    events.append((time.perf_counter() - t0) * 1000)
                report("place_order to acknowledgement", acks)
                report("place_order to execDetails event", events)
                report("order_status", timed(lambda: b.order_status(st.order_id), repeats))
                report("executions() (reqExecutions sweep)",
                       timed(lambda: b.executions("HYD-"), repeats))
                report("account_state", timed(b.account_state, repeats // 5 or 1))
            finally:
                b.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
