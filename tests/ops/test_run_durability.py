"""A `hydra run` killed mid-cycle still leaves its record: every cell run so far, the banner
saying RUN INCOMPLETE, and the cell it died in marked as running (what any speed-up of the
notebook path must keep: benchmarks/papermill_cycle.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.kit import HYDRA, REPO, TRADE_DATE, pin_signal

CONFIG = ("[risk]\nmax_notional_fraction = 3.0\nmax_gross_notional_fraction = 3.0\n"
          "[execution]\ntwap_participation = 0.0001\n")  # 5 contracts in TWAP slices


@pytest.mark.slow
def test_a_hydra_run_killed_mid_execution_leaves_its_notebook_up_to_that_cell(data_dir):
    pin_signal(data_dir, +1)
    (data_dir / "hydra.toml").write_text(CONFIG)
    stalled = data_dir / "stalled"
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir), "HYDRA_STALL_AT": "between_slices",
           "HYDRA_STALL_SECONDS": "60", "HYDRA_STALL_FLAG": str(stalled)}
    proc = subprocess.Popen([HYDRA, "run", "daily-cycle", "--as-of", TRADE_DATE, "-p",
                             "contracts", "5"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not stalled.exists() and proc.poll() is None:
            time.sleep(0.1)
        assert stalled.exists(), "the kernel never reached the stall between TWAP slices"
    finally:  # a power cut: the parent and its kernel at once, no cleanup
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    [record] = list((data_dir / "runs" / "daily_cycle").rglob("*.ipynb"))
    nb = json.loads(record.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    by_start = {"".join(c["source"]).lstrip().split("(")[0].split("\n")[0]: c for c in code}
    banner = json.dumps(next(c for c in code if "summary_placeholder" in "".join(c["source"]))
                        ["outputs"])
    assert "RUN INCOMPLETE" in banner
    for step in ("cyc = cycle.open_cycle", "model = cycle.maintain_model",
                 "sig = cycle.compute_signal", "plan = cycle.plan_orders"):
        cell = by_start[step]
        assert cell["outputs"], f"{step}: ran before the kill, its output is in the record"
        assert cell["metadata"]["papermill"]["status"] == "completed"
    dying = by_start["result = cycle.execute"]
    assert dying["metadata"]["papermill"]["status"] == "running"
    summary = by_start["summary = cycle.summarize"]
    assert not summary["outputs"] and summary["metadata"]["papermill"]["status"] == "pending"
    assert Path(record).stat().st_size > 0
