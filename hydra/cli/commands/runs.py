"""`hydra run JOB` and `hydra runs list|show|verify`: notebook runs into the audit trail.

Exit codes of `hydra run`: 0 ran and succeeded, or skipped (closed exchange day), or not a
scheduled time (cron's other-DST firing); 1 the run failed (its notebook is kept); 2 nothing
ran (bad job, parameter, date or data directory); 3 refused: the same job is already running.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hydra.cli.common import DataDirOpt, console, err, fail, parse_date
from hydra.paths import DataDirError, DataPaths, resolve_data_dir

runs_app = typer.Typer(help="The audit trail: executed notebooks and their index.",
                       no_args_is_help=True)

SchedulesOpt = Annotated[
    str | None,
    typer.Option("--schedules", envvar="HYDRA_SCHEDULES",
                 help="Jobs file. Default: schedules/jobs.toml in the checkout."),
]
BUSY_EXIT = 3
_COLOURS = {"succeeded": "green", "failed": "red", "running": "yellow", "skipped": "cyan"}


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.add_typer(runs_app, name="runs")


def run(
    job: Annotated[str, typer.Argument(help="Job to run, from the jobs file: daily-cycle, "
                                       "reconciliation.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Trade date YYYY-MM-DD "
                                              "(default: today in the market's timezone).")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "-p", "--param", metavar="NAME=VALUE",
        help="Notebook parameter, repeatable: -p contracts=2 (or -p contracts 2). Typed by the "
        "notebook's declared type; overrides the job's parameters.")] = None,
    timeout: Annotated[int | None, typer.Option(
        min=1, help="Per-cell execution timeout, seconds (default: the job's).")] = None,
    scheduled: Annotated[bool, typer.Option(
        "--scheduled", help="What cron passes: run only if now is a scheduled time of the job "
        "(else exit 0 and record nothing), at most once per scheduled slot.")] = False,
    even_if_closed: Annotated[bool, typer.Option(
        "--even-if-closed", help="Execute the notebook on a closed exchange day too (the cycle "
        "itself still sends no order then).")] = False,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run a job's notebook through papermill into the audit trail (what cron calls)."""
    from hydra.ops import notebook_runs as runs
    from hydra.ops.schedule import ScheduleError

    if schedules:
        runs.JOBS.use_file(schedules)
    if scheduled:
        print(f"[{datetime.now(UTC).isoformat(timespec='seconds')}] hydra run {job} --scheduled",
              flush=True)
    jobdef = None
    try:
        pairs = _param_pairs(param or [])
        root = resolve_data_dir(data_dir)
        jobdef = runs.get_job(job)
        if as_of is not None:
            parse_date(as_of, "--as-of")
        now = datetime.now(UTC)
        # boots beside the checks below; killed unless the run goes ahead
        kernel = runs.early_kernel(jobdef, scheduled=scheduled, now=now)
        try:
            params = (runs.coerce_parameters(jobdef.source, pairs)
                      if pairs and jobdef.source.is_file() else {})
            if jobdef.source.is_file():
                _refuse_bad_values(runs, jobdef, params)
            _refuse_bad_config(runs, root)
            outcome = runs.run_job(job, root, as_of=as_of, parameters=params, timeout=timeout,
                                   scheduled=scheduled, now=now, even_if_closed=even_if_closed,
                                   kernel=kernel)
        finally:
            if kernel is not None:
                kernel.close(now=True)  # a no-op once it ran the notebook
    except runs.JobBusyError as exc:
        if scheduled and jobdef is not None:
            _on_failure(jobdef, resolve_data_dir(data_dir), "refused", str(exc), None)
        raise fail(str(exc), code=BUSY_EXIT) from None
    except (runs.RunError, DataDirError, ScheduleError) as exc:
        if scheduled and jobdef is not None:
            _on_failure(jobdef, resolve_data_dir(data_dir), "error", str(exc), None)
        raise fail(str(exc)) from None
    if outcome.kind != "ran" or outcome.result is None:
        console.print(outcome.message)
        return
    result, rec = outcome.result, outcome.result.record
    print(f"executed notebook: {result.output}")
    if rec.summary:
        print(_one_line(rec.summary))
    if not result.ok:
        err.print(f"[bold red]run {rec.run_id} FAILED:[/] {rec.reason}")
        err.print("the executed notebook is kept as the record of the failure")
        _on_failure(outcome.job, root, rec.status, rec.reason, rec)
        raise typer.Exit(1)
    console.print(f"run {rec.run_id} succeeded")


def _refuse_bad_config(runs: Any, root: Any) -> None:
    """A read-only data directory, an invalid hydra.toml or markets registry is refused here
    (exit 2, nothing recorded), not in a cell; as a RunError, so a scheduled run's on-failure
    hook hears of it too."""
    from hydra.config import ConfigError, load_config
    from hydra.paths import DataDirError, DataPaths
    from hydra.reference.markets import MarketsFileError, load_registry
    from hydra.reference.sessions import check_calendar

    try:
        DataPaths(root).require_writable()
        load_config(root)
        for market in load_registry().values():
            check_calendar(market)
    except (ConfigError, MarketsFileError, DataDirError) as exc:
        raise runs.RunError(f"refused before running: {exc}") from None


def _refuse_bad_values(runs: Any, jobdef: Any, params: dict[str, Any]) -> None:
    """Refuse (exit 2, nothing recorded) a value the notebook would only reject in a cell.

    A typed parameter still given as text ("-p contracts two") cannot be right; for the daily
    cycle every value is also checked the way its first cell checks it (ranges, broker names).
    """
    declared = runs.notebook_parameters(jobdef.source)
    wrong = [f"{name} must be {declared[name]['inferred_type_name']}, got {value!r}"
             for name, value in params.items()
             if declared.get(name, {}).get("inferred_type_name") in ("int", "float", "bool")
             and isinstance(value, str)]
    if not wrong and jobdef.source.name == "daily_cycle.ipynb":
        from hydra.cycle.params import ParameterError, validate_params

        merged = {k: v for k, v in {**jobdef.parameters, **params}.items()
                  if k not in ("as_of", "data_dir", "run_id")}
        try:
            validate_params(**merged)
        except ParameterError as exc:
            wrong = [line.strip(" -") for line in str(exc).splitlines()[1:]]
        except TypeError as exc:  # a name validate_params does not take
            wrong = [str(exc)]
    if wrong:
        raise runs.RunError(f"refused before running {jobdef.name}: " + "; ".join(wrong))


def _one_line(summary: dict[str, Any]) -> str:
    if "headline" in summary:  # the reconciliation job: its headline starts with the outcome
        return str(summary["headline"])
    try:
        from hydra.cycle.summary import one_line

        return one_line(summary)
    except (KeyError, TypeError, ValueError):  # another job's summary
        return json.dumps(summary, default=str)


def _on_failure(job: Any, data_dir: Path, status: str, reason: str, record: Any) -> None:
    from hydra.ops.notebook_runs import run_on_failure

    said = run_on_failure(job, data_dir, status=status, reason=reason, record=record)
    if said:
        err.print(said)


def _param_pairs(items: list[str]) -> list[tuple[str, str]]:
    """Accept both `-p name=value` and typer-unfriendly `-p name value` (split upstream)."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        if "=" not in item:
            raise fail(f"parameter {item!r} must look like NAME=VALUE")
        name, value = item.split("=", 1)
        pairs.append((name.strip(), value))
    return pairs


@runs_app.command("list")
def runs_list(
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    status: Annotated[str | None, typer.Option(
        help="running, succeeded, failed or skipped.")] = None,
    since: Annotated[str | None, typer.Option(help="Trade dates from YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List indexed runs, newest first."""
    from hydra.ops.notebook_runs import STATUSES, RunIndex, reap_dead_runs

    if status is not None and status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}, got {status!r}")
    paths = DataPaths(resolve_data_dir(data_dir))
    if not paths.run_index.exists():
        console.print(f"no runs yet (no index at {paths.run_index})")
        return
    reap_dead_runs(paths, "hydra runs list")
    index = RunIndex(paths.run_index)
    records = index.list(job=job, status=status, since=parse_date(since, "--since"), limit=limit)
    index.close()
    if as_json:
        for r in records:
            print(json.dumps(r.__dict__, default=str))
        return
    table = Table(title=f"runs in {paths.root}")
    for col in ("run id", "job", "trade date", "started (UTC)", "status", "outcome", "notebook"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(r.run_id, r.job + (" (cron)" if r.scheduled_for else ""), r.as_of,
                      r.started_at.replace("+00:00", ""),
                      f"[{_COLOURS.get(r.status, 'white')}]{r.status}[/]", r.short_outcome,
                      r.output_path or "(none: nothing executed)")
    console.print(table)


def _find_run(paths: DataPaths, run: str) -> Any:
    from hydra.ops.notebook_runs import RunIndex

    if not paths.run_index.exists():
        raise fail(f"no runs yet (no index at {paths.run_index})")
    index = RunIndex(paths.run_index)
    found = index.find(run.strip())
    index.close()
    if not found:
        raise fail(f"no run with id {run!r} in {paths.run_index} (see `hydra runs list`)")
    if len(found) > 1:
        raise fail(f"{run!r} matches {len(found)} runs ({', '.join(r.run_id for r in found[:5])}"
                   "...); type more of the id")
    return found[0]


def _integrity(paths: DataPaths, rec: Any) -> str:
    from hydra.ops.notebook_runs import notebook_damage, sha256_of

    if rec.output_path is None:
        return "no notebook (nothing was executed)"
    path = paths.root / rec.output_path
    if not path.exists():
        return "[bold red]MISSING[/]: the executed notebook is gone"
    if rec.status == "running":
        return "[yellow]not checked[/]: the run has not finished"
    damage = notebook_damage(path)
    if damage:
        return (f"[bold red]TRUNCATED[/]: not a complete notebook ({escape(damage)}); restore "
                "it from a backup (`hydra runs verify` lists every such record)")
    actual = sha256_of(path) if path.stat().st_size else None
    if actual == rec.sha256:
        return "[green]matches the index[/]"
    return "[bold red]EDITED[/]: the notebook's sha256 differs from the index"


def readable(value: Any, digits: int = 10) -> Any:
    """Floats at `digits` significant digits, so -14.850000000000023 prints as -14.85."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: readable(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v, digits) for v in value]
    return value


def _plain(value: Any) -> Any:
    """A scrap as JSON-able data (DataFrames as lists of rows)."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    return value


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id (or its first characters).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """One run: parameters, status, reason, integrity, and the scraps its notebook glued."""
    from hydra.ops.notebook_runs import read_scraps

    paths = DataPaths(resolve_data_dir(data_dir))
    rec = _find_run(paths, run)
    scraps: dict[str, Any] = {}
    scrap_note = ""
    nb = paths.root / rec.output_path if rec.output_path else None
    if nb is not None and nb.is_file() and nb.stat().st_size:
        try:
            scraps = read_scraps(nb)
        except Exception as exc:  # a damaged notebook still shows its index entry
            scrap_note = f"scraps unreadable: {type(exc).__name__}: {exc}"
    if not scraps and rec.summary:
        scraps, scrap_note = {"summary": rec.summary}, "summary from the run index"
    if as_json:
        print(json.dumps({**rec.__dict__,
                          "scraps": {k: readable(_plain(v)) for k, v in scraps.items()}},
                         default=str, indent=2))
        return
    table = Table(show_header=False, title=f"run {rec.run_id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    duration = ""
    if rec.ended_at:
        seconds = (datetime.fromisoformat(rec.ended_at)
                   - datetime.fromisoformat(rec.started_at)).total_seconds()
        duration = f" ({seconds:.0f} s)"
    for name, value in (
        ("job", rec.job), ("trade date", rec.as_of),
        ("status", f"[{_COLOURS.get(rec.status, 'white')}]{rec.status}[/]"),
        ("reason", rec.reason or "-"), ("notebook (source)", rec.notebook),
        ("started (UTC)", rec.started_at), ("ended (UTC)", (rec.ended_at or "-") + duration),
        ("scheduled slot (UTC)", rec.scheduled_for or "- (started by hand)"),
        ("executed notebook", str(nb) if nb else "-"), ("sha256", rec.sha256 or "-"),
        ("integrity", _integrity(paths, rec)),
        ("hydra / git", f"{rec.hydra_version} / {rec.git_commit or '-'}"),
    ):
        table.add_row(name, value)
    console.print(table)
    console.print("[bold]parameters[/]")
    console.print_json(json.dumps(rec.parameters, default=str))
    console.print("[bold]scraps[/]" + (f" ({scrap_note})" if scrap_note else ""))
    if not scraps:
        console.print("  none")
    for name, value in scraps.items():
        console.print(f"[bold]{name}[/]")
        if hasattr(value, "to_string"):
            console.print(value.to_string(max_rows=20, index=False, na_rep="none",
                                          float_format=lambda x: f"{x:.6g}"), markup=False)
        else:
            console.print_json(json.dumps(readable(value), default=str))


@runs_app.command("verify")
def runs_verify(data_dir: DataDirOpt = None) -> None:
    """Check every executed notebook's sha256 against the index; report edited, missing and
    extra notebooks (exit 1 if any)."""
    from hydra.ops.notebook_runs import verify

    root = resolve_data_dir(data_dir)
    report = verify(root)
    labels = {"edited": "EDITED", "truncated": "TRUNCATED", "missing": "MISSING",
              "extra": "EXTRA", "unfinished": "UNFINISHED"}
    for issue in report.issues:
        err.print(f"[bold red]{labels.get(issue.kind, issue.kind.upper())}[/] "
                  f"{escape(issue.path)}: {escape(issue.detail)}", highlight=False)
    line = (f"{report.checked} executed notebook(s) checked against {DataPaths(root).run_index}"
            f"; {report.without_notebook} run(s) without a notebook (skipped)"
            + (f"; {report.in_progress} still running" if report.in_progress else ""))
    if report.ok:
        console.print(f"[green]OK[/]: {line}; every notebook matches its index entry")
        return
    err.print(f"[bold red]{len(report.issues)} problem(s)[/]: {line}")
    raise typer.Exit(1)
