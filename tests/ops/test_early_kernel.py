"""The early kernel of `hydra run` loads the notebook's imports while the run is checked
(benchmarks/papermill_cycle.py), and the record must not be able to tell: no execution count
used, no name bound, an import error left for the cell that imports the module to show."""

from __future__ import annotations

from pathlib import Path

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
