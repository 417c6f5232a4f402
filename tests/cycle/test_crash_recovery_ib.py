"""Crash recovery on the IB path: ib_insync over the TWS wire protocol to `hydra sim-gateway`
(a real process on a loopback port), killed at each named point of the money path, or the
gateway itself killed and restarted mid-TWAP. Same checks as tests/cycle/test_crash_recovery.py,
with the fill report asking the gateway. The gateway's clock runs at 3x wall time for the kill
matrix and at 2x for the gateway-fault cases (the adapter follows it), so these run apart from
the simulator's cases (their own file: another xdist worker).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hydra.faults import POINTS
from tests.cycle.test_crash_recovery import (
    CONFIG,
    DAY,
    NEXT,
    assert_books_agree,
    broker_rows,
    journal_rows,
    position,
)
from tests.kit import pin_signal, start_sim_gateway, stop_process


def assert_books_agree_over_ib(data_dir: Path, port: str) -> None:
    """The same, with the fill report asking the gateway (a port declared paper for it)."""
    os.environ["HYDRA_PAPER_PORTS"] = port
    try:
        assert_books_agree(data_dir, broker="ib", port=port, client_id="23")
    finally:
        del os.environ["HYDRA_PAPER_PORTS"]
    refs = [r for (r,) in broker_rows(data_dir, "SELECT order_ref FROM orders")]
    assert len(refs) == len(set(refs)), "an orderRef was sent twice"
    execs = sorted(broker_rows(data_dir, "SELECT exec_id, quantity, price FROM executions"))
    journaled = sorted(journal_rows(data_dir, "SELECT exec_id, quantity, price FROM fills"))
    assert journaled == execs, "every broker execution in the journal exactly once"
    for ref, qty, filled in journal_rows(data_dir,
                                         "SELECT order_ref, quantity, filled FROM orders"):
        [(at_broker,)] = broker_rows(
            data_dir, f"SELECT COALESCE(SUM(quantity), 0) FROM executions WHERE order_ref "
            f"LIKE '{ref}-%'")
        assert at_broker <= qty, f"parent {ref} over-filled: {at_broker} of {qty}"
        assert filled == at_broker, f"parent {ref} says {filled}, the broker {at_broker}"


# ----------------------------------------------------------------- the IB path, too
# The TWAP here is squeezed into 10 simulated seconds, so a flip day's two parents send more
# children in a minute than the default 10: the limit is raised for the test.
IB_CONFIG = CONFIG.replace("[risk]\n", "[risk]\nmax_orders_per_minute = 40\n") + (
    "wait_seconds = 2\ncross_wait_seconds = 3\npoll_seconds = 0.5\n"
    "cancel_timeout_seconds = 5\ntwap_window_seconds = 10\n")
# The kill matrix's TWAP: 6 simulated seconds on a gateway at 3x (the adapter sleeps in its
# simulated seconds: hydra.broker.ib.rehearsal), so 2 wall seconds; each of its tests works 2.7
# windows (the rest of the killed day, then the flip). Three 2 s slices (0.67 wall s each:
# what a loaded machine needs to send a slice's child and see its fill); every kill point
# still falls where it did (the second child, the second slice, the second fill). Each
# slice's child crosses at once (its 3 s cross reserve is longer than a slice) and the
# simulator fills a crossing limit on arrival. poll_seconds 0.25: the last slice's fill is
# seen within a twelfth of a wall second.
KILL_SPEED = 3.0
# The gateway-fault tests (killed, or dying under a placeOrder, and restarted) keep IB_CONFIG's
# 10 s TWAP, at 2x: five 1 s (wall) slices, the outage (a restart, ~0.5 s) inside the window.
FAULT_SPEED = 2.0
KILL_CONFIG = IB_CONFIG.replace("poll_seconds = 0.5\n", "poll_seconds = 0.25\n").replace(
    "twap_window_seconds = 10\n", "twap_window_seconds = 6\ntwap_slices = 3\n")
assert KILL_CONFIG.count("= 6\n") == 1 and "poll_seconds = 0.25" in KILL_CONFIG
IB_SCRIPT = ("import sys\nfrom hydra import cycle\n"
             "cycle.run_in_process(data_dir=sys.argv[1], as_of=sys.argv[2], contracts=5, "
             "broker='ib', port=int(sys.argv[3]))\n")


@pytest.mark.slow
@pytest.mark.parametrize("point,after", [
    ("after_planning", 0), ("after_parent_journaled", 0), ("after_child_sent", 1),
    ("during_summary", 0),
])
def test_killed_on_the_ib_path_a_rerun_through_the_gateway_finishes_the_day(data_dir, point,
                                                                           after):
    """The money-path kill points before and after the fills on the IB path (those around a
    fill: tests/cycle/test_crash_recovery_ib_fills.py, a file of its own so another xdist worker
    takes them). The gateway runs at KILL_SPEED. The eighth point (before_index_finished) is
    `hydra run`'s, not the broker's: tests/cycle/test_crash_recovery.py."""
    killed_on_ib_then_rerun(data_dir, point, after)


def killed_on_ib_then_rerun(data_dir: Path, point: str, after: int) -> None:
    """Kill at `point` on the IB path, rerun the date, then the next trading date (the gateway
    restarted on it, the signal flipped), and the books agree each time."""
    assert point in POINTS
    (data_dir / "hydra.toml").write_text(KILL_CONFIG)
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir)}
    gw, port = start_sim_gateway(data_dir, DAY, speed=KILL_SPEED)
    try:
        run_env = {**env, "HYDRA_PAPER_PORTS": port, "HYDRA_KILL_AT": point,
                   "HYDRA_KILL_AFTER": str(after)}
        killed = subprocess.run([sys.executable, "-c", IB_SCRIPT, str(data_dir), DAY, port],
                                env=run_env, capture_output=True, text=True, timeout=180)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        run_env.pop("HYDRA_KILL_AT")
        rerun = subprocess.run([sys.executable, "-c", IB_SCRIPT + "print('ok')\n",
                                str(data_dir), DAY, port], env=run_env, capture_output=True,
                               text=True, timeout=180)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
        assert position(data_dir) == target
        assert_books_agree_over_ib(data_dir, port)
        stop_process(gw, signal.SIGINT)
        pin_signal(data_dir, -1)  # the next date flips: close 5, open 5 short, through the gateway
        gw, port = start_sim_gateway(data_dir, NEXT, speed=KILL_SPEED)
        run_env["HYDRA_PAPER_PORTS"] = port
        nxt = subprocess.run([sys.executable, "-c", IB_SCRIPT.replace(
            "cycle.run_in_process(", "s = cycle.run_in_process(") + "print(s['target_position'])\n",
            str(data_dir), NEXT, port], env=run_env, capture_output=True, text=True, timeout=180)
        assert nxt.returncode == 0, nxt.stderr[-2000:]
        assert position(data_dir) == int(nxt.stdout.split()[-1]), nxt.stdout[-500:]
        assert_books_agree_over_ib(data_dir, port)
    finally:
        stop_process(gw, signal.SIGINT)


@pytest.mark.slow
def test_a_gateway_killed_mid_twap_and_restarted_the_cycle_reconnects_and_ends_right(data_dir):
    (data_dir / "hydra.toml").write_text(IB_CONFIG)
    gw, port = start_sim_gateway(data_dir, DAY, speed=FAULT_SPEED)
    run_env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir), "HYDRA_PAPER_PORTS": port}
    cyc = subprocess.Popen([sys.executable, "-c", IB_SCRIPT + "print('ok')\n", str(data_dir),
                            DAY, port], env=run_env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 150  # generous: a loaded machine starts slowly
        while time.monotonic() < deadline and not (data_dir / "journal" / "journal.sqlite"
                                                   ).exists():
            time.sleep(0.2)
        def second_slice() -> bool:  # the journal's file exists before its tables do
            try:
                return bool(journal_rows(data_dir, "SELECT 1 FROM child_orders WHERE slice >= 2"))
            except sqlite3.OperationalError:
                return False

        while time.monotonic() < deadline and cyc.poll() is None and not second_slice():
            time.sleep(0.2)
        assert second_slice(), \
            "the cycle never reached its second TWAP slice: " + (
                cyc.communicate()[1][-2000:] if cyc.poll() is not None else "still starting")
        assert clients_of(int(port)), "the cycle is connected to the gateway before the kill"
        gw.kill()  # the gateway dies mid-TWAP (slice 2 under way)
        gw.wait(10)
        while time.monotonic() < deadline and clients_of(int(port)):
            time.sleep(0.05)  # until the cycle has seen it go (closed its end of the socket)
        assert not clients_of(int(port)), "the cycle never noticed the gateway died"
        gw, _ = start_sim_gateway(data_dir, DAY, port, speed=FAULT_SPEED)
        _assert_the_day_ended_right(cyc, data_dir, port)
    finally:
        cyc.kill()
        stop_process(gw, signal.SIGINT)


def clients_of(port: int) -> list[str]:
    """States of the client sockets still open to `port` on loopback (ESTABLISHED, or
    CLOSE_WAIT: the server went, the client has not closed yet), read from /proc."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if int(remote.rsplit(":", 1)[1], 16) == port and state in ("01", "08"):
            found.append(state)
    return found


def _assert_the_day_ended_right(cyc: subprocess.Popen[str], data_dir, port: str) -> None:
    """The cycle went on after the gateway came back: exit 0, the position at the day's
    target, nothing left working, the books agreeing over IB."""
    out, err = cyc.communicate(timeout=180)
    assert cyc.returncode == 0 and "ok" in out, err[-3000:]
    [(target,)] = journal_rows(data_dir, "SELECT target FROM cycle_targets")
    assert position(data_dir) == target
    assert broker_rows(data_dir, "SELECT order_ref FROM orders WHERE status NOT IN "
                                 "('Filled', 'Cancelled', 'ApiCancelled', 'Inactive')") == []
    assert_books_agree_over_ib(data_dir, port)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["die-at-order-2-unstored", "die-at-order-2-stored"])
def test_a_gateway_dying_under_a_placeorder_leaves_no_unknown_order(data_dir, monkeypatch,
                                                                   fault):
    """The session-5 flake made deterministic: the gateway dies as it receives a TWAP child's
    placeOrder, before storing it (IB never got it: the adapter sends it again under the same
    ref) or after storing it (IB has it: the adapter adopts it). Either way the cycle ends at
    its target, every execution journaled once, no orderRef sent twice."""
    (data_dir / "hydra.toml").write_text(IB_CONFIG)
    monkeypatch.setenv("HYDRA_SIM_GATEWAY_FAULTS", fault)
    gw, port = start_sim_gateway(data_dir, DAY, speed=FAULT_SPEED)
    monkeypatch.delenv("HYDRA_SIM_GATEWAY_FAULTS")
    run_env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir), "HYDRA_PAPER_PORTS": port}
    cyc = subprocess.Popen([sys.executable, "-c", IB_SCRIPT + "print('ok')\n", str(data_dir),
                            DAY, port], env=run_env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        assert gw.wait(150) == 9, "the gateway's fault never fired"  # bounded: a slow start
        gw, _ = start_sim_gateway(data_dir, DAY, port, speed=FAULT_SPEED)
        _assert_the_day_ended_right(cyc, data_dir, port)
    finally:
        cyc.kill()
        stop_process(gw, signal.SIGINT)
