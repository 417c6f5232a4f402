"""What the lab refuses: the audit trail is read-only (no save, rename or delete under runs/),
and only notebooks in scratch/ start a kernel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.sessions.sessionmanager import SessionManager
from tornado import web
from traitlets import List, Unicode

from hydra.domain.errors import HydraError

REFUSAL = ("{path} is in the audit trail, which is read-only: executed notebooks are records. "
           "To rerun one, use File > Save Notebook As... into scratch/ (or `hydra lab --rerun "
           "RUN_ID`), then pick a kernel for the copy (Kernel > Change Kernel...) and run it.")


class LabError(HydraError, RuntimeError):
    pass


class ReadOnlyRunsContentsManager(AsyncLargeFileManager):
    """JupyterLab's default contents manager, refusing every write under `read_only_dirs`."""

    read_only_dirs = List(Unicode(), config=True,
                          help="Folders (real paths) that are served read-only.")

    def protected(self, path: str) -> bool:
        """Whether an API path lands (through links, '..' and all) in a read-only folder."""
        real = Path(os.path.realpath(self._get_os_path(path.strip("/"))))
        for folder in self.read_only_dirs:
            root = Path(os.path.realpath(folder))
            if real == root or root in real.parents:
                return True
        return False

    def _refuse(self, path: str) -> None:
        if self.protected(path):
            raise web.HTTPError(403, REFUSAL.format(path=path or "/"))

    def is_writable(self, path: str) -> bool:
        return not self.protected(path) and super().is_writable(path)

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        self._refuse(path)
        return await super().save(model, path)

    async def delete_file(self, path: str) -> None:
        self._refuse(path)
        return await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        self._refuse(old_path)
        self._refuse(new_path)
        return await super().rename_file(old_path, new_path)

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        self._refuse(path)
        return await super().create_checkpoint(path)

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        return await super().restore_checkpoint(checkpoint_id, path)

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        return await super().delete_checkpoint(checkpoint_id, path)

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        """None under the trail: listing would create an .ipynb_checkpoints/ folder there."""
        if self.protected(path):
            return []
        return await super().list_checkpoints(path)


KERNEL_REFUSAL = ("{path} is not in scratch/: records and source notebooks run no kernel here. "
                  "Use File > Save Notebook As... into scratch/ and run the copy there.")


class ScratchOnlySessionManager(SessionManager):
    """Kernels only for notebooks in scratch/: opening a record must not start one."""

    async def create_session(self, path: str | None = None, name: Any = None,
                             type: str | None = None, kernel_name: Any = None,
                             kernel_id: str | None = None) -> dict[str, Any]:
        parts = Path(path or "").parts
        if not parts or parts[0] != "scratch" or ".." in parts:
            raise web.HTTPError(403, KERNEL_REFUSAL.format(path=path or "/"))
        return await super().create_session(path=path, name=name, type=type,
                                             kernel_name=kernel_name, kernel_id=kernel_id)
