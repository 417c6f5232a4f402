"""`hydra lab`: JupyterLab on 127.0.0.1 with a token; the audit trail read-only."""

from __future__ import annotations

from typing import Annotated

import typer

from hydra.cli.common import DataDirOpt, console, fail
from hydra.paths import DataDirError, DataPaths, ensure_writable, resolve_data_dir


def register(app: typer.Typer) -> None:
    app.command()(lab)


def lab(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8888,
    token: Annotated[str | None, typer.Option(
        envvar="HYDRA_LAB_TOKEN", help="Access token (default: a new random one each start).")
    ] = None,
    rerun: Annotated[str | None, typer.Option(
        help="Copy this run's executed notebook into scratch/ and print its address: the copy "
        "is yours to rerun, the record stays as it was.")] = None,
    browser: Annotated[bool, typer.Option(help="Open a browser on this machine.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Start JupyterLab on 127.0.0.1 (token required) over notebooks/, the audit trail
    (read-only: saves there are refused) and scratch/ for interactive reruns."""
    from hydra.ops import lab as hlab

    try:
        paths = DataPaths(ensure_writable(resolve_data_dir(data_dir)))
        token = token if token is not None else hlab.new_token()
        if not token.strip():
            raise hlab.LabError("--token must not be empty (that would turn authentication off)")
        open_path = "lab"
        if rerun:
            from hydra.cli.commands.runs import _find_run

            rec = _find_run(paths, rerun)
            if not rec.output_path:
                raise hlab.LabError(f"run {rec.run_id} executed no notebook ({rec.status})")
            copy = hlab.copy_for_rerun(paths, rec.output_path, rec.run_id)
            open_path = f"lab/tree/scratch/{copy.name}"
            console.print(f"copied run {rec.run_id}'s notebook to {copy}")
        ws = hlab.prepare_workspace(paths)
    except (hlab.LabError, DataDirError) as exc:
        raise fail(str(exc)) from None
    console.print(f"workspace {ws}: notebooks/ (sources), runs/ (audit trail, read-only), "
                  "scratch/ (your reruns)")
    print(f"JupyterLab: http://127.0.0.1:{port}/{open_path}?token={token}", flush=True)
    hlab.launch(paths, port=port, token=token, open_browser=browser)
