"""``ArangoGraphStore``: the :class:`~graphrag.ports.GraphStore` on ArangoDB 3.12.

Every store operation is one AQL file of ``aql/`` (or one stream transaction of a few) run
through python-arango in a worker thread. Search uses the IVF vector indexes built by
:meth:`ArangoGraphStore.build_vector_indexes` when they are usable, else exact
``COSINE_SIMILARITY`` scans; BM25 goes through the ``chunks_view`` search-alias view; local
and hybrid retrieval is one round trip (:meth:`ArangoGraphStore.candidates`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from arango.database import StandardDatabase

from graphrag.config import ArangoSettings
from graphrag.errors import NotFoundError, StoreQueryError
from graphrag.models import (
    DeleteReport,
    Document,
    DocumentGraph,
    DocumentStatus,
    MergeRecord,
    Relation,
    StoreStats,
    WriteReport,
)
from graphrag.stores.arango import mapping as m
from graphrag.stores.arango import schema
from graphrag.stores.arango.analysis import ArangoAnalysis
from graphrag.stores.arango.batch import first_unknown, plan_batch, validate_in_order
from graphrag.stores.arango.connection import SYSTEM_DATABASE, ArangoConnection
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.reads import ArangoReads
from graphrag.stores.arango.records import ArangoRecords
from graphrag.stores.arango.resolution import ArangoResolution
from graphrag.stores.arango.search import VectorSearch
from graphrag.stores.arango.writes import delete_document, write_plan

logger = logging.getLogger(__name__)

ALL_ROWS = 1_000_000_000
"""LIMIT used when the caller wants every row."""


class ArangoGraphStore(ArangoReads, ArangoRecords, ArangoResolution, ArangoAnalysis):
    """The graph store on ArangoDB (see docs/arango.md).

    Example:
        ```python
        async def load(settings: Settings, graphs: list[DocumentGraph], embedder: Embedder) -> None:
            store = ArangoGraphStore.from_settings(settings.arango)
            await store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
            await store.upsert_documents(graphs)
            await store.finalize_load()  # (re)build the vector indexes after a large load
            print(await store.keyword_search("radium institute", k=5))
            await store.close()
        ```

    Args:
        settings: The connection settings (validated, nothing is contacted here).
        queries: The AQL queries (default: the files of ``aql/``).
        wait_for_sync: Tests only: BM25 waits for ``chunks_view`` to commit earlier writes
            (``waitForSync``, which the ArangoSearch docs say can stall queries).

    Raises:
        ConfigError: If the URL is missing or malformed.
    """

    def __init__(
        self,
        settings: ArangoSettings,
        *,
        queries: Queries | None = None,
        wait_for_sync: bool = False,
    ) -> None:
        self._settings = settings
        self._conn = ArangoConnection(settings)
        self._queries = queries or Queries()
        self._dim = 0
        self._schema_version = 0
        self._vectors = VectorSearch(
            self._queries, settings.n_probe, self.location, wait_for_sync=wait_for_sync
        )
        self._init_lease()

    @classmethod
    def from_settings(cls, settings: ArangoSettings) -> ArangoGraphStore:
        """Build a store from ``settings.arango`` (no I/O)."""
        return cls(settings)

    @property
    def location(self) -> str:
        """``arango:<url>/<database>`` (no credentials)."""
        return f"arango:{self._conn.url}/{self._settings.database}"

    @property
    def settings(self) -> ArangoSettings:
        """The connection settings."""
        return self._settings

    # ------------------------------------------------------------------ lifecycle

    def _ensure(self, db: StandardDatabase, embedding_model: str, dim: int) -> dict[str, Any]:
        user = self._conn.username(admin=True)

        def create() -> None:
            sys_db = self._conn.db(admin=True, database=SYSTEM_DATABASE)
            schema.create_database(sys_db, self._settings.database, where=self._conn.url, user=user)

        version = schema.server_version(db, create)
        return schema.ensure_objects(
            db,
            self._settings,
            embedding_model=embedding_model,
            dim=dim,
            where=self.location,
            version=version,
        )

    async def ensure_schema(self, *, embedding_model: str, dim: int) -> None:
        """Create what is missing (database, collections, graph, indexes, view, meta).

        Runs as the admin user (``admin_username``, else ``username``); against a complete
        schema it only reads, so a read-only user may call it.

        Raises:
            SchemaError: On a server older than 3.12.6, another embedding model or
                dimension, or a newer schema version.
            StoreAuthError: If the user may not create what is missing.
            StoreUnavailableError: If the server cannot be reached.
        """
        meta = await self._conn.run(
            "ensuring the schema",
            lambda db: self._ensure(db, embedding_model, dim),
            admin=True,
            idempotent=True,
        )
        self._dim = dim
        self._schema_version = int(meta.get("version", 0))
        self._vectors.reset()

    async def _require_dim(self) -> int:
        if not self._dim:
            meta = await self._conn.run(
                "reading the schema",
                lambda db: schema.require_meta(db, self.location),
                idempotent=True,
            )
            self._dim = int(meta.get("dim", 0))
            self._schema_version = int(meta.get("version", 0))
        return self._dim

    async def close(self) -> None:
        """Close the HTTP sessions (the store reconnects on next use)."""
        self._conn.close()

    async def stats(self) -> StoreStats:
        """Return object counts."""
        await self._require_dim()
        row = await self._conn.run("counting objects", self._queries.stats, idempotent=True)
        return StoreStats(
            backend="arango",
            location=self.location,
            schema_version=self._schema_version,
            **{k: int(v or 0) for k, v in row.items()},
        )

    async def build_vector_indexes(
        self, *, min_documents: int = schema.DEFAULT_MIN_VECTOR_DOCUMENTS
    ) -> dict[str, Any]:
        """Rebuild the vector indexes of chunks, entities and keys (build, then swap).

        Run after large loads (IVF centroids are trained on the data present). Each new
        index is built in the background and replaces the previous one once trained; until
        then searches keep using the previous one. Collections
        with fewer than ``min_documents`` embeddings, or a server without
        ``--vector-index``, get no index: search then scans exactly. Needs the admin user.

        Returns:
            Per collection ``{usable, documents, n_lists, reason}`` and ``vector_feature``.
        """
        dim = await self._require_dim()
        report = await self._conn.run(
            "building vector indexes",
            lambda db: schema.build_vector_indexes(
                db,
                self._queries,
                self._settings,
                dim=dim,
                min_documents=min_documents,
                build_timeout=self._settings.vector_build_timeout,
            ),
            admin=True,
        )
        self._vectors.reset()
        return report

    async def finalize_load(self) -> None:
        """Finish a bulk load (migration, large ingest): rebuild the vector indexes."""
        await self.build_vector_indexes()

    # ------------------------------------------------------------------ documents

    async def get_document(self, document_id: str) -> Document | None:
        """Return a document by id, or ``None``."""
        found = await self.get_documents([document_id])
        return found[0] if found else None

    async def get_documents(self, ids: Sequence[str]) -> list[Document]:
        """Return the documents that exist among ``ids``, in the order given."""
        keys = m.valid_keys(ids)
        if not keys:
            return []
        rows = await self._conn.run(
            "reading documents", lambda db: self._queries.get_documents(db, keys), idempotent=True
        )
        found = {r["_key"]: m.doc_to_document(r) for r in rows}
        return m.in_order(list(dict.fromkeys(ids)), found)

    async def list_documents(
        self, *, status: DocumentStatus | None = None, limit: int | None = None
    ) -> list[Document]:
        """Return documents, newest first, optionally by status."""
        wanted = None if status is None else str(status)
        count = ALL_ROWS if limit is None else max(limit, 0)
        rows = await self._conn.run(
            "listing documents",
            lambda db: self._queries.list_documents(db, wanted, count),
            idempotent=True,
        )
        return [m.doc_to_document(r) for r in rows]

    async def _accept(
        self, graphs: list[DocumentGraph], dim: int, *, check_entities: bool = True
    ) -> tuple[list[DocumentGraph], tuple[int, StoreQueryError] | None]:
        """Validate graphs in order; return the valid prefix and the first failure.

        Entities that graphs reference without listing them must be stored, unless only the
        raw facts are written (``check_entities`` false: no mention is written).
        """
        external, failure = validate_in_order(graphs, dim)
        wanted = sorted(set().union(*external)) if external and check_entities else []
        missing: list[str] = []
        if wanted:
            missing = await self._conn.run(
                "checking referenced entities",
                lambda db: self._queries.missing_entities(db, wanted),
                idempotent=True,
            )
        unknown = first_unknown(graphs, external, set(missing))
        if unknown is not None:
            return graphs[: unknown[0]], unknown
        return graphs[: len(external)], failure

    async def upsert_documents(
        self, graphs: Sequence[DocumentGraph], *, derived: bool = True
    ) -> WriteReport:
        """Write documents and what they contribute, replacing documents that exist.

        Graphs are validated in order; the first invalid one stops the batch and the valid
        ones before it are written (as in the embedded store). They are written in stream
        transactions of ``settings.batch_size`` documents; a transaction is atomic (any
        error aborts it: nothing of it stays). With ``derived=False`` only the documents,
        chunks (with extractions) and key counts are written; the documents are pending.

        Raises:
            StoreQueryError: Naming the document that is invalid and why, or the server error.
        """
        if not graphs:
            return WriteReport()
        dim = await self._require_dim()
        accepted, failure = await self._accept(list(graphs), dim, check_entities=derived)
        size = self._settings.batch_size
        total = WriteReport()
        for start in range(0, len(accepted), size):
            plan = plan_batch(accepted[start : start + size], dim, derived=derived)
            report = await self._conn.run(
                f"writing {len(plan.doc_keys)} documents",
                lambda db, p=plan: self._in_lease(  # type: ignore[misc]
                    db, lambda d: write_plan(d, self._queries, p, size, self._fence())
                ),
            )
            for name, value in report:
                setattr(total, name, getattr(total, name) + value)
        if failure is not None:
            position, exc = failure
            if position:
                msg = f"{exc} (the {position} documents before it in the batch were written)"
                raise type(exc)(msg) from exc
            raise exc
        return total

    async def delete_document(self, document_id: str) -> DeleteReport:
        """Remove a document and exactly what only it supported (one transaction).

        Raises:
            NotFoundError: If the document does not exist.
        """
        if not m.valid_keys([document_id]):
            msg = f"document {document_id!r} does not exist in the store at {self.location}"
            raise NotFoundError(msg)
        return await self._conn.run(
            f"deleting document {document_id}",
            lambda db: self._in_lease(
                db,
                lambda d: delete_document(
                    d, self._queries, document_id, self.location, self._fence()
                ),
            ),
        )

    async def set_document_status(
        self, document: Document, status: DocumentStatus, *, error: str | None = None
    ) -> None:
        """Record a document's processing state (creating a stub row if needed)."""
        m.check_key("document", document.id)
        doc = m.document_to_doc(document, status=status, chunk_count=0, error=error)
        await self._conn.run(
            f"recording the status of document {document.id}",
            lambda db: self._queries.set_document_status(db, doc, str(status), error, m.now_text()),
        )

    # ------------------------------------------------------------------ merges, export

    async def merges(self, *, alias_ids: Sequence[str] | None = None) -> list[MergeRecord]:
        """Return merge records (active and undone), oldest first, optionally by alias."""
        wanted = None if alias_ids is None else list(dict.fromkeys(alias_ids))
        rows = await self._conn.run(
            "listing merges", lambda db: self._queries.list_merges(db, wanted), idempotent=True
        )
        return [m.doc_to_merge(r) for r in rows]

    async def mark_merge_undone(self, merge_id: str) -> MergeRecord:
        """Mark a merge as undone (idempotent: an undone merge keeps its first time).

        Raises:
            NotFoundError: If there is no such merge.
        """
        row = None
        if m.valid_keys([merge_id]):
            row = await self._conn.run(
                f"undoing merge {merge_id}",
                lambda db: self._queries.mark_merge_undone(db, merge_id, m.now_text()),
            )
        if row is None:
            msg = (
                f"merge {merge_id} does not exist in the store at {self.location}; "
                "list merges first"
            )
            raise NotFoundError(msg)
        return m.doc_to_merge(row)

    async def _document_graphs(self) -> AsyncIterator[DocumentGraph]:
        keys = await self._conn.run(
            "listing documents",
            lambda db: self._queries.list_document_keys(db, str(DocumentStatus.DONE)),
            idempotent=True,
        )
        first = True
        for key in keys:
            row = await self._conn.run(
                f"exporting document {key}",
                lambda db, k=key: self._queries.export_document(db, k),  # type: ignore[misc]
                idempotent=True,
            )
            if not row or row.get("document") is None:
                continue
            merges = await self.merges() if first else []
            first = False
            yield m.graph_from_export(row, merges)

    def iter_document_graphs(self) -> AsyncIterator[DocumentGraph]:
        """Yield every written (``done``) document as the graph that rebuilds it, oldest first.

        Relations carry only that document's evidence; all merge records come with the first
        document.
        """
        return self._document_graphs()

    async def all_relations(self) -> list[Relation]:
        """Return every relation with weight and supporting chunks (no evidence text)."""
        rows = await self._conn.run(
            "reading all relations", self._queries.all_relations, idempotent=True
        )
        return [m.doc_to_relation(r) for r in rows]
