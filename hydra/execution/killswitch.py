"""The kill switch: `hydra pause` stops every new order until `hydra resume`.

State is a small JSON file in the data directory, written atomically, so it survives restarts
and is shared by the CLI, cron runs and notebook kernels. Cancels stay allowed while paused.
A file that cannot be read, or says anything but an explicit `"paused": false`, counts as
PAUSED: when in doubt, do not trade.
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hydra.paths import DataPaths


@dataclass(frozen=True)
class TradingState:
    paused: bool
    reason: str
    changed_at: str | None
    changed_by: str | None

    def describe(self) -> str:
        """The reason, then when and by whom only if the file says (a hand-edited one may not)."""
        when = f"since {self.changed_at}" if self.changed_at else ""
        who = f"by {self.changed_by}" if self.changed_by else ""
        return "; ".join(p for p in (self.reason, " ".join(filter(None, (when, who)))) if p)


def _path(paths: DataPaths) -> Path:
    return paths.state_dir / "trading.json"


def read_state(paths: DataPaths) -> TradingState:
    path = _path(paths)
    if not path.exists():
        return TradingState(False, "", None, None)
    try:
        raw = json.loads(path.read_text())
        flag = raw["paused"]
        if flag is not False:  # only an explicit false means trading: null, "no", 0 ... pause
            reason = str(raw.get("reason") or "") if flag is True else (
                f"kill-switch file {path} says paused={flag!r}, not true or false; treated as "
                "paused: `hydra pause` or `hydra resume` to rewrite it")
            return TradingState(True, reason or "paused", raw.get("changed_at"),
                                raw.get("changed_by"))
        return TradingState(False, str(raw.get("reason") or ""),
                            raw.get("changed_at"), raw.get("changed_by"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return TradingState(True, f"kill-switch file {path} is unreadable ({exc}); treated as "
                            "paused: fix or delete it, then `hydra resume`", None, None)


def _write(paths: DataPaths, state: TradingState) -> TradingState:
    path = _path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trading-")
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(state), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return state


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def pause(paths: DataPaths, reason: str) -> TradingState:
    return _write(paths, TradingState(True, reason or "paused by operator",
                                      datetime.now(UTC).isoformat(timespec="seconds"), _who()))


def resume(paths: DataPaths) -> TradingState:
    return _write(paths, TradingState(False, "", datetime.now(UTC).isoformat(timespec="seconds"),
                                      _who()))
