"""The adapter's clock follows `hydra sim-gateway --speed N`, and only that gateway's.

The order manager's waits are IB's (simulated) seconds: against a gateway N times faster than
the wall clock, IBClock sleeps seconds / N. A gateway that does not announce itself (a real
IB Gateway or TWS, or anything unknown) and every live port stay at 1x: wall seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hydra.broker.ib.adapter import IBBroker, IBClock
from hydra.broker.ib.rehearsal import REHEARSAL_CODE, announced_speed, rehearsal_notice
from hydra.gateway import server as tws_server
from hydra.gateway.server import ScaledClock
from tests.broker.test_ib_adapter import SETTINGS, START, start_gateway


def timed_sleep(clock: IBClock, seconds: float) -> tuple[float, float]:
    """(simulated, wall) seconds that clock.sleep(seconds) took."""
    t0, w0 = clock.now(), time.monotonic()
    clock.sleep(seconds)
    return (clock.now() - t0).total_seconds(), time.monotonic() - w0


@contextmanager
def connected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: float,
              client_id: int) -> Iterator[IBBroker]:
    """The adapter connected to an in-process gateway whose clock runs `speed` x wall time."""
    clock = ScaledClock(START, speed)
    with start_gateway(tmp_path / "sim.sqlite", clock) as gw:  # type: ignore[arg-type]
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        b = IBBroker(port=gw.port, client_id=client_id, settings=SETTINGS)
        b.connect()
        try:
            yield b
        finally:
            b.close()


def test_a_rehearsal_at_4x_sleeps_a_quarter_of_the_wall_time(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    with connected(tmp_path, monkeypatch, 4.0, 41) as b:
        assert b.clock_speed == 4.0
        simulated, wall = timed_sleep(IBClock(b), 1.2)
        assert wall < 0.9, f"1.2 simulated s took {wall:.2f} wall s at 4x"
        assert simulated >= 1.2 - 0.01, f"the clock moved {simulated:.2f} s, not 1.2"


def test_a_gateway_that_does_not_announce_a_speed_is_slept_in_wall_seconds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An unknown gateway (here the same one, silent about its speed) is 1x, even though its
    clock runs 4x: the adapter never guesses a speed from the time it reads."""
    monkeypatch.setattr(tws_server, "rehearsal_notice",
                        lambda speed: (2104, "Market data farm connection is OK:usfarm"))
    with connected(tmp_path, monkeypatch, 4.0, 42) as b:
        assert b.clock_speed == 1.0
        _, wall = timed_sleep(IBClock(b), 0.5)
        assert wall >= 0.5


@pytest.mark.parametrize("port", [4001, 7496])
def test_a_live_port_stays_at_1x_whatever_it_announces(port: int):
    b = IBBroker(port=port, settings=SETTINGS, confirm_live=True)  # never connected
    b._on_error(-1, *rehearsal_notice(4.0), None)
    assert b.clock_speed == 1.0
    paper = IBBroker(port=4002, settings=SETTINGS)
    paper._on_error(-1, *rehearsal_notice(4.0), None)
    assert paper.clock_speed == 4.0, "the same notice on a paper port is followed"


@pytest.mark.parametrize("code,text", [
    (REHEARSAL_CODE, "Market data farm connection is OK:usfarm"),
    (2104, rehearsal_notice(4.0)[1]),
    (REHEARSAL_CODE, "not " + rehearsal_notice(4.0)[1]),
    (REHEARSAL_CODE, rehearsal_notice(4.0)[1] + " or faster"),
    (REHEARSAL_CODE, rehearsal_notice(4.0)[1].replace("4.0", "0.0")),
    (REHEARSAL_CODE, rehearsal_notice(4.0)[1].replace("4.0", "inf")),
])
def test_only_the_rehearsal_notice_names_a_speed(code: int, text: str):
    assert announced_speed(code, text, 4002) is None


def test_the_notice_round_trips_the_speed():
    for speed in (0.5, 1.0, 2.0, 50.0, 1e-3):
        assert announced_speed(*rehearsal_notice(speed), 4002) == speed
