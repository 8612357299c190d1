"""The single-writer lock of an embedded store: an OS file lock beside the SQLite file.

SQLite serialises each transaction, but entity resolution reads the store, decides, and
writes over several transactions; two processes doing that at once would decide on stale
reads. Every writer (ingest, delete, merge undo) holds this lock for the whole unit. The
lock is ``flock`` on ``<store>.lock``: the operating system releases it when the holder
exits, even on ``kill -9``, so a crash never leaves the store locked. The file records the
holder's pid for the waiting message.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from graphrag.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

_POLL_S = 0.1


def lock_path(store_path: Path) -> Path:
    """The lock file of a store file."""
    return store_path.with_name(store_path.name + ".lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "another process"
    return f"pid {text}" if text.isdigit() else "another process"


class WriterLock:
    """An asyncio- and process-safe exclusive lock for one store file.

    Args:
        store_path: The SQLite file.
        timeout: Seconds to wait for another holder before failing.
    """

    def __init__(self, store_path: Path, timeout: float) -> None:
        self._path = lock_path(store_path)
        self._store = store_path
        self._timeout = timeout
        self._locals: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _local(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop not in self._locals:
            self._locals = {k: v for k, v in self._locals.items() if not k.is_closed()}
            self._locals[loop] = asyncio.Lock()
        return self._locals[loop]

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the lock for the block; waits for other holders (this process first)."""
        async with self._local():
            fd = await asyncio.to_thread(self._open)
            try:
                await self._acquire(fd)
                try:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    @contextmanager
    def hold_sync(self) -> Iterator[None]:
        """Hold the lock in a worker thread (creating or migrating the file), blocking."""
        fd = self._open()
        try:
            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        msg = (
                            f"another writer ({_holder(fd)}) holds the embedded store "
                            f"{self._store} for longer than {self._timeout:.0f} s; retry later"
                        )
                        raise StoreUnavailableError(msg) from None
                    time.sleep(_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _open(self) -> int:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            msg = (
                f"cannot open the writer lock {self._path} of the embedded store ({exc}); "
                "check that its folder is writable"
            )
            raise StoreUnavailableError(msg) from exc

    async def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self._timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holder = _holder(fd)
            if not announced:
                logger.warning(
                    "another writer (%s) is writing to %s; waiting up to %.0f s for it",
                    holder, self._store, self._timeout,
                )  # fmt: skip
                announced = True
            if time.monotonic() >= deadline:
                msg = (
                    f"another writer ({holder}) still holds the embedded store {self._store} "
                    f"after {self._timeout:.0f} s; wait for it to finish (or stop it) and "
                    "retry, or raise GRAPHRAG_EMBEDDED__WRITER_TIMEOUT"
                )
                raise StoreUnavailableError(msg)
            await asyncio.sleep(_POLL_S)
