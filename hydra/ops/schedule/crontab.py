"""Crontab editing: the managed block found, replaced or added in the user's crontab (or a file),
and the install plan `hydra schedule install` shows before it writes."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hydra.ops.schedule.cron import CronTarget, default_target, host_timezone, render_block
from hydra.ops.schedule.jobs import (
    BLOCK_BEGIN,
    BLOCK_END,
    CRONTAB_FILE_ENV,
    ScheduleError,
    jobs_file,
    load_jobs,
)


def split_block(text: str) -> tuple[str, str | None]:
    """(the crontab without Hydra's block, the block or None)."""
    rows = text.splitlines(keepends=True)
    begins = [i for i, r in enumerate(rows) if r.startswith(BLOCK_BEGIN)]
    ends = [i for i, r in enumerate(rows) if r.rstrip("\n") == BLOCK_END]
    if not begins and not ends:
        return text, None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ScheduleError(f"the crontab has a damaged Hydra block ({len(begins)} begin and "
                            f"{len(ends)} end marker lines); remove the lines between "
                            f"'{BLOCK_BEGIN}' and '{BLOCK_END}' by hand (crontab -e) and reinstall")
    b, e = begins[0], ends[0]
    return "".join(rows[:b] + rows[e + 1:]), "".join(rows[b:e + 1])


def with_block(text: str, block: str) -> str:
    """The crontab with Hydra's block at its end (after every line of the user's own)."""
    rest, _ = split_block(text)
    if rest and not rest.endswith("\n"):
        rest += "\n"
    return rest + block


class CrontabStore:
    """Where the crontab lives: the user's (through the `crontab` command) or a file (tests, or a
    system cron directory). Only the marked block is ever changed."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file

    @classmethod
    def from_option(cls, value: str | None) -> CrontabStore:
        chosen = value or os.environ.get(CRONTAB_FILE_ENV)
        return cls(Path(chosen).expanduser().absolute() if chosen else None)

    def describe(self) -> str:
        return f"crontab file {self.file}" if self.file else "your user crontab (crontab -l)"

    def read(self) -> str:
        if self.file is not None:
            try:
                return self.file.read_text()
            except FileNotFoundError:
                return ""
        proc = self._crontab(["-l"])
        if proc.returncode != 0:
            if "no crontab for" in proc.stderr:
                return ""
            raise ScheduleError(f"`crontab -l` failed: {proc.stderr.strip()}")
        return proc.stdout

    def write(self, text: str) -> None:
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".crontab-")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, self.file)
            return
        proc = self._crontab(["-"], text)
        if proc.returncode != 0:
            raise ScheduleError(f"`crontab -` refused the new crontab: {proc.stderr.strip()}")

    def _crontab(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["crontab", *args], input=stdin, capture_output=True,
                                  text=True, timeout=30)
        except FileNotFoundError:
            raise ScheduleError("no `crontab` command on this machine: install and start cron "
                                "(apt-get install cron; service cron start), or pass --crontab-file"
                                f" / set {CRONTAB_FILE_ENV} to write a file") from None
        except subprocess.TimeoutExpired:
            raise ScheduleError("`crontab` did not answer within 30 s") from None

    def installed_block(self) -> str | None:
        return split_block(self.read())[1]

    def install(self, block: str) -> bool:
        """Put the block in (replacing an older one); True when the crontab changed."""
        old = self.read()
        new = with_block(old, block)
        if new == old:
            return False
        self.write(new)
        return True

    def uninstall(self) -> bool:
        """Take the block out; True when there was one."""
        old = self.read()
        rest, block = split_block(old)
        if block is None:
            return False
        self.write(rest)
        return True


def cron_daemon_running() -> bool | None:
    """Whether a cron daemon process is visible (None when /proc cannot tell)."""
    names = {"cron", "crond", "cronie", "busybox-crond"}
    try:
        for comm in Path("/proc").glob("[0-9]*/comm"):
            try:
                if comm.read_text().strip() in names:
                    return True
            except OSError:
                continue
    except OSError:
        return None
    return False


@dataclass(frozen=True)
class InstallPlan:
    """The block `hydra schedule install` would put in the crontab, and where."""

    block: str
    store: CrontabStore
    target: CronTarget
    host_tz_name: str

    def state(self) -> str:
        """"installed", "stale" (an older block: reinstall) or "not installed"."""
        block = self.store.installed_block()
        if block is None:
            return "not installed"
        return "installed" if block == self.block else "stale"


def plan_install(data_dir: Path, *, jobs: str | None = None, crontab_file: str | None = None,
                 cron_timezone: str | None = None, now: datetime | None = None) -> InstallPlan:
    jobs_path = jobs_file(jobs)
    table = load_jobs(jobs_path)
    tz, tz_name = host_timezone(cron_timezone)
    target = default_target(data_dir, jobs_path)
    block = render_block(table, target, tz, tz_name, now or datetime.now(UTC))
    return InstallPlan(block, CrontabStore.from_option(crontab_file), target, tz_name)


def install(plan: InstallPlan) -> bool:
    """Install the plan's block (creating its log and lock folders); True if the crontab changed."""
    (plan.target.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (plan.target.data_dir / "runs" / "locks").mkdir(parents=True, exist_ok=True)
    return plan.store.install(plan.block)
