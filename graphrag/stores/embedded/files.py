"""The files of an embedded store: whether it exists, which file it is, removing it.

A store is its SQLite file plus SQLite's ``-wal``, ``-shm`` (and, after a crash in another
journal mode, ``-journal``) files and the writer lock beside it (:mod:`.lock`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from graphrag.errors import StoreUnavailableError
from graphrag.stores.embedded.lock import WriterLock, lock_path

logger = logging.getLogger(__name__)

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def store_exists(path: Path) -> bool:
    """Whether a store file is there (an empty file counts as missing, as when opening)."""
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def store_identity(path: Path) -> tuple[int, int] | None:
    """The file's ``(device, inode)``, or ``None`` if there is none.

    A store deleted and created again (by another process) gets a new identity, so a
    process holding the old one open can tell that it must reopen.
    """
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def store_files(path: Path) -> list[Path]:
    """Every file that belongs to the store at ``path``, lock file last."""
    return [path, *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES), lock_path(path)]


def remove_store(path: Path, *, timeout: float) -> list[Path]:
    """Delete a store's files once no writer holds it (blocking; run it in a thread).

    The writer lock is taken first, so a store is never removed under a running ingest;
    readers of other processes that still have it open keep reading the removed file until
    they close it.

    Args:
        path: The SQLite file.
        timeout: Seconds to wait for a writer of another process to finish.

    Returns:
        The files removed.

    Raises:
        StoreUnavailableError: If a writer holds the store past ``timeout``, or a file
            cannot be removed.
    """
    removed: list[Path] = []
    with WriterLock(path, timeout).hold_sync():
        for file in store_files(path)[:-1]:
            removed.extend(_unlink(file))
    removed.extend(_unlink(lock_path(path)))
    logger.info("removed the embedded store %s (%d files)", path, len(removed))
    return removed


def _unlink(file: Path) -> list[Path]:
    try:
        file.unlink()
    except FileNotFoundError:
        return []
    except OSError as exc:
        msg = f"cannot remove {file} of the embedded store ({exc}); check its permissions"
        raise StoreUnavailableError(msg) from exc
    return [file]
