"""A private asyncio event loop on its own thread: how Hydra runs ib_insync anywhere.

ib_insync's blocking calls run the *current thread's* event loop until a request finishes.
Inside a Jupyter or papermill kernel that loop is already running, so they raise "This event
loop is already running", and a connect that was scheduled before the failure keeps going in
the background and can take the client id. `util.startLoop()` (nest_asyncio) works around it
by patching the kernel's loop, which changes every other library's asyncio too.

Hydra instead gives ib_insync one loop of its own on a daemon thread and submits every call to
it with a bounded wait. The caller's thread never runs asyncio, so the same adapter code works
from plain scripts, the CLI, a papermill kernel and JupyterLab (where the kernel's own loop is
running) alike. Stopping the thread cancels whatever is still pending on it and closes the
loop: a failed connect leaves no task, socket or thread behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

THREAD_NAME = "hydra-ib-loop"


class LoopThread:
    """An event loop running on a dedicated daemon thread until `stop()`."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the IB event loop thread is not running")
        return self._loop

    def start(self, timeout: float = 10.0) -> None:
        if self.alive:
            return
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)  # ib_insync looks its loop up per thread
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                _cancel_pending(loop)
                loop.close()

        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"the IB event loop thread did not start within {timeout} s")

    def run(self, make: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Await `make()` on the loop thread; TimeoutError (and the work cancelled) after
        `timeout` seconds."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.run called from its own thread would deadlock")

        async def bounded() -> T:
            return await asyncio.wait_for(make(), timeout)

        future = asyncio.run_coroutine_threadsafe(bounded(), self.loop)
        try:
            return future.result(timeout + 5.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run a plain function on the loop thread (everything touching ib_insync does)."""
        async def run() -> T:
            return fn()

        return self.run(run, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, cancel what is pending on it, and join the thread (bounded)."""
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._loop = None


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
