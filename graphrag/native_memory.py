"""Hand freed native memory back to the operating system (glibc only).

Model inference (MiniLM through torch) allocates and frees large native buffers; glibc keeps
freed memory for reuse, so a long ingest grows, and the spaCy workers forked for each batch
start from the grown process. :func:`trim_on_free` makes glibc return freed memory at once
(what ``MALLOC_TRIM_THRESHOLD_=0`` does) and :func:`release_free_memory` returns what is
already free. Elsewhere (macOS, musl) both do nothing and return ``False``; they never raise.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys
import threading
import time

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
"""``mallopt`` parameter of the trim threshold (``#define M_TRIM_THRESHOLD -1``, malloc.h)."""

ENV_VAR = "MALLOC_TRIM_THRESHOLD_"
"""glibc's own environment variable for the threshold; when set, it is left alone."""

_LOCK = threading.Lock()
_configured: list[bool] = []  # the first call's outcome, reused by later calls


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The running process's C library if it is glibc, with typed ``mallopt``/``malloc_trim``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded in this process, libc included
        glibc = hasattr(libc, "gnu_get_libc_version")  # musl has no such function
        if not (glibc and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
            return None
    except OSError:  # pragma: no cover - dlopen(NULL) does not fail on Linux
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def trim_on_free() -> bool:
    """Make glibc return freed memory to the system at once (``M_TRIM_THRESHOLD`` 0).

    Done once per process (a forked child inherits it); later calls return the first
    call's outcome. Left alone when the user set ``MALLOC_TRIM_THRESHOLD_``.

    Returns:
        Whether the threshold is 0 by this function: ``False`` without glibc, when the
        environment variable is set, or when ``mallopt`` refused.
    """
    with _LOCK:
        if not _configured:
            _configured.append(_set_threshold())
        return _configured[0]


def _set_threshold() -> bool:
    if ENV_VAR in os.environ:
        logger.debug("%s is set (%r): allocator left as configured", ENV_VAR, os.environ[ENV_VAR])
        return False
    libc = _glibc()
    if libc is None:
        logger.debug("not glibc: the allocator's trim threshold is left as it is")
        return False
    done = int(libc.mallopt(M_TRIM_THRESHOLD, 0)) == 1  # mallopt returns 1 on success
    logger.debug("mallopt(M_TRIM_THRESHOLD, 0): %s", "done" if done else "refused")
    return done


def release_free_memory() -> bool:
    """Return the memory glibc holds free to the system (``malloc_trim(0)``).

    Returns:
        Whether ``malloc_trim`` was called (``False`` without glibc).
    """
    libc = _glibc()
    if libc is None:
        return False
    start = time.perf_counter()
    released = libc.malloc_trim(0)  # 1 when some memory was returned
    elapsed = (time.perf_counter() - start) * 1000
    logger.debug("malloc_trim(0) in %.1f ms: %s", elapsed, "released" if released else "nothing")
    return True
