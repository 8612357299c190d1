"""Reading input files safely and saying exactly what is wrong with the ones that fail.

Named pipes, sockets, devices, dangling symbolic links and link loops each get their own
reason (never "file not found"). Files are opened non-blocking, so a path that turns into a
named pipe between discovery and loading is refused instead of blocking the ingest forever.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from graphrag.errors import IngestError

_KINDS: tuple[tuple[int, str], ...] = (
    (stat.S_IFIFO, "a named pipe (FIFO)"),
    (stat.S_IFSOCK, "a socket"),
    (stat.S_IFCHR, "a character device"),
    (stat.S_IFBLK, "a block device"),
)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def kind_reason(mode: int) -> str | None:
    """Return why a file of this ``st_mode`` cannot be loaded, or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file; pass the files inside it or use discovery"
    kind = next((name for flag, name in _KINDS if stat.S_IFMT(mode) == flag), "a special file")
    return f"is {kind}, not a regular file; only regular files can be ingested"


def access_reason(path: Path, exc: OSError) -> str:
    """Return a one-line reason for an ``OSError`` raised while opening or stating ``path``."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself); fix or remove the link"
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return f"dangling symbolic link to {_link_target(path)}; fix or remove the link"
        return "file not found; check the path"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot read file ({exc.strerror or exc}); check its permissions"
    if exc.errno == errno.ENXIO:  # opening a socket
        try:
            reason = kind_reason(path.stat().st_mode)
        except OSError:
            reason = None
        if reason is not None:
            return reason
    return f"cannot access file ({exc.strerror or exc}); check the path and its permissions"


def file_problem(path: Path) -> str | None:
    """Return why ``path`` (links followed) is not a loadable regular file, or ``None``."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return access_reason(path, exc)
    return kind_reason(mode)


def read_regular_file(path: Path, max_bytes: int, *, check_ext: str | None = None) -> bytes:
    """Read a regular file of at most ``max_bytes`` bytes without ever blocking on it.

    Args:
        path: The file (reported as given).
        max_bytes: Size limit.
        check_ext: An error reason to raise after the file-kind checks and before reading
            (an unsupported extension), or ``None``.

    Returns:
        The file's bytes (never empty).

    Raises:
        IngestError: If the file cannot be opened, is not a regular file, is too large,
            is empty, or ``check_ext`` is set.
    """
    where = str(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise IngestError(where, access_reason(path, exc)) from exc
    try:
        info = os.fstat(fd)
        reason = kind_reason(info.st_mode) or check_ext
        if reason is not None:
            raise IngestError(where, reason)
        if info.st_size > max_bytes:
            raise IngestError(where, _too_large(info.st_size, max_bytes))
        data = _read_fd(where, fd, max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise IngestError(where, _too_large(len(data), max_bytes))
    if not data:
        raise IngestError(where, "empty file (0 bytes); nothing to ingest")
    return data


def _read_fd(where: str, fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = os.read(fd, min(limit - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc}); check its permissions"
        raise IngestError(where, reason) from exc
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"file is {size} bytes, over the limit of {limit} bytes; split the file or raise "
        "GRAPHRAG_INGEST__MAX_FILE_BYTES"
    )


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "a missing file"
