"""The embedded store's :class:`~graphrag.ports.ResolutionStore` methods."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from graphrag.models import DocumentGraph, Hit, Vector, WriteReport
from graphrag.resolution.models import KeyInfo, KeyLink, ResolutionChange
from graphrag.stores.embedded import keys, writes
from graphrag.stores.embedded.base import SQLiteStoreBase
from graphrag.stores.embedded.index import as_query_vector


class ResolutionMethods(SQLiteStoreBase):
    """Keys, links, dirty keys and pending documents (see :mod:`graphrag.resolution`)."""

    @asynccontextmanager
    async def writer_lock(self) -> AsyncIterator[None]:
        """Hold the store's writer lock (an OS lock beside the file; see :mod:`.lock`).

        Raises:
            StoreUnavailableError: If another process holds it past the timeout.
        """
        async with self._lock.hold():
            yield

    async def dirty_keys(self, limit: int) -> list[str]:
        """Return up to ``limit`` dirty keys (in key order)."""
        return await self._run(self._read, keys.dirty, limit)

    async def mark_dirty(self, keys_: Sequence[str]) -> None:
        """Mark known keys dirty."""
        await self._run(self._write, _txn, "marking keys dirty", keys.mark_dirty, list(keys_))

    async def clear_dirty(self, keys_: Sequence[str]) -> None:
        """Unmark keys."""
        await self._run(self._write, _txn, "clearing dirty keys", keys.clear_dirty, list(keys_))

    async def key_infos(self, keys_: Sequence[str]) -> list[KeyInfo]:
        """Return the known keys with support and surface counts, in the order given."""
        return await self._run(self._read, keys.infos, list(keys_))

    async def keys_by_norm(self, norms: Sequence[str]) -> dict[str, list[str]]:
        """Normalised name -> keys."""
        return await self._run(self._read, keys.by_norm, list(norms))

    async def keys_by_initials(self, initials: Sequence[str]) -> dict[str, list[str]]:
        """Acronym -> multi-word keys whose initials spell it."""
        return await self._run(self._read, keys.by_initials, list(initials))

    async def keys_of_entities(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Entity id -> the keys that resolve to it."""
        return await self._run(self._read, keys.of_entities, list(entity_ids))

    async def set_key_embeddings(self, vectors: Mapping[str, Vector]) -> None:
        """Store key name embeddings."""
        checked = {k: as_query_vector(v, self._dim) for k, v in vectors.items()}
        await self._run(self._write, _txn, "storing key embeddings", keys.set_embeddings, checked)

    def _similar(self, vectors: Vector, threshold: float, k: int) -> list[list[Hit]]:
        self._require_open()
        matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if not len(matrix):
            return []
        queries = np.stack([as_query_vector(v, self._dim) for v in matrix])
        return self._vectors("keys").search_threshold(queries, threshold, k)

    async def similar_keys(self, vectors: Vector, threshold: float, k: int) -> list[list[Hit]]:
        """Up to ``k`` keys per row with a cosine of at least ``threshold`` (exact search)."""
        return await self._run(self._similar, vectors, threshold, k)

    async def add_key_links(self, links: Sequence[KeyLink], linked: Sequence[str]) -> None:
        """Store links and mark keys linked, in one transaction."""
        await self._run(
            self._write, _txn, "storing key links", keys.add_links, list(links), list(linked)
        )

    async def key_links(self, keys_: Sequence[str]) -> list[KeyLink]:
        """Links touching any of the keys."""
        return await self._run(self._read, keys.links, list(keys_))

    async def shared_documents(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Pairs of keys mentioned in a common document."""
        return await self._run(self._read, keys.shared, list(pairs))

    async def documents_of_keys(self, keys_: Sequence[str]) -> list[str]:
        """Documents whose chunks mention any of the keys."""
        return await self._run(self._read, keys.documents_of, list(keys_))

    async def apply_resolution(self, change: ResolutionChange) -> int:
        """Apply a resolution pass in one transaction; return the new merge records."""
        return await self._run(self._write, _apply, change)

    async def pending_documents(self, limit: int) -> list[str]:
        """Up to ``limit`` documents waiting to be derived again."""
        return await self._run(self._read, keys.pending, limit)

    async def rederive_documents(
        self, graphs: Sequence[DocumentGraph], *, replace: bool = True, finish: bool = True
    ) -> WriteReport:
        """Replace the mentions and relations of stored documents, in one transaction.

        ``replace``/``finish``: the first and last part of a document derived in parts.
        """
        self._require_open()
        return await self._run(
            self._write, writes.rederive, list(graphs), self._dim, replace=replace, finish=finish
        )


def _txn(conn: sqlite3.Connection, what: str, fn: Callable[..., None], *args: Any) -> None:
    with writes.transaction(conn, what):
        fn(conn, *args)


def _apply(conn: sqlite3.Connection, change: ResolutionChange) -> int:
    with writes.transaction(conn, "applying entity resolution"):
        return keys.apply(conn, change)
