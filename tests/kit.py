from __future__ import annotations

import os
import selectors
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def copy_data_dir(template: Path, data_dir: Path) -> Path:
    """A test's own copy of a data dir a module-scoped fixture built once (an expensive run):
    files, modes and times kept, so each test can edit or break its copy alone."""
    import shutil

    shutil.copytree(template, data_dir, symlinks=True, dirs_exist_ok=True)
    return data_dir


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


# ------------------------------------------------------------------ the simulator's books
def broker_orders(data_dir: Path) -> list[tuple]:
    """(orderRef, status, filled) of every order the simulated broker holds, by orderRef."""
    db = data_dir / "broker" / "sim.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        return con.execute("SELECT order_ref, status, filled FROM orders ORDER BY 1").fetchall()


def sim_positions(data_dir: Path) -> dict[str, int]:
    """The simulated account's positions, from its own executions (the broker's truth)."""
    with sqlite3.connect(data_dir / "broker" / "sim.sqlite") as con:
        rows = con.execute("SELECT local_symbol, SUM(CASE side WHEN 'BUY' THEN quantity "
                           "ELSE -quantity END) FROM executions GROUP BY local_symbol").fetchall()
    return {local: qty for local, qty in rows if qty}


def start_sim_gateway(data_dir: Path, as_of: str, port: str = "0", speed: float = 1.0
                      ) -> tuple[subprocess.Popen[str], str]:
    """`hydra sim-gateway` on `port` (0: a free one) over `data_dir`, its clock at `speed` x
    wall time (the adapter follows it); returns it and its port."""
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([HYDRA, "sim-gateway", "--port", port, "--as-of", as_of,
                             "--speed", f"{speed:g}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)
    banner = read_line(proc, 60)
    assert "listening on 127.0.0.1:" in banner, banner + (proc.stderr.read() if
                                                          proc.poll() is not None else "")
    return proc, banner.split("127.0.0.1:")[1].split()[0]


# Property-based tests: bounded and derandomized in the normal suite (same examples on every run
# and machine); HYPOTHESIS_PROFILE=long explores far more on demand.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ------------------------------------------------------------------ `hydra lab` servers
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402


def lab_request(port: int, path: str, *, token: str | None, method: str = "GET",
                body: Any = None, empty: Any = None) -> tuple[int, Any]:
    """A call to `hydra lab`'s REST API: (HTTP status, parsed JSON body, `empty` if none)."""
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token is not None:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    return status, json.loads(raw) if raw else empty


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(data_dir: Path, token: str, timeout: float = 90) -> Iterator[int]:
    """`hydra lab` over `data_dir` on a free port, up (its /api/status answers) within
    `timeout` s; yields the port and stops it (SIGTERM) afterwards. Its log: <data_dir>/../lab.log
    """
    import signal
    import time
    import urllib.request

    port = free_port()
    log_path = data_dir.parent / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([HYDRA, "lab", "--port", str(port), "--data-dir", str(data_dir)],
                                cwd=REPO, env={**os.environ, "HYDRA_LAB_TOKEN": token},
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert proc.poll() is None, log_path.read_text()
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/status")
                req.add_header("Authorization", f"token {token}")
                try:
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"JupyterLab did not start within {timeout} s"
                time.sleep(0.25)
            yield port
        finally:
            stop_process(proc, signal.SIGTERM)


def pin_signal(data_dir: Path, direction: int, market: str = "ZO") -> str:
    """Make the champion a constant model (P(up) 0.9 for +1, 0.1 for -1) trained to
    2026-11-01, so a test whose scenario needs a LONG or SHORT on a date does not hang on what
    the trained model happens to say there: it has no edge on the simulator, and any change to
    the model (its labels, features, costs) moves its signals. Before 40 live days the loop
    does not judge it, so nothing replaces it within a test."""
    import math

    from hydra.model.classifier import FittedModel, Recipe
    from hydra.model.registry import Registry

    p = 0.9 if direction > 0 else 0.1
    model = FittedModel(Recipe(features=("ret_1",), C=1.0, train_days=60, note="test: pinned"),
                        (0.0,), (1.0,), (0.0,), math.log(p / (1 - p)), 60, "2026-08-03",
                        "2026-11-02")
    reg = Registry(Path(data_dir) / "models", market)
    model_id = reg.save(model, {"reason": "test: pinned signal", "playbook": "test"})
    reg.promote(model_id, at="2026-11-02", reason="test: pinned signal")
    return model_id
