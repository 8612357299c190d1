"""One entry point to the whole product: :class:`GraphRAG`.

The CLI, the HTTP API and the benchmarks use it alike; a library user gets the product in a
few lines::

    ```python
    import asyncio

    from graphrag import GraphRAG, Settings


    async def main() -> None:
        async with await GraphRAG.open(Settings()) as rag:
            await rag.ingest(["docs/"])
            answer = await rag.answer("Who founded the Radium Institute?")
            print(answer.text, [c.source for c in answer.citations])


    asyncio.run(main())
    ```
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypedDict, Unpack

import networkx as nx
from pydantic import Field

from graphrag.answer.streaming import AnswerStream, StreamingAnswerer
from graphrag.config import Settings
from graphrag.errors import InvalidArgumentError, NotFoundError
from graphrag.ids import chunk_id, normalize_name
from graphrag.llm.usage import budget_scope
from graphrag.models import (
    Answer,
    Chunk,
    Community,
    DeleteReport,
    Document,
    DocumentStatus,
    Entity,
    Hit,
    MergeRecord,
    Relation,
    RetrievalMode,
    RetrievedContext,
    StoreStats,
    _Model,
)
from graphrag.operations.ingest import (
    IngestSummary,
    ProgressCallback,
    find_document_ids,
    ingest_documents,
    run_ingest,
    undo_merge,
)
from graphrag.retrieve.modes import parse_mode
from graphrag.retrieve.question import QuestionAnalyzer, validate_question
from graphrag.runtime import Components, open_components

if TYPE_CHECKING:
    from graphrag.ports import ChatModel, Embedder, Extractor

MAX_HOPS = 4
"""Deepest neighbourhood or path search (each hop multiplies the work by the degree cap)."""


class Neighbourhood(_Model):
    """Entities and the relations between them, ready to draw as a graph.

    Attributes:
        center: The entity ids the picture starts from.
        entities: Every entity shown, with provenance (``source_chunk_ids``).
        relations: The relations among them, with evidence sentences.
        paths: Entity-id paths from a centre to the other entities (or between two
            entities, for :meth:`GraphRAG.paths`).
    """

    center: list[str]
    entities: list[Entity]
    relations: list[Relation]
    paths: list[list[str]] = Field(default_factory=list)


class SharedComponents(TypedDict, total=False):
    """Preloaded components that :meth:`GraphRAG.open` shares instead of loading its own.

    Attributes:
        embedder: A preloaded embedder (tests, several workspaces).
        extractor: A preloaded extractor.
        analyzer: A preloaded question analyzer.
        chat_model: A chat model instead of the configured one.
    """

    embedder: Embedder | None
    extractor: Extractor | None
    analyzer: QuestionAnalyzer | None
    chat_model: ChatModel | None


class GraphRAG:
    """Build a knowledge graph from documents and answer questions over it, with citations.

    Open one per process with :meth:`open` (models load once, lazily) and share it; every
    method is a coroutine and safe to call concurrently (the store serialises writers).

    Args:
        components: The wired components (see :func:`graphrag.runtime.open_components`).
    """

    def __init__(self, components: Components) -> None:
        self._c = components

    @classmethod
    async def open(
        cls, settings: Settings | None = None, **shared: Unpack[SharedComponents]
    ) -> GraphRAG:
        """Open the configured store (schema ensured) and wire the models.

        Args:
            settings: The configuration (default: environment and settings file).
            **shared: Preloaded components to share instead of loading the configured ones
                (see :class:`SharedComponents`).

        Raises:
            GraphRAGError: If the store cannot be opened or its schema does not match.
        """
        from graphrag.config import load_settings

        chosen = settings if settings is not None else load_settings()
        return cls(await open_components(chosen, **shared))

    @property
    def settings(self) -> Settings:
        """The settings this instance was opened with."""
        return self._c.settings

    @property
    def components(self) -> Components:
        """The wired components (store, models, retrieval), for advanced use."""
        return self._c

    async def close(self) -> None:
        """Release the store's connections."""
        await self._c.close()

    async def __aenter__(self) -> GraphRAG:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- building ---------------------------------------------------------------------

    async def ingest(
        self,
        inputs: Sequence[str | Path],
        *,
        force: bool = False,
        batch_size: int = 256,
        recursive: bool = True,
        progress: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Load files, folders or glob patterns and build the graph (unchanged ones skipped).

        Returns:
            The summary; files that failed are listed in it, not raised.
        """
        return await run_ingest(
            self._c,
            [str(p) for p in inputs],
            force=force,
            batch_size=batch_size,
            recursive=recursive,
            progress=progress,
        )

    async def ingest_documents(
        self,
        documents: Sequence[Document],
        *,
        force: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Build the graph from documents already loaded (texts sent to the API, datasets).

        Returns:
            The summary; documents that failed are listed in it, not raised.
        """
        start = time.perf_counter()
        summary = IngestSummary(documents=len(documents))
        summary.report = await ingest_documents(
            self._c, list(documents), force=force, progress=progress
        )
        summary.seconds = time.perf_counter() - start
        return summary

    async def delete(self, ref: str) -> list[DeleteReport]:
        """Delete a document (id, source or file path; a file names all its records).

        Raises:
            NotFoundError: If nothing matches ``ref``.
        """
        from graphrag.resolution.actions import delete_documents

        ids = await find_document_ids(self._c.store, ref)
        if not ids:
            msg = f"no document with id or source {ref!r}; list the stored documents first"
            raise NotFoundError(msg)
        reports, _ = await delete_documents(self._c.store, self._c.builder.reconciler, ids)
        return reports

    async def undo_merge(self, merge_id: str) -> tuple[int, bool]:
        """Undo a merge; returns (documents derived again, whether it was already undone).

        Raises:
            NotFoundError: If there is no such merge.
        """
        return await undo_merge(self._c, merge_id)

    # -- asking -----------------------------------------------------------------------

    async def retrieve(
        self, question: str, *, mode: RetrievalMode | str | None = None, top_k: int | None = None
    ) -> RetrievedContext:
        """Return the context for a question (chunks, entities, relations, paths).

        Raises:
            InvalidQueryError: If the question is empty or too long, or the mode unknown.
        """
        text, chosen, k = self._request(question, mode, top_k)
        return await self._c.retrieval.retrieve(text, mode=chosen, top_k=k)

    async def answer(
        self, question: str, *, mode: RetrievalMode | str | None = None, top_k: int | None = None
    ) -> Answer:
        """Answer a question with citations; the retrieved context is attached to it.

        Raises:
            InvalidQueryError: If the question is empty or too long, or the mode unknown.
        """
        text, chosen, k = self._request(question, mode, top_k)
        context = await self._c.retrieval.retrieve(text, mode=chosen, top_k=k)
        with budget_scope():  # one answer is one run for llm.max_cost / max_tokens_per_run
            answer = await self._c.answerer.answer(text, context)
        return answer.model_copy(update={"context": context})

    async def answer_stream(
        self, question: str, *, mode: RetrievalMode | str | None = None, top_k: int | None = None
    ) -> AnswerStream:
        """Retrieve the context, then stream the answer as text pieces.

        With an LLM configured the pieces are the model's tokens as they arrive (citations
        checked on the way); otherwise the finished extractive answer is split into word
        pieces. Either way the pieces join to the final answer's text, and
        ``stream.answer`` (with the context attached) is available once they are read.

        Example:
            ```python
            stream = await rag.answer_stream("Who built the Lantern Bridge?", mode="ppr")
            async for piece in stream:
                print(piece, end="", flush=True)
            print(stream.answer.citations)
            ```

        Returns:
            The stream: ``context`` at once, the pieces by iterating, ``answer`` after.

        Raises:
            InvalidQueryError: If the question is empty or too long, or the mode unknown.
            LLMError: While iterating, if the chat model fails or the budget is reached.
        """
        text, chosen, k = self._request(question, mode, top_k)
        context = await self._c.retrieval.retrieve(text, mode=chosen, top_k=k)
        answerer = self._c.answerer
        if isinstance(answerer, StreamingAnswerer):
            inner = answerer.stream(text, context)
        else:
            inner = AnswerStream.deferred(lambda: answerer.answer(text, context), context)

        async def scoped() -> AsyncIterator[str]:
            with budget_scope():  # one answer is one run for the budget, as in answer()
                try:
                    async for piece in inner:
                        yield piece
                finally:
                    if not inner.done:
                        await inner.aclose()

        async def finish() -> Answer:
            answer = await inner.collect()
            return answer.model_copy(update={"context": context})

        return AnswerStream(context, scoped(), finish, live=inner.live)

    def check_question(self, question: str) -> str:
        """Return the question stripped, or raise as :meth:`answer` would.

        Raises:
            InvalidQueryError: If the question is empty or longer than
                ``retrieval.max_question_chars``.
        """
        return validate_question(question, self._c.settings.retrieval.max_question_chars)

    def _request(
        self, question: str, mode: RetrievalMode | str | None, top_k: int | None
    ) -> tuple[str, RetrievalMode, int]:
        retrieval = self._c.settings.retrieval
        text = validate_question(question, retrieval.max_question_chars)
        chosen = parse_mode(mode if mode is not None else retrieval.mode)
        k = retrieval.top_k if top_k is None else top_k
        if not 1 <= k <= 200:
            msg = f"top_k must be between 1 and 200 (got {k})"
            raise InvalidArgumentError(msg)
        return text, chosen, k

    # -- reading ----------------------------------------------------------------------

    async def stats(self) -> StoreStats:
        """Object counts of the store."""
        return await self._c.store.stats()

    async def documents(
        self,
        *,
        status: DocumentStatus | None = None,
        contains: str | None = None,
        pattern: str | None = None,
    ) -> list[Document]:
        """Stored documents, newest first, filtered by status, source text or source glob."""
        found = await self._c.store.list_documents(status=status)
        folded = contains.casefold() if contains else None
        return [
            d
            for d in found
            if (folded is None or folded in d.source.casefold())
            and (pattern is None or fnmatch.fnmatchcase(d.source, pattern))
        ]

    async def document(self, document_id: str) -> Document:
        """One stored document.

        Raises:
            NotFoundError: If there is no document with that id.
        """
        found = await self._c.store.get_document(document_id)
        if found is None:
            msg = f"no document with id {document_id!r}"
            raise NotFoundError(msg)
        return found

    async def chunks(self, document_id: str) -> list[Chunk]:
        """The chunks of a stored document, in order.

        Raises:
            NotFoundError: If there is no document with that id.
        """
        document = await self.document(document_id)
        ids = [chunk_id(document.id, i) for i in range(document.chunk_count)]
        return await self._c.store.get_chunks(ids)

    async def entity(self, entity_id: str) -> Entity:
        """One entity with its aliases, rank and provenance.

        Raises:
            NotFoundError: If there is no entity with that id.
        """
        found = await self._c.store.get_entities([entity_id])
        if not found:
            msg = f"no entity with id {entity_id!r}; search entities by name first"
            raise NotFoundError(msg)
        return found[0]

    async def search_entities(self, name: str, *, limit: int = 10) -> list[Entity]:
        """Entities by name: exact names and aliases first, then the most similar names."""
        if not name.strip():
            msg = "the entity name to search for is empty; give a name"
            raise InvalidArgumentError(msg)
        exact = (await self._c.store.find_entities([normalize_name(name)])).get(
            normalize_name(name), []
        )
        vector = await self._c.embedder.embed([name.strip()], kind="name")
        similar = await self._c.store.vector_search("entities", vector[0], limit)
        ids = list(dict.fromkeys([*exact, *(h.id for h in similar)]))[:limit]
        return await self._c.store.get_entities(ids)

    async def neighbourhood(
        self, entity_id: str, *, hops: int = 1, limit: int = 50
    ) -> Neighbourhood:
        """The entities within ``hops`` relations of an entity, and the relations among them.

        Raises:
            NotFoundError: If there is no entity with that id.
            InvalidArgumentError: If ``hops`` or ``limit`` is out of range.
        """
        _check_range("hops", hops, 1, MAX_HOPS)
        _check_range("limit", limit, 1, 500)
        await self.entity(entity_id)
        expansion = await self._c.store.expand(
            [Hit(id=entity_id, score=1.0)],
            hops=hops,
            degree_cap=self._c.settings.retrieval.degree_cap,
            max_entities=limit,
        )
        entities = await self._c.store.get_entities([h.id for h in expansion.entities])
        return Neighbourhood(
            center=[entity_id],
            entities=entities,
            relations=expansion.relations,
            paths=expansion.paths,
        )

    async def paths(
        self, source_id: str, target_id: str, *, max_hops: int = 3, limit: int = 5
    ) -> Neighbourhood:
        """Shortest relation paths between two entities (at most ``limit``), as a graph.

        Raises:
            NotFoundError: If either entity does not exist.
            InvalidArgumentError: If ``max_hops`` or ``limit`` is out of range.
        """
        _check_range("max_hops", max_hops, 1, MAX_HOPS)
        _check_range("limit", limit, 1, 50)
        await self.entity(source_id)
        await self.entity(target_id)
        expansion = await self._c.store.expand(
            [Hit(id=source_id, score=1.0), Hit(id=target_id, score=1.0)],
            hops=max_hops,
            degree_cap=self._c.settings.retrieval.degree_cap,
            max_entities=2000,
        )
        found = _shortest_paths(expansion.relations, source_id, target_id, max_hops, limit)
        on_path = {entity for path in found for entity in path}
        relations = [
            r
            for r in expansion.relations
            if r.source_id in on_path and r.target_id in on_path and _adjacent(found, r)
        ]
        entities = await self._c.store.get_entities(sorted(on_path or {source_id, target_id}))
        return Neighbourhood(
            center=[source_id, target_id], entities=entities, relations=relations, paths=found
        )

    async def communities(self) -> list[Community]:
        """Communities from the last ``analyze`` run (empty before one)."""
        return await self._c.store.list_communities()

    async def merges(self) -> list[MergeRecord]:
        """Every entity merge decision (alias -> canonical), undone ones included."""
        return await self._c.store.merges()


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        msg = f"{name} must be between {low} and {high} (got {value})"
        raise InvalidArgumentError(msg)


def _shortest_paths(
    relations: Sequence[Relation], source: str, target: str, max_hops: int, limit: int
) -> list[list[str]]:
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from([source, target])
    graph.add_edges_from((r.source_id, r.target_id) for r in relations)
    paths: list[list[str]] = []
    try:
        for path in nx.shortest_simple_paths(graph, source, target):
            if len(path) - 1 > max_hops or len(paths) >= limit:
                break
            paths.append([str(node) for node in path])
    except nx.NetworkXNoPath:
        return []
    return paths


def _adjacent(paths: Sequence[Sequence[str]], relation: Relation) -> bool:
    pair = {relation.source_id, relation.target_id}
    return any({path[i], path[i + 1]} == pair for path in paths for i in range(len(path) - 1))
