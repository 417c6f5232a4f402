"""The early kernel of `hydra run` loads the notebook's imports while the run is checked
(benchmarks/papermill_cycle.py), and the record must not be able to tell: no execution count
used, no name bound, an import error left for the cell that imports the module to show."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyter_core.utils import run_sync

from hydra.ops.notebook_runs.execution import EarlyKernel, notebook_imports
from tests.kit import REPO, small_notebook

PROBE = ("import sys as _s\n"
         "print(sorted(k for k in globals() if not k.startswith('_')), "
         "'hydra.cycle' in _s.modules, 'email.mime.text' in _s.modules)")


def _first_cell_in(kernel: EarlyKernel, code: str) -> tuple[int, str]:
    client = kernel.km.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=120)
        out: list[str] = []
        reply = run_sync(client.execute_interactive)(
            code, timeout=120,
            output_hook=lambda m: out.append(m["content"].get("text", "")))
        return reply["content"]["execution_count"], "".join(out).strip()
    finally:
        client.stop_channels()


def test_notebook_imports_reads_the_top_level_imports_of_code_cells(tmp_path: Path) -> None:
    nb = small_notebook(tmp_path / "n.ipynb", "import json, email.mime.text as t\nx = 1",
                        "from hydra import cycle\nfrom hydra.views import cycle as report",
                        "%matplotlib inline\nimport never_seen", "def f():\n    import csv",
                        "from . import relative")
    assert notebook_imports(nb) == ["json", "email.mime.text", "hydra.cycle", "hydra",
                                    "hydra.views.cycle", "hydra.views"]
    assert "hydra.cycle" in notebook_imports(REPO / "notebooks" / "daily_cycle.ipynb")


def _probe(preload: list[str]) -> tuple[int, str]:
    kernel = EarlyKernel(preload=preload)
    try:
        return _first_cell_in(kernel, PROBE)
    finally:
        kernel.close()


def test_preloaded_modules_are_loaded_and_the_namespace_and_count_untouched() -> None:
    count, text = _probe(["no_such_module_anywhere", "hydra.cycle", "email.mime.text"])
    fresh_count, fresh = _probe([])  # the same probe in a kernel that preloaded nothing
    assert fresh.endswith("] False False")  # (so the probe can tell)
    assert count == fresh_count == 1  # the preload used no execution count
    names = fresh.removesuffix(" False False")
    assert text == f"{names} True True"  # loaded (past a failing one); the same names bound


# ------------------------------------------- `hydra run` starts its kernel before the checks
def _kernel_children() -> list[str]:
    import psutil

    return [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)
            if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(("args", "toml", "code", "said"), [
    (["-p", "contracts=-1"], "", 2, "contracts must be >= 0"),
    ([], "[risk]\nmax_gross_notional_fraction = -1\n", 2, "max_gross_notional_fraction"),
    (["--as-of", "2026-11-28"], "", 0, "SKIPPED"),  # a Saturday: recorded, nothing executed
])
def test_a_run_that_does_not_go_ahead_leaves_no_kernel_behind(data_dir: Path, args: list[str],
                                                              toml: str, code: int,
                                                              said: str) -> None:
    """The kernel boots while the run is checked; a refused or skipped run kills it."""
    from typer.testing import CliRunner

    from hydra.cli import app

    if toml:
        (data_dir / "hydra.toml").write_text(toml)
    before = _kernel_children()
    done = CliRunner().invoke(app, ["run", "daily-cycle", *args, "--data-dir", str(data_dir)])
    assert done.exit_code == code, done.output
    assert said in done.output
    assert _kernel_children() == before, "a kernel outlived the run it was started for"
    assert not list(data_dir.rglob("*.ipynb")), "no notebook executed"


def test_a_cron_firing_at_no_scheduled_time_starts_no_kernel() -> None:
    from datetime import UTC, datetime

    from hydra.ops import notebook_runs as runs

    job = runs.get_job("daily-cycle")
    assert runs.early_kernel(job, scheduled=True,
                             now=datetime(2026, 11, 24, 3, 17, tzinfo=UTC)) is None


# ------------------------------------------------ the kernel's exit (hydra.ops.kernel_main)
def test_the_kernel_ends_after_every_exit_handler_and_flushes_what_a_cell_left_open(
        tmp_path: Path) -> None:
    """`hydra run`'s kernel skips Python's teardown after its exit handlers; what a teardown
    would have saved is still saved: a cell's own exit handler runs, a file left open where
    IPython's reset of the namespace does not free it keeps what was written to it, and the
    process ends with status 0."""
    left_open, at_exit = tmp_path / "left-open.txt", tmp_path / "at-exit.txt"
    kernel = EarlyKernel()
    assert kernel.km.provisioner.process.args[1:3] == ["-m", "hydra.ops.kernel_main"]
    try:
        count, _ = _first_cell_in(kernel, (  # held by a module, as a library holds a file
            "import atexit, sys, types\n"
            "holder = sys.modules['holder'] = types.ModuleType('holder')\n"
            f"holder.f = open({str(left_open)!r}, 'w')\n"
            "holder.f.write('buffered, never flushed by the cell')\n"
            "del holder\n"
            f"atexit.register(lambda: open({str(at_exit)!r}, 'w').write('ran'))"))
        assert count == 1
        process = kernel.km.provisioner.process
    finally:
        kernel.close()  # graceful: shutdown_request, as at the end of a run
    assert process.wait(timeout=30) == 0
    assert left_open.read_text() == "buffered, never flushed by the cell"
    assert at_exit.read_text() == "ran"
