"""The ArangoDB store's :class:`~graphrag.ports.ResolutionStore` methods.

The resolution state lives in plain collections (see :mod:`.names`). Writers are serialised
by a lease in ``locks/writer``, timed by the server's clock: taken with
``acquire_writer_lock.aql`` when free (two writers racing for it collide; the loser gets a
conflict and retries), extended by every write transaction of the holder
(``fence_writer_lock.aql``, which also makes the transaction fail if the lease was lost) and
by a renewal every third of its time to live between transactions, and released at the end;
a crashed holder's lease expires after :data:`LEASE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from arango.database import StandardDatabase, TransactionDatabase
from arango.exceptions import AQLQueryExecuteError

from graphrag.config import ArangoSettings
from graphrag.errors import StoreError, StoreQueryError, StoreUnavailableError
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Hit,
    Vector,
    WriteReport,
)
from graphrag.resolution.models import KeyInfo, KeyLink, ResolutionChange
from graphrag.stores.arango import mapping as m
from graphrag.stores.arango.batch import plan_batch
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.errors import ERR_CONFLICT, ERR_UNIQUE_CONSTRAINT, server_error_code
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.search import VectorSearch
from graphrag.stores.arango.writes import Fence, in_transaction, write_one

logger = logging.getLogger(__name__)

T = TypeVar("T")

LEASE_SECONDS = 60.0
POLL_SECONDS = 0.5
CHUNK = 5000
"""Items per query for long key lists."""


def _parts(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] if items else []


class ArangoResolution:
    """Keys, links, the resolution queue and pending documents on ArangoDB."""

    _conn: ArangoConnection
    _queries: Queries
    _settings: ArangoSettings
    _vectors: VectorSearch

    async def _require_dim(self) -> int:
        raise NotImplementedError  # pragma: no cover - provided by the store

    # ------------------------------------------------------------------ writer lease

    def _init_lease(self) -> None:
        self._lease: str | None = None
        self._lease_lost = False
        self._lease_mutex = threading.Lock()

    def _fence(self) -> Fence | None:
        """The lease check a write transaction of the holder runs first (``None``: no lease)."""
        owner = self._lease
        if owner is None:
            return None
        ttl = int(LEASE_SECONDS * 1000)

        def fence(txn: TransactionDatabase) -> None:
            if not self._queries.fence_writer_lock(txn, owner, ttl):
                self._lease_lost = True
                msg = (
                    "the writer lease of this process expired and another writer took the "
                    "ArangoDB store (was the process paused?); nothing of this write was "
                    "committed: run the command again"
                )
                raise StoreUnavailableError(msg)

        return fence

    @asynccontextmanager
    async def writer_lock(self) -> AsyncIterator[None]:
        """Hold the writer lease for the block (waits up to ``settings.writer_timeout``).

        Every write transaction of the block first proves the lease is still held (and
        extends it), so a writer that lost it commits nothing; a background task renews it
        between transactions.

        Raises:
            StoreUnavailableError: If another writer holds it past the timeout, or the lease
                was lost during the block.
        """
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        await self._acquire(owner)
        self._lease, self._lease_lost = owner, False
        renew = asyncio.create_task(self._renew(owner))
        try:
            yield
        finally:
            renew.cancel()
            await asyncio.gather(renew, return_exceptions=True)
            self._lease = None
            try:
                await self._conn.run(
                    "releasing the writer lease",
                    lambda db: self._queries.release_writer_lock(db, owner),
                )
            except StoreError as exc:  # the lease expires on its own
                logger.warning("could not release the writer lease %s: %s", owner, exc)
        if self._lease_lost:
            msg = (
                "the writer lease of this process was lost while writing (another writer "
                "took the ArangoDB store); run the command again to finish"
            )
            raise StoreUnavailableError(msg)

    def _attempt(self, db: StandardDatabase, owner: str) -> str | None:
        """One try at the lease; ``None`` when a racer got it first (conflict 1200/1210)."""
        try:
            row = self._queries.acquire_writer_lock(db, owner, int(LEASE_SECONDS * 1000))
        except AQLQueryExecuteError as exc:
            if server_error_code(exc) in (ERR_CONFLICT, ERR_UNIQUE_CONSTRAINT):
                return None
            raise
        return str((row or {}).get("owner") or "")

    async def _acquire(self, owner: str) -> None:
        deadline = time.monotonic() + self._settings.writer_timeout
        announced = False
        while True:
            holder = await self._conn.run(
                "taking the writer lease", lambda db: self._attempt(db, owner)
            )
            if holder == owner:
                return
            if not announced:
                logger.warning(
                    "another writer (%s) holds the ArangoDB store; waiting up to %.0f s",
                    holder or "unknown", self._settings.writer_timeout,
                )  # fmt: skip
                announced = True
            if time.monotonic() >= deadline:
                msg = (
                    f"another writer ({holder or 'unknown'}) still holds the ArangoDB store "
                    f"after {self._settings.writer_timeout:.0f} s; wait for it to finish, or "
                    "raise GRAPHRAG_ARANGO__WRITER_TIMEOUT (a crashed writer's lease expires "
                    f"after {LEASE_SECONDS:.0f} s)"
                )
                raise StoreUnavailableError(msg)
            await asyncio.sleep(POLL_SECONDS)

    def _renew_once(self, db: StandardDatabase, owner: str) -> None:
        # a running transaction of this process fences (and extends) the lease itself;
        # renewing meanwhile would conflict with it, so skip this round
        if not self._lease_mutex.acquire(blocking=False):
            return
        try:
            if self._attempt(db, owner) not in (owner, None):
                self._lease_lost = True
        finally:
            self._lease_mutex.release()

    async def _renew(self, owner: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self._conn.run(
                    "renewing the writer lease", lambda db: self._renew_once(db, owner)
                )
            except StoreError as exc:  # a blip: the next round or a transaction renews it
                logger.warning("renewing the writer lease failed (%s); retrying", exc)
            if self._lease_lost:
                logger.error("the writer lease of %s was taken by another writer", owner)
                return

    def _in_lease(self, db: StandardDatabase, write: Callable[[StandardDatabase], T]) -> T:
        """Run a write transaction while no lease renewal runs (see :meth:`_renew_once`)."""
        with self._lease_mutex:
            return write(db)

    # ------------------------------------------------------------------ keys

    async def _read(self, what: str, fn: Any) -> Any:
        return await self._conn.run(what, fn, idempotent=True)

    async def dirty_keys(self, limit: int) -> list[str]:
        """Up to ``limit`` queued keys, in key order."""
        return list(
            await self._read(
                "listing keys to resolve", lambda db: self._queries.list_dirty_keys(db, limit)
            )
        )

    async def mark_dirty(self, keys: Sequence[str]) -> None:
        """Queue known keys."""
        wanted = m.valid_keys(keys)
        if wanted:
            await self._conn.run(
                "queueing keys", lambda db: self._queries.mark_keys_dirty(db, wanted)
            )

    async def clear_dirty(self, keys: Sequence[str]) -> None:
        """Take keys off the queue."""
        for part in _parts(m.valid_keys(keys)):
            await self._conn.run(
                "clearing resolved keys",
                lambda db, p=part: self._queries.clear_dirty_keys(db, p),  # type: ignore[misc]
            )

    async def key_infos(self, keys: Sequence[str]) -> list[KeyInfo]:
        """Known keys with support and surface counts, in the order given."""
        found: dict[str, KeyInfo] = {}
        for part in _parts(m.valid_keys(keys), 1000):
            rows = await self._read(
                "reading keys",
                lambda db, p=part: self._queries.get_key_infos(db, p),
            )
            found.update({r["key"]: m.doc_to_key_info(r) for r in rows})
        return m.in_order(list(keys), found)

    async def _grouped(self, by: str, values: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in _parts([v for v in dict.fromkeys(values) if v]):
            rows = await self._read(
                f"finding keys by {by}",
                lambda db, p=part: self._queries.find_keys(db, by, p),
            )
            out.update({str(r["value"]): [str(k) for k in r["keys"]] for r in rows})
        return out

    async def keys_by_norm(self, norms: Sequence[str]) -> dict[str, list[str]]:
        """Normalised name -> keys."""
        return await self._grouped("norm", norms)

    async def keys_by_initials(self, initials: Sequence[str]) -> dict[str, list[str]]:
        """Acronym -> multi-word keys whose initials spell it."""
        return await self._grouped("initials", initials)

    async def keys_of_entities(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Entity id -> the keys that resolve to it."""
        return await self._grouped("entity_id", entity_ids)

    async def set_key_embeddings(self, vectors: Mapping[str, Vector]) -> None:
        """Store key name embeddings."""
        dim = await self._require_dim()
        items = [{"key": k, "embedding": m.query_vector(v, dim)} for k, v in vectors.items()]
        for part in _parts(items, self._settings.batch_size):
            await self._conn.run(
                "storing key embeddings",
                lambda db, p=part: self._queries.set_key_embeddings(db, p),  # type: ignore[misc]
            )

    async def similar_keys(self, vectors: Vector, threshold: float, k: int) -> list[list[Hit]]:
        """Up to ``k`` keys per row with a cosine of at least ``threshold``.

        An exact scan (as the embedded store), unless ``approximate_name_links`` is set and
        the keys' vector index is trained.
        """
        dim = await self._require_dim()
        queries = [m.query_vector(v, dim) for v in vectors]
        out: list[list[Hit]] = []
        for part in _parts(queries, self._settings.batch_size):

            def run(db: StandardDatabase, part: Sequence[list[float]] = part) -> Any:
                return self._vectors.similar_keys(
                    db, list(part), k, threshold,
                    approximate=self._settings.approximate_name_links,
                )  # fmt: skip

            out.extend(m.hits(r) for r in await self._read("searching similar names", run))
        return out

    async def add_key_links(self, links: Sequence[KeyLink], linked: Sequence[str]) -> None:
        """Store links and mark keys linked (one query)."""
        docs = [m.link_doc(link) for link in links]
        await self._conn.run(
            "storing key links",
            lambda db: self._queries.add_key_links(db, docs, m.valid_keys(linked)),
        )

    async def key_links(self, keys: Sequence[str]) -> list[KeyLink]:
        """Links touching any of the keys."""
        found: dict[tuple[str, str], KeyLink] = {}
        for part in _parts(m.valid_keys(keys)):
            rows = await self._read(
                "reading key links",
                lambda db, p=part: self._queries.list_key_links(db, p),
            )
            for r in rows:
                found[(r["a"], r["b"])] = KeyLink(a=r["a"], b=r["b"], score=float(r["score"]))
        return [found[k] for k in sorted(found)]

    async def shared_documents(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Pairs of keys mentioned in a common document."""
        if not pairs:
            return set()
        rows = await self._read(
            "checking shared documents",
            lambda db: self._queries.find_shared_documents(db, pairs),
        )
        return {(str(a), str(b)) for a, b in rows}

    async def documents_of_keys(self, keys: Sequence[str]) -> list[str]:
        """Documents whose chunks mention any of the keys."""
        found: set[str] = set()
        for part in _parts(m.valid_keys(keys)):
            found.update(
                await self._read(
                    "finding documents of keys",
                    lambda db, p=part: self._queries.list_documents_of_keys(db, p),
                )
            )
        return sorted(found)

    async def pending_documents(self, limit: int) -> list[str]:
        """Up to ``limit`` documents waiting to be derived again."""
        return list(
            await self._read(
                "listing pending documents",
                lambda db: self._queries.list_pending_documents(db, limit),
            )
        )

    # ------------------------------------------------------------------ passes

    async def apply_resolution(self, change: ResolutionChange) -> int:
        """Apply a resolution pass in one stream transaction; return the new merge records."""
        assignments = [{"key": k, "entity_id": e} for k, e in change.assignments.items()]
        merges = [m.merge_to_doc(r) for r in change.merges]
        patches = [m.entity_patch(e) for e in change.entities]

        def work(txn: TransactionDatabase) -> int:
            q = self._queries
            for part in _parts(assignments):
                q.set_key_entities(txn, part)
            for part in _parts(change.removed):
                q.remove_keys(txn, part)
            active = {k for part in _parts(change.region) for k in q.list_active_merges(txn, part)}
            keep = {d["_key"] for d in merges}
            for part in _parts(sorted(active - keep)):
                q.remove_merges(txn, part)
            for part in _parts(merges, self._settings.batch_size):
                q.upsert_merges(txn, part)
            for part in _parts(patches, self._settings.batch_size):
                q.refresh_entities(txn, part)
            for part in _parts(change.documents):
                q.mark_documents_pending(txn, part)
            return len(keep - active)

        fence = self._fence()
        return await self._conn.run(
            "applying entity resolution",
            lambda db: self._in_lease(
                db, lambda d: in_transaction(d, work, fence, what="applying entity resolution")
            ),
        )

    async def rederive_documents(
        self, graphs: Sequence[DocumentGraph], *, replace: bool = True, finish: bool = True
    ) -> WriteReport:
        """Replace the mentions and relations of stored documents, in one transaction.

        Documents are handled one after the other (as the embedded store does); one that no
        longer exists is skipped; one whose chunks differ from the stored ones is refused.
        ``replace``/``finish``: the first and last part of a document derived in parts.
        """
        if not graphs:
            return WriteReport()
        dim = await self._require_dim()
        plans = [plan_batch([g], dim, rederive=True) for g in graphs]
        for plan in plans:
            plan.retract, plan.finish = replace, finish
        chunks = {g.document.id: {c.id for c in g.chunks} for g in graphs}
        size, fence, whole = self._settings.batch_size, self._fence(), replace and finish

        def work(txn: TransactionDatabase) -> WriteReport:
            if fence is not None:
                fence(txn)
            keys = list(chunks)
            present = set(self._queries.list_existing_documents(txn, keys))
            stored: dict[str, set[str]] = {}
            for doc, chunk in self._queries.list_document_chunks(txn, keys):
                stored.setdefault(doc, set()).add(chunk)
            total = WriteReport()
            for plan, graph in zip(plans, graphs, strict=True):
                doc_id = graph.document.id
                if doc_id not in present:
                    continue
                have, given = stored.get(doc_id, set()), chunks[doc_id]
                if (whole and have != given) or not given <= have:
                    raise _differ(graph)
                for name, value in write_one(txn, self._queries, plan, size):
                    setattr(total, name, getattr(total, name) + value)
            return total

        return await self._conn.run(
            f"deriving {len(plans)} documents again",
            lambda db: self._in_lease(
                db, lambda d: in_transaction(d, work, what=f"deriving {len(plans)} documents")
            ),
        )

    async def append_chunks(
        self, document: Document, chunks: Sequence[Chunk], *, first: bool, last: bool
    ) -> WriteReport:
        """Write one part of a large document's raw facts (one stream transaction).

        Raises:
            StoreQueryError: If the part is invalid or no earlier part is being written.
        """
        dim = await self._require_dim()
        graph = DocumentGraph(document=document, chunks=list(chunks))
        plan = plan_batch([graph], dim, derived=False)
        plan.retract = first
        if first:
            plan.documents = [
                m.document_to_doc(document, status=DocumentStatus.PROCESSING, chunk_count=0,
                                  error=None, derived=False)
            ]  # fmt: skip
        else:
            plan.documents = []
        size, fence = self._settings.batch_size, self._fence()

        def work(txn: TransactionDatabase) -> WriteReport:
            if fence is not None:
                fence(txn)
            if not first:
                rows = self._queries.get_documents(txn, [document.id])
                if not rows or rows[0].get("status") != str(DocumentStatus.PROCESSING):
                    msg = (
                        f"part of document {document.source!r} was not written: no earlier "
                        "part of it is being written; write it from its start"
                    )
                    raise StoreQueryError(msg)
            report = write_one(txn, self._queries, plan, size)
            if last:
                self._queries.finish_document(txn, document.id, document.chunk_count, m.now_text())
            report.documents = int(last)
            return report

        return await self._conn.run(
            f"writing part of document {document.id}",
            lambda db: self._in_lease(
                db, lambda d: in_transaction(d, work, what=f"writing part of {document.id}")
            ),
        )


def _differ(graph: DocumentGraph) -> StoreQueryError:
    msg = (
        f"document {graph.document.source!r} was not derived again: its chunks differ from "
        "the stored ones; write the document again"
    )
    return StoreQueryError(msg)
