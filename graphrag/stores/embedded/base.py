"""Plumbing of the embedded store: connections, threads, caches, lifecycle.

Blocking work runs in worker threads (``asyncio.to_thread``): one write connection guarded
by a lock, and one read connection per thread (WAL readers never block the writer).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from graphrag.errors import StoreError, StoreQueryError, StoreUnavailableError
from graphrag.stores.embedded import schema
from graphrag.stores.embedded.index import GraphIndex, VectorMatrix
from graphrag.stores.embedded.lock import WriterLock

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

VectorTarget = str


class _Cache:
    """One lazily built value, valid for one write counter."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key = -1
        self.value: Any = None


class SQLiteStoreBase:
    """Connections, caches and lifecycle shared by the embedded store's method groups.

    Args:
        path: The SQLite file (created with its parent folders by :meth:`ensure_schema`).
        writer_timeout: Seconds a writer waits for another process's writer lock.
    """

    def __init__(self, path: Path, *, writer_timeout: float = 600.0) -> None:
        self._path = Path(path)
        self._lock = WriterLock(self._path, writer_timeout)
        self._dim = 0
        self._version = 0
        self._writer: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._epoch = 0
        self._generation = 0
        self._caches: dict[str, _Cache] = {
            name: _Cache() for name in ("chunks", "entities", "keys", "communities", "graph")
        }

    # ------------------------------------------------------------------ plumbing

    @property
    def location(self) -> str:
        """The SQLite file path."""
        return str(self._path)

    @property
    def generation(self) -> int:
        """A counter bumped after every write by this instance (for caches)."""
        return self._generation

    def _require_open(self) -> sqlite3.Connection:
        if self._writer is None:
            msg = (
                f"the embedded store at {self._path} is not open; call "
                "`await store.ensure_schema(embedding_model=..., dim=...)` first"
            )
            raise StoreUnavailableError(msg)
        return self._writer

    def _reader(self) -> sqlite3.Connection:
        self._require_open()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "epoch", -1) != self._epoch:
            conn = schema.connect(self._path, read_only=True)
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn, self._local.epoch = conn, self._epoch
        return conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.DatabaseError) and schema.damaged(exc):
                raise schema.open_error(self._path, exc) from exc
            msg = f"{what} failed on the embedded store at {self._path}: {exc}"
            raise StoreQueryError(msg) from exc

    def _read(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self._errors(f"reading ({fn.__name__})"):
            return fn(self._reader(), *args, **kwargs)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _write(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self._write_lock:
            conn = self._require_open()
            try:
                return fn(conn, *args, **kwargs)
            finally:
                self._generation += 1

    def _counter(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'write_counter'").fetchone()
        return int(row[0])

    def _cached(self, name: str, build: Callable[[sqlite3.Connection], T]) -> T:
        """Return a cached index, rebuilding it from one snapshot if the data changed."""
        conn = self._reader()
        cache = self._caches[name]
        with self._errors(f"loading the {name} index"):
            key = self._counter(conn)
            if cache.key == key:
                return cache.value  # type: ignore[no-any-return]
            with cache.lock:
                if cache.key == key:
                    return cache.value  # type: ignore[no-any-return]
                conn.execute("BEGIN")
                try:
                    key = self._counter(conn)
                    value = build(conn)
                finally:
                    conn.execute("COMMIT")
                cache.key, cache.value = key, value
                logger.debug("rebuilt the %s index of %s (counter %d)", name, self._path, key)
                return value

    def _vectors(self, target: VectorTarget) -> VectorMatrix:
        if target not in ("chunks", "entities", "keys", "communities"):
            msg = f"unknown search target {target!r}; use 'chunks', 'entities' or 'communities'"
            raise StoreQueryError(msg)
        return self._cached(target, lambda conn: VectorMatrix.load(conn, target, self._dim))  # type: ignore[arg-type]

    def _graph(self) -> GraphIndex:
        return self._cached("graph", GraphIndex.load)

    # ------------------------------------------------------------------ lifecycle

    def _open(self, embedding_model: str, dim: int) -> None:
        with self._write_lock:
            opened = self._writer is None
            # read-only first: a foreign, damaged or mismatched file is refused unchanged
            state = schema.probe(self._path, embedding_model=embedding_model, dim=dim)
            if state == "current":
                self._connect_writer()
                self._version = schema.SCHEMA_VERSION
                self._dim = dim
                return
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = f"cannot create the folder of the embedded store {self._path}: {exc}"
                raise StoreUnavailableError(msg) from exc
            try:
                # creation and migration are serialised with other processes' writers
                with self._lock.hold_sync(), self._errors("creating the schema"):
                    self._connect_writer()
                    assert self._writer is not None
                    self._version = schema.ensure(
                        self._writer, self._path, embedding_model=embedding_model, dim=dim
                    )
            except BaseException:
                if opened:  # a failed first open leaves nothing behind; a failed re-check
                    self._close_all()  # keeps the store open with its original model
                raise
            self._dim = dim

    def _connect_writer(self) -> None:
        if self._writer is None:
            self._writer = schema.connect(self._path, read_only=False)

    async def ensure_schema(self, *, embedding_model: str, dim: int) -> None:
        """Open (creating if needed) the file and check the embedding model matches.

        Raises:
            SchemaError: If the file was built with another model, dimension or a newer
                schema, or is an SQLite file of something else.
            StoreUnavailableError: If the path is not an SQLite file or cannot be created.
        """
        await self._run(self._open, embedding_model, dim)

    def _close_all(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._epoch += 1
        for cache in self._caches.values():
            cache.key, cache.value = -1, None

    async def close(self) -> None:
        """Close every connection; :meth:`ensure_schema` opens the store again."""

        def _close() -> None:
            with self._write_lock:
                self._close_all()

        await self._run(_close)
