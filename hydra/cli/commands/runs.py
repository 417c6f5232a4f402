"""`hydra run JOB` and `hydra runs ...`: notebook runs into the audit trail."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from hydra.cli.common import DataDirOpt, console, err, fail, parse_date
from hydra.paths import DataDirError, resolve_data_dir

runs_app = typer.Typer(help="The audit trail: executed notebooks and their index.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.add_typer(runs_app, name="runs")


def run(
    job: Annotated[str, typer.Argument(help="Job to run: daily-cycle.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Trade date YYYY-MM-DD "
                                              "(default: today in the market's timezone).")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "-p", "--param", metavar="NAME=VALUE",
        help="Notebook parameter, repeatable: -p contracts=2 (or -p contracts 2). Typed by the "
        "notebook's declared type.")] = None,
    timeout: Annotated[int, typer.Option(min=1, help="Per-cell execution timeout, seconds.")] = 900,
    data_dir: DataDirOpt = None,
) -> None:
    """Run a job's notebook through papermill into the audit trail."""
    from hydra import runs

    try:
        pairs = _param_pairs(param or [])
        root = resolve_data_dir(data_dir)
        jobdef = runs.get_job(job)
        if as_of is not None:
            parse_date(as_of, "--as-of")
        params = runs.coerce_parameters(runs.NOTEBOOKS_DIR / jobdef.notebook, pairs)
        result = runs.execute(job, root, as_of=as_of, parameters=params, timeout=timeout)
    except (runs.RunError, DataDirError) as exc:
        raise fail(str(exc)) from None
    rec = result.record
    print(f"executed notebook: {result.output}")
    if rec.summary:
        from hydra.cycle import one_line

        print(one_line(rec.summary))
    if not result.ok:
        err.print(f"[bold red]run {rec.run_id} FAILED:[/] {rec.reason}")
        err.print("the executed notebook is kept as the record of the failure")
        raise typer.Exit(1)
    console.print(f"run {rec.run_id} succeeded")


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
    status: Annotated[str | None, typer.Option(help="running, succeeded, failed.")] = None,
    since: Annotated[str | None, typer.Option(help="Trade dates from YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List indexed runs, newest first."""
    from hydra.paths import DataPaths
    from hydra.runs import RunIndex

    paths = DataPaths(resolve_data_dir(data_dir))
    if not paths.run_index.exists():
        console.print(f"no runs yet (no index at {paths.run_index})")
        return
    index = RunIndex(paths.run_index)
    records = index.list(job=job, status=status, since=parse_date(since, "--since"), limit=limit)
    index.close()
    if as_json:
        for r in records:
            console.print_json(json.dumps(r.__dict__, default=str))
        return
    table = Table(title=f"runs in {paths.root}")
    for col in ("run id", "job", "trade date", "started (UTC)", "status", "outcome", "notebook"):
        table.add_column(col, overflow="fold")
    colours = {"succeeded": "green", "failed": "red", "running": "yellow"}
    for r in records:
        s = r.summary or {}
        outcome = (f"{s.get('status', '')} {s.get('signal', '')} pos {s.get('position_before', '')}"
                   f"→{s.get('position_after', '')} fills {s.get('fills', '')}" if s else r.reason)
        table.add_row(r.run_id, r.job, r.as_of, r.started_at.replace("+00:00", ""),
                      f"[{colours.get(r.status, 'white')}]{r.status}[/]", outcome,
                      r.output_path)
    console.print(table)
