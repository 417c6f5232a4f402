"""The kernel process `hydra run` starts: ipykernel's own launcher, without Python's teardown.

A kernel that has run its cells and then every exit handler (the cells' own, IPython's,
logging's) has nothing left to do but free its modules one by one (pandas, scikit-learn,
matplotlib: 0.5-0.8 s of CPU) while `hydra run` waits for it to end. The handler registered
here, first, runs last: it flushes what a teardown would have flushed (the standard streams and
every file a cell left open) and ends the process with its exit status. Started as
`python -m hydra.ops.kernel_main -f CONNECTION_FILE` (hydra.ops.kernels).
"""

from __future__ import annotations

import atexit
import gc
import io
import os
import sys
from pathlib import Path

_status = 0


def _flush_open_files() -> None:
    for obj in gc.get_objects():
        if isinstance(obj, io.IOBase) and not obj.closed:
            try:
                if obj.writable():
                    obj.flush()
            except (OSError, ValueError):
                pass


def _end_now() -> None:
    try:
        _flush_open_files()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    finally:
        os._exit(_status)


def main() -> None:
    global _status
    # as ipykernel_launcher: the cwd leaves sys.path while ipykernel loads (IPython adds it back)
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    atexit.register(_end_now)
    from ipykernel import kernelapp

    try:
        kernelapp.launch_new_instance()
    except SystemExit as exc:
        code = exc.code
        _status = code if isinstance(code, int) else (0 if code is None else 1)
        raise
    except BaseException:
        _status = 1
        raise


if __name__ == "__main__":
    main()
