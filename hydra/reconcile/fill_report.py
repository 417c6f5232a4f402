"""The fill report and reconciliation, one implementation for the notebook and `hydra fill-report`.

open_report (validate parameters, locate the data) -> fill_list (fills and totals) ->
slippage (predicted vs actual, verdicts) -> broker_check (journal vs the broker's executions and
positions) -> summarize (the glued record). The maths lives in tca and breaks (this folder);
this module only reads the journal and the broker. It never writes: a data directory without a
journal or a simulated account is reported as empty, not created.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from hydra import __version__
from hydra.broker.columns import ExecutionColumns
from hydra.config import Config, load_config
from hydra.domain.broker import BrokerError, Execution, Position
from hydra.domain.errors import HydraError
from hydra.domain.money import money
from hydra.execution.fill_codec import FillColumns
from hydra.execution.journal import FillRecord, Journal, read_fill_columns
from hydra.params import as_bool, as_date, as_int
from hydra.paths import DataPaths, resolve_data_dir
from hydra.reconcile import breaks as reconcile
from hydra.reconcile import tca
from hydra.reference.markets import UnknownMarketError, get_market, load_registry

BROKERS = ("sim", "ib", "none")
ALL_MARKETS = ("", "ALL", "*")
FILL_COLUMNS = [f.name for f in fields(FillRecord)] + ["exec_stem", "journaled_at"]
LIST_COLUMNS = ["as_of", "fill_time", "exec_id", "order_ref", "local_symbol", "side", "quantity",
                "price", "route", "arrival_mid", "predicted_ticks", "actual_ticks", "actual_bps",
                "actual_usd", "commission"]


class ReportError(HydraError, ValueError):
    """Bad report parameters or unreadable data; the message says what to fix."""


class BreaksFound(HydraError, RuntimeError):
    """The reconciliation found unexplained breaks (raised last, after everything is shown)."""


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class ReportParams:
    as_of: date
    since: date | None  # None: from the journal's first fill
    until: date
    market: str | None  # None: every market
    broker: str  # sim | ib | none (no broker check)
    host: str
    port: int
    client_id: int
    data_dir: Path
    seed: int | None  # None: the configured sim.seed
    min_fills: int | None  # None: the configured reconcile.min_fills
    fill_rows: int  # fills listed (the most recent); 0: all
    fail_on_breaks: bool
    run_id: str
    timezone: str


def _common_timezone() -> str:
    zones = {m.timezone for m in load_registry().values()}
    return zones.pop() if len(zones) == 1 else "UTC"


def validate_params(*, as_of: Any = "", since: Any = "", until: Any = "", market: Any = "ZO",
                    broker: Any = "sim", host: Any = "127.0.0.1", port: Any = 4002,
                    client_id: Any = 17, data_dir: Any = "", seed: Any = -1,
                    min_fills: Any = -1, fill_rows: Any = 200, fail_on_breaks: Any = True,
                    run_id: Any = "") -> ReportParams:
    """Check every parameter and report all problems at once, each with what to fix."""
    errors: list[str] = []
    symbol: str | None = None
    tz = _common_timezone()
    if str(market).strip().upper() not in ALL_MARKETS:
        try:
            m = get_market(str(market))
            symbol, tz = m.symbol, m.timezone
        except UnknownMarketError as exc:
            errors.append(f"{exc}; or ALL for every market")
    day = as_date("as_of", as_of, errors)
    first = as_date("since", since, errors)
    last = as_date("until", until, errors)
    kind = str(broker).strip().lower()
    if kind not in BROKERS:
        errors.append(f"broker must be one of {', '.join(BROKERS)}, got {broker!r}")
    n_port = as_int("port", port, errors, minimum=1)
    n_client = as_int("client_id", client_id, errors, minimum=0)
    n_seed = as_int("seed", seed, errors, minimum=-1) if seed not in (None, "") else -1
    n_min = as_int("min_fills", min_fills, errors, minimum=-1) if min_fills not in (None, "") \
        else -1
    if n_min in (0, 1):
        errors.append(f"min_fills must be at least 2 (or -1 for the configured value), got {n_min}")
    rows = as_int("fill_rows", fill_rows, errors, minimum=0)
    fail = as_bool("fail_on_breaks", fail_on_breaks, errors)
    if day is None and not any(e.startswith("as_of") for e in errors):
        day = datetime.now(ZoneInfo(tz)).date()
    end = last or day
    if first is not None and end is not None and first > end:
        errors.append(f"since {first} is after the report's end {end}; swap them or widen the "
                      "range")
    if errors:
        raise ReportError("invalid report parameters, nothing was read:\n  - "
                          + "\n  - ".join(errors))
    assert day is not None and end is not None
    return ReportParams(
        as_of=day, since=first, until=end, market=symbol, broker=kind, host=str(host),
        port=n_port, client_id=n_client, data_dir=resolve_data_dir(data_dir or None),
        seed=None if n_seed < 0 else n_seed, min_fills=None if n_min < 0 else n_min,
        fill_rows=rows, fail_on_breaks=fail, run_id=str(run_id or ""), timezone=tz)


# ---------------------------------------------------------------------------------- the report
@dataclass
class Report:
    """An open report. Its metrics come from the journal's columns (Journal.fill_columns:
    no DataFrame per fill); `reference=True` takes the straightforward path instead (SQL rows
    into pandas, tca's and breaks' DataFrame functions), which the tests and
    benchmarks/reconcile.py compare the fast path with, metric for metric."""

    params: ReportParams
    config: Config
    paths: DataPaths
    _journal: pd.DataFrame | None = field(default=None, repr=False)
    reference: bool = False
    _columns: FillColumns | None = field(default=None, repr=False)

    @property
    def min_fills(self) -> int:
        return self.params.min_fills or self.config.reconcile.min_fills

    @property
    def range_text(self) -> str:
        p = self.params
        start = p.since.isoformat() if p.since else "the first journaled fill"
        return f"{start} to {p.until} (trade dates)"

    @property
    def market_text(self) -> str:
        return self.params.market or "all markets"

    def journal_fills(self) -> pd.DataFrame:
        """Every journaled fill of the market (all dates: positions need the whole history)."""
        if self._journal is None:
            self._journal = load_journal(self.paths, self.params.market, self.reference)
        return self._journal

    def journal_columns(self) -> FillColumns | None:
        """journal_fills as columns (None: no journal yet), for the fast path."""
        if self._columns is None and self.paths.journal_db.exists():
            with Journal(self.paths.journal_db):  # opening migrates an older journal
                pass
            self._columns = read_fill_columns(self.paths.journal_db, self.params.market)
        return self._columns

    def range_rows(self) -> np.ndarray:
        """The columns' rows in the report's range, in the report's order."""
        cols = self.journal_columns()
        if cols is None:
            return np.arange(0)
        since, until = self.params.since, self.params.until
        keep = cols.where("as_of", lambda a: reconcile.in_range(a.astype(str), since, until))
        return cols.order[keep[cols.order]]

    def latest_trade_date(self) -> date | None:
        if self.reference:
            journal = self.journal_fills()
            return date.fromisoformat(str(journal["as_of"].max())) if len(journal) else None
        cols = self.journal_columns()
        if cols is None or not len(cols):
            return None
        return date.fromisoformat(max(cols.contexts["as_of"].astype(str).to_numpy()[
            np.unique(cols.ctx)]))

    def range_fills(self) -> pd.DataFrame:
        allf = self.journal_fills()
        if not len(allf):
            return allf
        return allf[reconcile.in_range(allf["as_of"], self.params.since, self.params.until)]


def open_report(*, reference: bool = False, **raw: Any) -> Report:
    """Validate the parameters and load the configuration (no file is created)."""
    params = validate_params(**raw)
    if params.data_dir.exists() and not params.data_dir.is_dir():
        raise ReportError(f"data_dir {params.data_dir} is not a directory")
    report = Report(params, load_config(params.data_dir), DataPaths(params.data_dir),
                    reference=reference)
    if not str(raw.get("until") or "").strip() and not str(raw.get("as_of") or "").strip():
        # no end asked for: "today", or later where the simulator has traded ahead of the
        # wall clock (a replay or a --as-of run), so the default report covers every fill
        latest = report.latest_trade_date()
        if latest is not None and latest > params.until:
            report.params = replace(params, until=latest)
    return report


def load_journal(paths: DataPaths, symbol: str | None = None, rows: bool = False
                 ) -> pd.DataFrame:
    """The journal's fills, oldest first; an empty frame when no journal exists yet.

    Read in columns (Journal.fill_frame: the values of Journal.fills, times as timestamps),
    so a million fills take seconds, not tens of seconds (benchmarks/reconcile.py); `rows`:
    Journal.fills itself (SQL rows, the reference). Opening the Journal migrates an older one.
    """
    if not paths.journal_db.exists():
        return pd.DataFrame(columns=FILL_COLUMNS)
    with Journal(paths.journal_db) as journal:
        return journal.fills(symbol=symbol) if rows else journal.fill_frame(symbol=symbol)


# ------------------------------------------------------------------------------- 1. fill list
class FillList:
    """The fills in range: totals at once; the fills themselves (a DataFrame, for tables and
    charts) and the per-contract totals only when asked, so the metrics never build them."""

    def __init__(self, totals: tca.FillTotals, message: str,
                 fills: Callable[[], pd.DataFrame], by_contract: Callable[[], pd.DataFrame],
                 rows: np.ndarray | None = None) -> None:
        self.totals, self.message, self.rows = totals, message, rows
        self._fills, self._by_contract = fills, by_contract

    @cached_property
    def fills(self) -> pd.DataFrame:
        return self._fills()

    @cached_property
    def by_contract(self) -> pd.DataFrame:
        return self._by_contract()

    def table(self, rows: int = 0) -> pd.DataFrame:
        """The most recent `rows` fills (0: all) in the columns an operator reads."""
        frame = self.fills[LIST_COLUMNS]
        return frame.tail(rows) if rows else frame


def fill_list(rep: Report) -> FillList:
    if rep.reference:
        fills = rep.range_fills()
        t = tca.fill_totals(fills)
        out = FillList(t, "", lambda: fills, lambda: tca.totals_by(fills))
    else:
        rows = rep.range_rows()
        t = tca.fill_totals_of(rep.journal_columns(), rows)
        cols = rep.journal_columns()
        out = FillList(t, "", rep.range_fills,
                       lambda: tca.totals_by_of(cols, rows) if cols is not None
                       else tca.totals_by(rep.range_fills()), rows)
    if not t.fills:
        out.message = (f"no fills for {rep.market_text} from {rep.range_text}"
                       + ("" if rep.paths.journal_db.exists()
                          else f": there is no fill journal yet ({rep.paths.journal_db})"))
    else:
        out.message = (
            f"{t.fills} fill(s), {t.contracts} contract(s) ({t.buys} bought, {t.sells} sold), "
            f"notional {money(t.notional_usd)}, commissions {money(t.commission_usd)}"
            + (f" ({t.commission_missing} fill(s) still without a commission report)"
               if t.commission_missing else ""))
    return out


# ------------------------------------------------------------------------------- 2. slippage
def slippage(rep: Report, fl: FillList) -> tca.SlippageReport:
    if fl.rows is None:
        return tca.slippage_report(fl.fills, rep.config.reconcile, rep.min_fills)
    cols = rep.journal_columns()
    if cols is None:
        return tca.slippage_report(pd.DataFrame(columns=FILL_COLUMNS), rep.config.reconcile,
                                   rep.min_fills)
    return tca.slippage_report_of(cols, fl.rows, rep.config.reconcile, rep.min_fills)


# --------------------------------------------------------------------------- 3. broker check
@dataclass
class BrokerSnapshot:
    kind: str
    account_id: str
    time: datetime | None
    executions: list[Execution] | ExecutionColumns  # columns: the simulator's file, read so
    positions: list[Position]
    status: str  # compared | no_account | skipped
    message: str
    history_start: datetime | None = None

    def execution_list(self) -> list[Execution]:
        """The executions as objects (the reference path)."""
        ex = self.executions
        return ex.all_items() if isinstance(ex, ExecutionColumns) else list(ex)


def broker_snapshot(rep: Report) -> BrokerSnapshot:
    """Every execution and position the broker reports now (read only: no orders)."""
    from hydra.broker.factory import BrokerSpec, make_broker

    p, cfg = rep.params, rep.config
    if p.broker == "none":
        return BrokerSnapshot("none", "", None, [], [], "skipped",
                              "broker none: the journal was not compared with a broker")
    if p.broker == "sim":
        from hydra.broker.sim.broker import SimBroker

        if SimBroker.last_processed(rep.paths.sim_db) is None:
            return BrokerSnapshot(
                "sim", cfg.sim.account_id, None, [], [], "no_account",
                f"no simulated account exists at {rep.paths.sim_db}: the simulator has never "
                "traded in this data directory, so it has no executions and no positions")
    spec = BrokerSpec(kind=p.broker, host=p.host, port=p.port, client_id=p.client_id,
                      seed=p.seed)
    broker, _ = make_broker(spec, cfg, rep.paths, sim_start=None, follow_account=True)
    try:
        broker.connect()
        now = broker.now()
        account = broker.account_state().account_id
        executions: list[Execution] | ExecutionColumns
        if p.broker == "sim" and not rep.reference:  # its file, in columns (no object each)
            from hydra.broker.sim.columns import read_execution_columns

            executions = read_execution_columns(rep.paths.sim_db, p.market)
        else:
            executions = broker.executions(None)
        positions = broker.positions()
    finally:
        broker.close()
    history_start = None
    message = f"{p.broker} account {account} at {now:%Y-%m-%d %H:%M} UTC"
    if p.broker == "ib":  # IB's API reports the current day's executions only
        local = now.astimezone(ZoneInfo(p.timezone))
        history_start = datetime.combine(local.date(), datetime.min.time(),
                                         tzinfo=local.tzinfo).astimezone(UTC)
        message += (f"; IB reports executions since {history_start:%Y-%m-%d %H:%M} UTC only, so "
                    "older journal fills are not compared one by one (positions still are)")
    return BrokerSnapshot(p.broker, account, now, executions, positions, "compared", message,
                          history_start)


def prefetch_broker(rep: Report) -> Callable[[], BrokerSnapshot]:
    """broker_snapshot, begun now in a thread when the broker is the simulator: its reads are
    SQLite's (ADBC and sqlite3 release the GIL), so they overlap the journal's read and the
    statistics on the other core. Other brokers are read when asked, in the caller's thread
    (IB's client belongs to its thread's event loop). Call the result for the snapshot."""
    if rep.params.broker != "sim":
        return lambda: broker_snapshot(rep)

    def read() -> BrokerSnapshot:
        snap = broker_snapshot(rep)
        if isinstance(snap.executions, ExecutionColumns):
            reconcile.prepare_executions(snap.executions)
        return snap

    pool = ThreadPoolExecutor(1, thread_name_prefix="hydra-broker-read")
    try:
        return pool.submit(read).result
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def broker_check(rep: Report, snap: BrokerSnapshot | None = None
                 ) -> reconcile.BrokerReconciliation:
    """Journal vs broker: every fill by execId, every position, every commission."""
    snap = snap or broker_snapshot(rep)
    p = rep.params
    cols = None if rep.reference else rep.journal_columns()
    if snap.status == "skipped":
        def history() -> pd.DataFrame:
            if cols is not None:
                return reconcile.position_over_time(reconcile.history_frame(cols, cols.order))
            return reconcile.position_over_time(rep.journal_fills())

        return reconcile.BrokerReconciliation("none", "", None, "skipped", snap.message,
                                              history_of=history)
    # the account is what is compared, whichever way its fills were journaled: `hydra
    # sim-gateway` serves the simulated account, so broker=ib fills can be that account's
    if cols is not None:
        mine = cols.where("account_id", lambda a: a == snap.account_id)
        others = len(cols) - int(mine.sum())
        message = snap.message
        if others:
            message += (f"; {others} journal fill(s) of another account were left out of the "
                        "comparison")
        return reconcile.reconcile_columns(
            cols, cols.order[mine[cols.order]], snap.executions, snap.positions,
            rep.config.reconcile, since=p.since, until=p.until, timezone=p.timezone,
            broker=snap.kind, account_id=snap.account_id,
            broker_time=snap.time.isoformat() if snap.time else None, status=snap.status,
            message=message, history_start=snap.history_start, symbol=p.market)
    allf = rep.journal_fills()
    mine = allf
    if len(allf):
        mine = allf[allf["account_id"] == snap.account_id]
    others = len(allf) - len(mine)
    message = snap.message
    if others:
        message += (f"; {others} journal fill(s) of another account were left out of the "
                    "comparison")
    return reconcile.reconcile(
        mine, snap.execution_list(), snap.positions, rep.config.reconcile, since=p.since,
        until=p.until, timezone=p.timezone, broker=snap.kind, account_id=snap.account_id,
        broker_time=snap.time.isoformat() if snap.time else None, status=snap.status,
        message=message, history_start=snap.history_start, symbol=p.market)


# ------------------------------------------------------------------------------- 5. summary
STATUSES = ("breaks", "no_fills", "insufficient_data", "reconciled")


def status_of(fl: FillList, slip: tca.SlippageReport,
              check: reconcile.BrokerReconciliation) -> str:
    """breaks (any unexplained) > no_fills > insufficient_data > reconciled (with statistics)."""
    if check.break_count:
        return "breaks"
    if not fl.totals.fills:
        return "no_fills"
    if not slip.overall.sufficient:
        return "insufficient_data"
    return "reconciled"


def headline(status: str, fl: FillList, slip: tca.SlippageReport,
             check: reconcile.BrokerReconciliation) -> str:
    """One line: the outcome first, then the slippage verdict and the broker check."""
    first = {"breaks": "BREAKS", "no_fills": "NO FILLS", "insufficient_data":
             "INSUFFICIENT DATA", "reconciled": "RECONCILED"}[status]
    if not fl.totals.fills:
        middle = fl.message
    elif not slip.overall.sufficient:
        middle = (f"{slip.overall.n} fill(s) with slippage, at least {slip.overall.min_needed} "
                  "needed for statistics")
    else:
        middle = "slippage " + slip.overall.headline
    return f"{first}: {middle}; broker: {check.headline}"


def summarize(rep: Report, fl: FillList, slip: tca.SlippageReport,
              check: reconcile.BrokerReconciliation, max_breaks: int = 1000) -> dict[str, Any]:
    """The report's record as plain Python values (glued as the `reconciliation` scrap)."""
    p = rep.params
    status = status_of(fl, slip, check)
    broker = check.as_dict()
    for key in ("break_list", "explained_list"):
        broker[f"{key}_truncated"] = len(broker[key]) > max_breaks
        broker[key] = broker[key][:max_breaks]
    return {
        "as_of": p.as_of.isoformat(),
        "since": p.since.isoformat() if p.since else None,
        "until": p.until.isoformat(),
        "market": p.market or "ALL",
        "broker": p.broker,
        "run_id": p.run_id,
        "status": status,
        "headline": headline(status, fl, slip, check),
        "fills": fl.totals.as_dict(),
        "slippage": slip.as_dict(),
        "calibration": slip.overall.calibration.status,
        "bias_colour": slip.overall.bias_colour,
        "warnings": slip.warnings,
        "broker_check": broker,
        "breaks": check.break_count,
        "explained": len(check.explained),
        "min_fills": rep.min_fills,
        "hydra_version": __version__,
    }


def raise_on_breaks(rep: Report, check: reconcile.BrokerReconciliation) -> None:
    """Fail the run (so a scheduled run alerts) when unexplained breaks were found."""
    if check.break_count and rep.params.fail_on_breaks:
        listed = "; ".join(f"{b.kind} {b.local_symbol} {b.exec_id or ''}".strip()
                           for b in check.breaks[:10])
        more = f" (and {check.break_count - 10} more)" if check.break_count > 10 else ""
        raise BreaksFound(f"{check.break_count} unexplained break(s) between the journal and "
                          f"the {check.broker} broker: {listed}{more}")


@dataclass
class FullReport:
    """Everything at once (the CLI and the benchmark): the same steps as the notebook."""

    report: Report
    fills: FillList
    slippage: tca.SlippageReport
    broker: reconcile.BrokerReconciliation
    summary: dict[str, Any]


def build(**raw: Any) -> FullReport:
    """Open, list, analyse and check in one call (broker="none" skips the broker)."""
    rep = open_report(**raw)
    snapshot = prefetch_broker(rep)
    fl = fill_list(rep)
    slip = slippage(rep, fl)
    try:
        check = broker_check(rep, snapshot())
    except BrokerError as exc:
        raise ReportError(f"broker check failed: {exc}") from exc
    return FullReport(rep, fl, slip, check, summarize(rep, fl, slip, check))
