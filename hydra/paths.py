"""Where run data lives: one data directory (git-ignored) holding every journal and record.

Kept free of heavy imports: cron's `hydra run` process resolves paths before anything else.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_DIR / "notebooks"


class DataDirError(ValueError):
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
