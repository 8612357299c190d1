"""Ports: the small async Protocols the library is built from.

Adapters implement them (``stores/embedded``, ``stores/arango``, ``embed``, ``extract``);
retrievers, pipelines and the API depend only on these. Blocking work (SQLite, python-arango,
model inference) runs off the event loop inside the adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol, runtime_checkable

from graphrag.llm.base import ChatMessage as ChatMessage
from graphrag.llm.base import ChatModel as ChatModel
from graphrag.llm.base import ChatResult as ChatResult
from graphrag.llm.base import ChatStream as ChatStream
from graphrag.llm.base import Usage as Usage
from graphrag.models import (
    AnalysisState,
    Answer,
    CandidateRequest,
    Candidates,
    Chunk,
    ChunkExtraction,
    Community,
    DeleteReport,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Expansion,
    Hit,
    MergeRecord,
    Relation,
    RetrievalMode,
    RetrievedContext,
    StoreStats,
    Subgraph,
    Vector,
    WriteReport,
)
from graphrag.records import ApiKeyRecord, Job, JobStatus
from graphrag.resolution.models import KeyInfo, KeyLink, ResolutionChange

EmbedKind = Literal["query", "passage", "name"]
"""``name``: entity names for resolution; embedders make these reproducible (the same text
gives the same vector whatever else is in the batch), as similarity decisions depend on it."""
SearchTarget = Literal["chunks", "entities", "communities"]
"""``communities``: the summary embeddings saved by ``graphrag analyze`` (``global`` mode)."""
KeyPair = tuple[str, str]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def model_name(self) -> str:
        """The model's name, recorded in the store so vectors never mix models."""
        ...

    @property
    def dim(self) -> int:
        """The vector dimension."""
        ...

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> Vector:
        """Embed texts; returns an array of shape ``(len(texts), dim)``."""
        ...


@runtime_checkable
class Chunker(Protocol):
    """Splits a document text into sentence-aligned, token-bounded chunks."""

    def chunk(self, document_id: str, text: str) -> list[Chunk]:
        """Return the chunks of ``text`` with deterministic ids and char spans."""
        ...


@runtime_checkable
class Extractor(Protocol):
    """Finds entity mentions and relations in chunks."""

    @property
    def name(self) -> str:
        """The tier's name (``spacy``, ``llm``...)."""
        ...

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        """Return one extraction per chunk, in order."""
        ...


class DocumentStore(Protocol):
    """Document lifecycle: atomic per-document writes and exact retraction."""

    async def get_document(self, document_id: str) -> Document | None:
        """Return a document by id, or ``None``."""
        ...

    async def get_documents(self, ids: Sequence[str]) -> list[Document]:
        """Return the documents that exist among ``ids`` (one round trip), in the order given."""
        ...

    async def list_documents(
        self, *, status: DocumentStatus | None = None, limit: int | None = None
    ) -> list[Document]:
        """Return documents, newest first, optionally by status."""
        ...

    async def upsert_documents(
        self, graphs: Sequence[DocumentGraph], *, derived: bool = True
    ) -> WriteReport:
        """Write documents and what they contribute; each document is atomic.

        A document that already exists is replaced: its previous chunks, mentions and
        evidence are retracted first and entities/relations left without support removed.
        The keys of the chunks' extractions (old and new) are marked for resolution.

        With ``derived=False`` only the raw facts are written (document, chunks with their
        extractions and key counts); the document waits for
        :meth:`ResolutionStore.rederive_documents` (it is *pending*).
        """
        ...

    async def append_chunks(
        self, document: Document, chunks: Sequence[Chunk], *, first: bool, last: bool
    ) -> WriteReport:
        """Write a large document's raw facts in parts, one transaction per part.

        The first part retracts the document's previous version and records it as
        ``processing``; each part adds its chunks (with extractions and key counts); the last
        records it ``done`` with ``document.chunk_count`` chunks, pending derivation. A run
        that stops between parts leaves a ``processing`` document that the next ingest
        replaces.
        """
        ...

    async def delete_document(self, document_id: str) -> DeleteReport:
        """Remove a document and exactly what only it supported.

        Raises:
            NotFoundError: If the document does not exist.
        """
        ...

    async def set_document_status(
        self, document: Document, status: DocumentStatus, *, error: str | None = None
    ) -> None:
        """Record a document's processing state (creating a stub row if needed)."""
        ...


class SearchIndex(Protocol):
    """Vector and keyword search."""

    async def vector_search(self, target: SearchTarget, vector: Vector, k: int) -> list[Hit]:
        """Return the ``k`` nearest chunks, entities or community summaries by cosine.

        Communities are always scanned exactly (there are few, and every analysis replaces
        them all); rows without an embedding are never returned.
        """
        ...

    async def vector_search_many(
        self, target: SearchTarget, vectors: Vector, k: int
    ) -> list[list[Hit]]:
        """Return the ``k`` nearest neighbours of each row of ``vectors`` (one round trip)."""
        ...

    async def keyword_search(self, text: str, k: int) -> list[Hit]:
        """Return the ``k`` best chunks by BM25 (any query term may match)."""
        ...


class GraphReader(Protocol):
    """Reads of chunks, entities and their neighbourhoods."""

    async def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Return chunks by id (unknown ids are skipped), in the order given."""
        ...

    async def get_entities(self, ids: Sequence[str], *, provenance: bool = True) -> list[Entity]:
        """Return entities by id (unknown ids skipped), in order.

        With ``provenance=False`` the entities come without ``source_chunk_ids`` (empty,
        ``mention_count`` 0) and without embeddings: names and types for a retrieval
        context, without reading the mentions of a hub entity.
        """
        ...

    async def find_entities(self, normalized_names: Sequence[str]) -> dict[str, list[str]]:
        """Map each normalised name to the ids of entities with that name or alias."""
        ...

    async def expand(
        self, seeds: Sequence[Hit], *, hops: int, degree_cap: int, max_entities: int
    ) -> Expansion:
        """Bounded BFS over ``relations`` from seed entities (see :class:`Expansion`)."""
        ...

    async def candidates(self, request: CandidateRequest) -> Candidates:
        """Vector seeds + BM25 + traversal + chunk collection in one round trip."""
        ...

    async def subgraph(
        self,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        *,
        degree_cap: int,
        include_relations: bool = True,
    ) -> Subgraph:
        """Return the entity-chunk graph within two hops of the given nodes.

        With ``include_relations=False`` the entity-entity edges are left out (cheaper when
        the caller walks only mention edges).
        """
        ...


class ResolutionStore(Protocol):
    """The state of entity resolution: keys, their links, and documents to re-derive.

    Every chunk's extraction is stored with it, with the count of each key and surface form.
    A key is *dirty* when its counts changed (a write or a delete) or a merge touching it was
    undone; a document is *pending* when its mentions and relations must be derived again.
    :class:`~graphrag.resolution.reconcile.Reconciler` resolves dirty keys and re-derives
    pending documents, under :meth:`writer_lock`.
    """

    def writer_lock(self) -> AbstractAsyncContextManager[None]:
        """Hold the store's single-writer lock (waits; raises StoreUnavailableError on timeout)."""
        ...

    async def dirty_keys(self, limit: int) -> list[str]:
        """Return up to ``limit`` dirty keys."""
        ...

    async def mark_dirty(self, keys: Sequence[str]) -> None:
        """Mark keys for resolution (known keys only)."""
        ...

    async def clear_dirty(self, keys: Sequence[str]) -> None:
        """Unmark keys once they are resolved and their documents re-derived."""
        ...

    async def key_infos(self, keys: Sequence[str]) -> list[KeyInfo]:
        """Return the known keys among ``keys`` with their support and surface counts."""
        ...

    async def keys_by_norm(self, norms: Sequence[str]) -> dict[str, list[str]]:
        """Map normalised names to the known keys with that name."""
        ...

    async def keys_by_initials(self, initials: Sequence[str]) -> dict[str, list[str]]:
        """Map acronyms (``"NASA"``) to the known multi-word keys whose initials spell them."""
        ...

    async def keys_of_entities(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Map entity ids to the keys that resolve to them."""
        ...

    async def set_key_embeddings(self, vectors: Mapping[str, Vector]) -> None:
        """Store the name embeddings of keys."""
        ...

    async def similar_keys(self, vectors: Vector, threshold: float, k: int) -> list[list[Hit]]:
        """For each row, up to ``k`` keys with an embedding at least ``threshold`` cosine."""
        ...

    async def add_key_links(self, links: Sequence[KeyLink], linked: Sequence[str]) -> None:
        """Store similarity links and mark ``linked`` keys as linked (one transaction)."""
        ...

    async def key_links(self, keys: Sequence[str]) -> list[KeyLink]:
        """Return the links touching any of ``keys``."""
        ...

    async def shared_documents(self, pairs: Sequence[KeyPair]) -> set[KeyPair]:
        """Return the pairs of keys mentioned together in at least one document."""
        ...

    async def documents_of_keys(self, keys: Sequence[str]) -> list[str]:
        """Return the ids of documents whose chunks mention any of ``keys``."""
        ...

    async def apply_resolution(self, change: ResolutionChange) -> int:
        """Apply one resolution pass atomically; return the number of new merge records.

        Sets the keys' entities, drops removed keys and their links, replaces the active
        merge records whose alias is in the region (undone records stay), updates stored
        entities to their derived view, and marks the documents pending.
        """
        ...

    async def pending_documents(self, limit: int) -> list[str]:
        """Return up to ``limit`` ids of documents waiting to be derived again."""
        ...

    async def rederive_documents(
        self, graphs: Sequence[DocumentGraph], *, replace: bool = True, finish: bool = True
    ) -> WriteReport:
        """Replace the mentions and relations of stored documents (chunks stay); each atomic.

        Entities are written as given (name, aliases, embedding); the documents stop being
        pending. A large document is derived in parts: the first part (``replace``) removes
        its previous mentions and relations, later ones (``replace=False``) add theirs, and
        only the last (``finish``) marks it derived. Each graph then holds some of the
        document's stored chunks; whole graphs must hold exactly its stored chunks.
        """
        ...


class JobStore(Protocol):
    """Background jobs, persisted so every worker process (and a restart) sees them."""

    async def save_job(self, job: Job) -> None:
        """Insert or replace a job (by id); ``updated_at`` is the caller's."""
        ...

    async def get_job(self, job_id: str) -> Job | None:
        """Return a job by id, or ``None``."""
        ...

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[Job]:
        """Return jobs, newest first (``created_at``), optionally by status."""
        ...

    async def claim_job(self, job_id: str, worker: str, *, stale_seconds: float) -> Job | None:
        """Atomically take a job to run it.

        A job can be taken when it is ``queued`` or ``interrupted``, or ``running`` with a
        heartbeat older than ``stale_seconds`` (its worker died).

        Returns:
            The job as claimed (status ``running``, ``worker`` and ``heartbeat_at`` set), or
            ``None`` when another worker holds it or it is finished or unknown.
        """
        ...


class ApiKeyStore(Protocol):
    """API keys of the workspace (only hashes are stored)."""

    async def save_api_key(self, record: ApiKeyRecord) -> None:
        """Insert or replace a key record (by id)."""
        ...

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """Return the record with this hash (revoked ones too), or ``None``."""
        ...

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Return every key record, newest first."""
        ...


class GraphStore(
    DocumentStore, SearchIndex, GraphReader, ResolutionStore, JobStore, ApiKeyStore, Protocol
):
    """The whole store contract: lifecycle, documents, search, graph reads, merges."""

    @property
    def location(self) -> str:
        """Where the data lives (a file path or a server URL and database), no secrets."""
        ...

    async def ensure_schema(self, *, embedding_model: str, dim: int) -> None:
        """Create what is missing (idempotent) and check the embedding model matches.

        Raises:
            SchemaError: If the store was built with another embedding model or dimension,
                or with a newer schema version.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    async def stats(self) -> StoreStats:
        """Return object counts."""
        ...

    async def merges(self, *, alias_ids: Sequence[str] | None = None) -> list[MergeRecord]:
        """Return merge records (active and undone), optionally for some alias ids."""
        ...

    async def mark_merge_undone(self, merge_id: str) -> MergeRecord:
        """Mark a merge as undone; nothing else changes.

        The caller then resolves the merge's keys again and derives the affected documents
        from their stored chunks (:func:`graphrag.resolution.actions.undo_merge`).

        Raises:
            NotFoundError: If there is no such merge.
        """
        ...

    def iter_document_graphs(self) -> AsyncIterator[DocumentGraph]:
        """Yield every document as the graph that would rebuild it (for export/migrate)."""
        ...

    async def all_relations(self) -> list[Relation]:
        """Return every relation (without evidence text), for export and analysis."""
        ...

    async def save_analysis(
        self, ranks: Mapping[str, float], communities: Sequence[Community]
    ) -> None:
        """Store entity ranks (unknown ids ignored) and replace all communities atomically.

        Entities not in ``ranks`` keep no rank (``None``). Each community's members get a
        ``member_of`` link; communities whose members were all deleted later disappear with
        the next analysis. The save is recorded (see :meth:`analysis_state`).
        """
        ...

    async def list_communities(self) -> list[Community]:
        """Return the stored communities (level, then ordinal), members included."""
        ...

    async def get_communities(self, ids: Sequence[str]) -> list[Community]:
        """Return communities by id with members, chunk ids and embedding (unknown skipped).

        The order is the order of ``ids``.
        """
        ...

    async def communities_of(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Map entity ids to the ids of the communities they are members of.

        Entities in no community are absent from the result.
        """
        ...

    async def analysis_state(self) -> AnalysisState | None:
        """Return when the last analysis was saved and whether the graph changed since.

        ``None`` when no analysis was ever saved (``graphrag analyze`` never ran on it, or
        ran with a version that did not record it).
        """
        ...


@runtime_checkable
class Retriever(Protocol):
    """Builds the context for a question."""

    @property
    def mode(self) -> RetrievalMode:
        """The mode this retriever implements."""
        ...

    async def retrieve(self, question: str, *, top_k: int = 10) -> RetrievedContext:
        """Return the context for ``question`` (at most ``top_k`` chunks, within budget)."""
        ...


@runtime_checkable
class Answerer(Protocol):
    """Turns a question and its context into an answer with citations."""

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context only, citing chunk and document ids."""
        ...
