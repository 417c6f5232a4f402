from __future__ import annotations

import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HYDRA = str(Path(sys.executable).parent / "hydra")

# A Tuesday with a normal CBOT session; the front oats contract is ZOH7 then.
TRADE_DATE = "2026-11-24"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def run_hydra(*args: str, data_dir: Path | None = None, timeout: float = 240,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `hydra` console script, as an operator (or cron) runs it."""
    full_env = dict(os.environ)
    if data_dir is not None:
        full_env["HYDRA_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run([HYDRA, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=REPO)


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The process's next stdout line, or an AssertionError after `timeout` seconds."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"no output from {proc.args} within {timeout} s")
        return proc.stdout.readline()
    finally:
        sel.close()


def small_notebook(path: Path, *sources: str, params: str = "") -> Path:
    """A notebook `hydra run` can execute: the parameters it sets, then `sources` as cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('as_of = ""\ndata_dir = ""\nrun_id = ""' + params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def stop_process(proc: subprocess.Popen[str], sig: int) -> None:
    """Ask a server process to stop with `sig`; kill it if it has not within 20 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# Property-based tests: bounded and derandomized in the normal suite (same examples on every run
# and machine); HYPOTHESIS_PROFILE=long explores far more on demand.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
