"""The one place Hydra imports an IB API client library.

ib_insync (0.9.86, archived upstream in 2024) is the default. ib_async is its maintained fork
with the same API: set HYDRA_IB_LIBRARY=ib_async to use it instead. The two cannot share one
environment (their `eventkit` / `aeventkit` packages install the same folder and silently
overwrite each other), so test ib_async in a separate virtualenv. Newer ib_async majors may
report sizes and prices as Decimal: the adapter converts every number it reads with float()
or int(), so either library's values work.

Everything else in Hydra imports the names below from here, never the library itself.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from types import ModuleType

SUPPORTED = ("ib_insync", "ib_async")
LIBRARY = os.environ.get("HYDRA_IB_LIBRARY", "ib_insync").strip() or "ib_insync"
if LIBRARY not in SUPPORTED:
    raise ImportError(f"HYDRA_IB_LIBRARY={LIBRARY!r}: use one of {', '.join(SUPPORTED)}")

try:  # eventkit asks for the thread's event loop at import time
    asyncio.get_event_loop_policy().get_event_loop()
except RuntimeError:
    asyncio.set_event_loop(asyncio.new_event_loop())

lib: ModuleType = importlib.import_module(LIBRARY)

IB = lib.IB
Contract = lib.Contract
Future = lib.Future
LimitOrder = lib.LimitOrder
MarketOrder = lib.MarketOrder
ExecutionFilter = lib.ExecutionFilter
Trade = lib.Trade
Fill = lib.Fill
Ticker = lib.Ticker
RequestError = lib.RequestError
VERSION: str = getattr(lib, "__version__", "?")

__all__ = ["IB", "LIBRARY", "VERSION", "Contract", "ExecutionFilter", "Fill", "Future",
           "LimitOrder", "MarketOrder", "RequestError", "Ticker", "Trade", "lib"]
