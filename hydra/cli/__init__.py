"""The operator's command line (typer + rich): thin, it parses, calls the package and renders.

Exit codes: 0 done, 1 a run failed (its notebook is kept), 2 bad usage or input (nothing ran).
Commands live in `hydra.cli.commands.*`; every module there has `register(app)` and is picked
up automatically, so adding a command never edits this file.

May import: everything (it is the top of the package).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from hydra import __version__
from hydra.cli import commands
from hydra.cli.common import console, err


def _plain_help() -> None:
    """`RUN`, not `{run}`, in a usage line: typer (0.26-0.28) has no setting for it."""
    from typer import core

    def usage_pieces(self: core.TyperArgument, ctx: object) -> list[str]:
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return [name + ("..." if self.nargs != 1 else "")]

    core.TyperArgument.get_usage_pieces = usage_pieces  # type: ignore[method-assign]


_plain_help()

app = typer.Typer(
    name="hydra",
    help="Hydra: one daily futures trading cycle on IB paper (or the embedded simulator), "
    "recorded as executed notebooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# The operator's day first (run, status, the kill switch), then scheduling, reports, the
# model, IB and the lab; a module not listed here comes last, in name order.
_ORDER = ["runs", "status", "trading", "paper_trade", "schedule", "fill_report", "model", "ib",
          "lab"]
_names = sorted((m.name for m in pkgutil.iter_modules(commands.__path__)),
                key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
for _name in _names:
    importlib.import_module(f"{commands.__name__}.{_name}").register(app)


@app.command()
def version() -> None:
    """Print Hydra's version."""
    console.print(__version__)


def _papermill_style_params(argv: list[str]) -> list[str]:
    """Rewrite `-p NAME VALUE` (papermill's form) to `-p NAME=VALUE` before typer parses it."""
    fixed: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if (a in ("-p", "--param") and i + 2 < len(argv) and "=" not in argv[i + 1]
                and not argv[i + 2].startswith("-")):
            fixed += [a, f"{argv[i + 1]}={argv[i + 2]}"]
            i += 3
            continue
        fixed.append(a)
        i += 1
    return fixed


def main() -> None:
    from hydra.reference.markets import MarketsFileError

    try:
        app(args=_papermill_style_params(sys.argv[1:]), prog_name="hydra")
    except MarketsFileError as exc:  # every command reads the registry: one clear refusal
        err.print(f"[bold red]refused:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
