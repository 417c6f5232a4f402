"""`hydra pause` / `hydra resume`: the kill switch for new orders."""

from __future__ import annotations

from typing import Annotated

import typer

from hydra.cli.common import DataDirOpt, console, writable_data_dir
from hydra.execution.killswitch import pause as do_pause
from hydra.execution.killswitch import read_state
from hydra.execution.killswitch import resume as do_resume
from hydra.paths import DataPaths


def register(app: typer.Typer) -> None:
    app.command()(pause)
    app.command()(resume)


def pause(
    reason: Annotated[str, typer.Option(help="Why; shown wherever an order is blocked.")] = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Block every new order (cancels stay allowed) until `hydra resume`."""
    paths = DataPaths(writable_data_dir(data_dir))
    state = do_pause(paths, reason)
    console.print(f"[bold red]PAUSED[/]: no new orders until `hydra resume` ({state.reason})")


def resume(data_dir: DataDirOpt = None) -> None:
    """Allow new orders again."""
    paths = DataPaths(writable_data_dir(data_dir))
    was = read_state(paths)
    do_resume(paths)
    console.print("[bold green]RESUMED[/]: new orders allowed"
                  + (f" (was paused: {was.reason})" if was.paused else " (was not paused)"))
