"""`hydra sim-gateway` (rehearse the IB path without IB) and `hydra sync-fills`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from hydra.cli.common import DataDirOpt, console, err, fail, parse_date
from hydra.paths import DataDirError, DataPaths, ensure_writable, resolve_data_dir

EXCHANGE_TZ = "America/Chicago"  # every market in the registry is a Chicago market


def _fault_names() -> str:
    from hydra.gateway.faults import FAULTS

    return "; ".join(f"{name} ({what})" for name, what in FAULTS.items())


_FAULT_HELP = _fault_names()


def register(app: typer.Typer) -> None:
    app.command("sim-gateway")(sim_gateway)
    app.command("sync-fills")(sync_fills)


def sim_gateway(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (4002 is IB "
                                      "Gateway's paper port; 0 picks a free one).")] = 4002,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Simulated trade date "
                                              "YYYY-MM-DD (default: where the simulated "
                                              "account's clock is, else today).")] = None,
    at: Annotated[str | None, typer.Option("--time", help="Exchange time HH:MM (US Central) "
                                           "the simulated clock starts at (default: the "
                                           "config's sim.cycle_time).")] = None,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per wall-clock "
                                         "second.")] = 1.0,
    delayed_data: Annotated[bool, typer.Option("--delayed-data", help="Serve only delayed "
                                               "(15 min old) market data, as for an account "
                                               "without subscriptions.")] = False,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse orders as IB Gateway "
                                            "does with Read-Only API on (error 321).")] = False,
    fault: Annotated[str, typer.Option(
        "--fault", envvar="HYDRA_SIM_GATEWAY_FAULTS", show_default=False,
        help="Inject broker-reply faults to rehearse them, comma-separated (also from "
             "HYDRA_SIM_GATEWAY_FAULTS; none by default): " + _FAULT_HELP)] = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Serve the data dir's simulated paper account over the TWS API on 127.0.0.1.

    Connect the daily cycle with `-p broker ib -p port PORT`, or any TWS API client that
    speaks server version 157..176 (IB's ibapi 9.81.1, ib_insync 0.9.86, ib_async 2.x).
    Runs until Ctrl-C. The account (broker/sim.sqlite) is the same one broker=sim uses.
    """
    import asyncio  # here, not at the top: `hydra runs list` never pays for the event loop
    import signal

    from hydra.broker.sim.broker import SimBroker
    from hydra.config import ConfigError, load_config
    from hydra.domain.broker import BrokerError
    from hydra.gateway.faults import parse_faults
    from hydra.gateway.server import GatewayOptions, ScaledClock, TwsServer, sim_start

    try:
        root = ensure_writable(resolve_data_dir(data_dir))
        config = load_config(root)
    except (DataDirError, ConfigError) as exc:
        raise fail(str(exc)) from None
    paths = DataPaths(root)
    local_time = at or config.sim.cycle_time
    try:
        last = SimBroker.last_processed(paths.sim_db)
    except BrokerError as exc:
        raise fail(str(exc)) from None
    day = parse_date(as_of, "--as-of")
    if day is None:
        day = last.astimezone(_tz()).date() if last else datetime.now(_tz()).date()
    try:
        start = sim_start(day, local_time, EXCHANGE_TZ)
    except ValueError:
        raise fail(f"--time must be HH:MM, got {local_time!r}") from None
    if last is not None and last > start:
        err.print(f"note: the simulated account's clock is already at "
                  f"{last.astimezone(_tz()):%Y-%m-%d %H:%M %Z}; it never runs backwards, so "
                  "the gateway starts there")
        start = last
    clock = ScaledClock(start, speed)
    broker = SimBroker(paths.sim_db, clock, seed=config.sim.seed,
                       starting_cash=config.sim.starting_cash,
                       commission_per_contract=config.sim.commission_per_contract,
                       account_id=config.sim.account_id,
                       null_market=config.sim.null_market)
    try:
        options = GatewayOptions(market_data="delayed" if delayed_data else "live",
                                 read_only=read_only, faults=parse_faults(fault))
    except ValueError as exc:
        raise fail(f"--fault: {exc}") from None
    server = TwsServer(broker, port=port, options=options)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.request_stop)
        try:
            await server.start_async()
        except OSError as exc:
            raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; is IB "
                       "Gateway (or another sim-gateway) already using that port?") from None
        except BrokerError as exc:
            raise fail(str(exc)) from None
        assert server._stopped is not None
        console.print(
            f"hydra sim-gateway listening on 127.0.0.1:{server.port}  account "
            f"{server.account}  simulated time {clock.now().astimezone(_tz()):%Y-%m-%d %H:%M %Z}"
            f" (x{speed:g})  data dir {root}", soft_wrap=True)
        if options.faults:
            err.print(f"FAULTS INJECTED: {', '.join(sorted(options.faults))} (a rehearsal of "
                      "broker failures, not a faithful gateway)")
        console.print(f"rehearse: hydra run daily-cycle --as-of {day} -p broker ib -p port "
                      f"{server.port}" + ("" if server.port in (4002, 7497) else
                                          f"   (with HYDRA_PAPER_PORTS={server.port})"),
                      soft_wrap=True)
        try:
            await server._stopped.wait()
        finally:
            await server.stop_async()
            console.print("hydra sim-gateway stopped")

    asyncio.run(main())


def _tz() -> ZoneInfo:
    return ZoneInfo(EXCHANGE_TZ)


def data_dir_broker(paths: DataPaths) -> str:
    """The broker this data dir trades with: sim if it holds a simulated account, else the
    daily-cycle job's broker, else ib."""
    if paths.sim_db.exists():
        return "sim"
    from hydra.ops import schedule as sch

    try:
        job = sch.load_jobs(sch.jobs_file(None)).get("daily-cycle")
    except sch.ScheduleError:  # reported by `hydra schedule check`; the target is printed
        job = None
    return str(job.parameters.get("broker", "ib")) if job is not None else "ib"


def sync_fills(
    broker: Annotated[str | None, typer.Option(
        help="ib (IB Gateway / TWS, or hydra sim-gateway) or sim (the embedded simulator); "
             "default: the data dir's own (sim when it holds a simulated account, else the "
             "daily-cycle job's broker).")] = None,
    host: Annotated[str, typer.Option(help="IB Gateway / TWS host.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="IB API port (4002 Gateway paper, 7497 TWS "
                                             "paper; default 4002); giving it means --broker "
                                             "ib.")] = None,
    client_id: Annotated[int, typer.Option(help="IB API client id; differs from the daily "
                                           "cycle's 17 so both can be connected.")] = 18,
    since: Annotated[str | None, typer.Option(help="Only executions at or after this time "
                                              "(ISO, e.g. 2026-11-24T00:00:00+00:00).")] = None,
    yes_i_mean_live: Annotated[bool, typer.Option("--yes-i-mean-live", help="Allow a live "
                                                  "port (also needs HYDRA_LIVE_CONFIRMED=true)."
                                                  )] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Journal every Hydra execution the broker reports that the journal lacks (by exec id).

    IB reports only the current day's executions: run this (or the next cycle does it) the
    same day as a late fill, or after a disconnect.
    """
    from hydra.broker.factory import BrokerSpec, make_broker
    from hydra.broker.safety import safety_verdict
    from hydra.config import ConfigError, load_config
    from hydra.domain.broker import BrokerError
    from hydra.execution import fillsync
    from hydra.execution.journal import Journal

    try:
        root = ensure_writable(resolve_data_dir(data_dir))
        config = load_config(root)
    except (DataDirError, ConfigError) as exc:
        raise fail(str(exc)) from None
    if broker is None:  # an explicit port names an IB API endpoint (Gateway, TWS, sim-gateway)
        broker = "ib" if port is not None else data_dir_broker(DataPaths(root))
    port = 4002 if port is None else port
    if broker not in ("ib", "sim"):
        raise fail(f"--broker must be ib or sim, got {broker!r}")
    target = "the embedded simulator" if broker == "sim" else f"IB at {host}:{port}"
    console.print(f"sync-fills: {target} (client id {client_id}) into {root}")
    start: datetime | None = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise fail(f"--since must be an ISO time like 2026-11-24T00:00:00+00:00, got "
                       f"{since!r}") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    verdict = safety_verdict(broker, port, yes_i_mean_live)
    if not verdict.allowed:
        raise fail(f"refused: {verdict.reason}")
    paths = DataPaths(root)
    spec = BrokerSpec(kind=broker, host=host, port=port, client_id=client_id,
                      confirm_live=yes_i_mean_live)
    try:
        b, _ = make_broker(spec, config, paths, follow_account=True)  # sim: it only reads
    except BrokerError as exc:
        raise fail(str(exc)) from None
    journal = Journal(paths.journal_db)
    try:
        b.connect()
        new = fillsync.sync_fills(b, journal, since=start)
        seen = len(b.executions(fillsync.HYDRA_PREFIX, since=start))
        account = getattr(b, "account_id", None) or b.account_state().account_id
    except BrokerError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        b.close()
        journal.close()
    console.print(f"{broker} account {account}: {seen} Hydra execution(s) reported, "
                  f"{new} newly journaled in {paths.journal_db}")
