"""The cycle's parameters: typed, checked together, every problem reported at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hydra.domain.errors import HydraError
from hydra.domain.market import Market
from hydra.params import as_bool, as_date, as_int
from hydra.paths import resolve_data_dir
from hydra.reference.markets import DEFAULT_MARKET, UnknownMarketError, get_market

BROKERS = ("sim", "ib")


class ParameterError(HydraError, ValueError):
    """Bad cycle parameters; raised before anything touches a broker."""


@dataclass(frozen=True)
class CycleParams:
    as_of: date
    market: str
    contracts: int
    broker: str
    host: str
    port: int
    client_id: int
    data_dir: Path
    seed: int | None
    dry_run: bool
    confirm_live: bool
    run_id: str


def today_in(market: Market) -> date:
    return datetime.now(ZoneInfo(market.timezone)).date()


def validate_params(
    *,
    as_of: Any = "",
    market: Any = DEFAULT_MARKET,
    contracts: Any = 1,
    broker: Any = "sim",
    host: Any = "127.0.0.1",
    port: Any = 4002,
    client_id: Any = 17,
    data_dir: Any = "",
    seed: Any = -1,
    dry_run: Any = False,
    confirm_live: Any = False,
    run_id: Any = "",
) -> CycleParams:
    """Check every parameter and report all problems at once, each with what to fix."""
    errors: list[str] = []
    mkt: Market | None = None
    try:
        mkt = get_market(str(market))
    except UnknownMarketError as exc:
        errors.append(str(exc))
    day = as_date("as_of", as_of, errors)
    if as_of in ("", None):
        day = today_in(mkt) if mkt else datetime.now(UTC).date()
    n_contracts = as_int("contracts", contracts, errors, minimum=0)
    kind = str(broker).strip().lower()
    if kind not in BROKERS:
        errors.append(f"broker must be one of {', '.join(BROKERS)}, got {broker!r}")
    n_port = as_int("port", port, errors, minimum=1)
    n_client = as_int("client_id", client_id, errors, minimum=0)
    n_seed: int | None = None
    if seed not in (None, ""):
        n_seed = as_int("seed", seed, errors, minimum=-1)
        n_seed = None if n_seed < 0 else n_seed  # -1: the configured sim.seed
    flags = (as_bool("dry_run", dry_run, errors), as_bool("confirm_live", confirm_live, errors))
    if errors:
        raise ParameterError(
            "invalid cycle parameters, nothing was sent:\n  - " + "\n  - ".join(errors)
        )
    assert mkt is not None and day is not None
    return CycleParams(
        as_of=day,
        market=mkt.symbol,
        contracts=n_contracts,
        broker=kind,
        host=str(host),
        port=n_port,
        client_id=n_client,
        data_dir=resolve_data_dir(data_dir or None),
        seed=n_seed,
        dry_run=flags[0],
        confirm_live=flags[1],
        run_id=str(run_id or ""),
    )

