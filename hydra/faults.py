"""Fault injection for the crash-recovery tests: die at a named point of the money path.

Inert unless HYDRA_KILL_AT (or HYDRA_STALL_AT) names the point (and, optionally,
HYDRA_KILL_AFTER says how many passes through it to survive first). The process then sends
itself SIGKILL: no cleanup, no finally blocks, no flush, exactly what a `kill -9`, an OOM kill
or a power cut leaves behind.
"""

from __future__ import annotations

import os
import signal
import time

POINTS = (
    "after_planning",  # the plan is made, the target recorded, nothing sent
    "after_parent_journaled",  # the parent row is written, no child sent
    "after_child_sent",  # the broker has the child; its status is not journaled yet
    "between_slices",  # a TWAP slice is done, the next not yet sent
    "before_fill_journaled",  # an execution is at the broker, not yet in the journal
    "while_journaling",  # inside the journal's fill transaction
    "during_summary",  # every order done, the summary not yet built
    "before_index_finished",  # `hydra run`: the notebook saved, the run index not yet updated
)
_passes: dict[str, int] = {}


def kill_point(name: str) -> None:
    """Die here if the environment names this point (after HYDRA_KILL_AFTER passes).

    HYDRA_STALL_AT=<point> instead sleeps HYDRA_STALL_SECONDS there (default 5): time for a
    test to kill some other process (the `hydra run` parent of a kernel) at that moment. If
    HYDRA_STALL_FLAG names a file, it is created when the stall begins, so the test kills at
    the stall and not at a moment it guessed. If HYDRA_STALL_UNTIL names a file, the stall
    ends as soon as that file exists (HYDRA_STALL_SECONDS is then its upper bound), so a test
    holds the run exactly as long as its other process needs, however loaded the machine."""
    if os.environ.get("HYDRA_STALL_AT") == name:
        flag = os.environ.get("HYDRA_STALL_FLAG")
        if flag:
            with open(flag, "w") as f:
                f.write(f"{os.getpid()} {name}\n")
        end = time.monotonic() + float(os.environ.get("HYDRA_STALL_SECONDS", "5") or 5)
        until = os.environ.get("HYDRA_STALL_UNTIL")
        while time.monotonic() < end and not (until and os.path.exists(until)):
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
    want = os.environ.get("HYDRA_KILL_AT")
    if not want or want != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] > int(os.environ.get("HYDRA_KILL_AFTER", "0") or 0):
        os.kill(os.getpid(), signal.SIGKILL)
