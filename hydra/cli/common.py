"""Shared pieces of the operator CLI: consoles, the data-dir option, error exits."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Piped or cron output is not squeezed into 80 columns: tables stay readable in logs.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DataDirOpt = Annotated[
    str | None,
    typer.Option("--data-dir", envvar="HYDRA_DATA_DIR",
                 help="Data directory (journals, broker state, runs). Default: ./data in the "
                 "checkout."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error and return the exit to raise (2: bad usage or input, nothing ran)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{name} must be a date like 2026-11-27, got {value!r}") from None


def writable_data_dir(data_dir: str | None) -> Path:
    """The data directory, created and proven writable, or a clean exit 2 saying what to fix."""
    from hydra.paths import DataDirError, ensure_writable, resolve_data_dir

    try:
        return ensure_writable(resolve_data_dir(data_dir))
    except DataDirError as exc:
        raise fail(str(exc)) from None
