"""Where run data lives: one data directory (git-ignored) holding every journal and record.

Kept free of heavy imports: cron's `hydra run` process resolves paths before anything else.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hydra.domain.errors import HydraError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_DIR / "notebooks"


class DataDirError(HydraError, ValueError):
    pass


def default_data_dir() -> Path:
    """HYDRA_DATA_DIR, else `data/` in the checkout (git-ignored), else ~/.local/share/hydra."""
    env = os.environ.get("HYDRA_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if (REPO_DIR / "pyproject.toml").is_file():
        return REPO_DIR / "data"
    return Path.home() / ".local" / "share" / "hydra"


def resolve_data_dir(value: str | os.PathLike[str] | None) -> Path:
    if value is None or str(value).strip() == "":
        return default_data_dir()
    return Path(value).expanduser().resolve()


def ensure_writable(path: Path) -> Path:
    """Create the data directory and prove we can write there, or say what to fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise DataDirError(
            f"data directory {path} is not writable ({exc.strerror or exc}); "
            "pass --data-dir / data_dir or set HYDRA_DATA_DIR to a folder you can write"
        ) from exc
    return path


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def sim_db(self) -> Path:
        return self.root / "broker" / "sim.sqlite"

    @property
    def journal_db(self) -> Path:
        return self.root / "journal" / "journal.sqlite"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def run_index(self) -> Path:
        return self.root / "runs" / "index.sqlite"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def writable_problem(self) -> str | None:
        """Why Hydra could not write where a cycle writes (None: it can), checked before any
        order: SQLite opens a read-only file without complaint and fails at the first write,
        which may come after the broker has an order."""
        runs, locks = self.runs_dir, self.runs_dir / "locks"
        places = [self.root, runs, locks, *runs.glob("index.sqlite*"), *locks.glob("*")]
        for folder in ("broker", "journal", "state", "models", "agent", "bars"):
            # only what a cycle writes: the lab's links and scratch/, the records, are not it
            for top, dirs, names in os.walk(self.root / folder):
                places += (Path(top, n) for n in [*dirs, *names])
            places.append(self.root / folder)
        for path in places:
            if path.is_symlink():
                continue
            if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
                kind = "folder" if path.is_dir() else "file"
                return (f"{kind} {path} is read-only for this user (uid {os.getuid()}): Hydra "
                        f"writes there on every cycle. Make it writable (chmod u+w {path}, or "
                        f"chown the data directory to the user cron runs as) and rerun; "
                        "nothing was sent and nothing was changed")
        return None

    def require_writable(self) -> None:
        problem = self.writable_problem()
        if problem:
            raise DataDirError(problem)
