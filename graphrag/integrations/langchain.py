"""The knowledge graph as a LangChain retriever: :class:`GraphRAGRetriever`.

An existing LangChain application swaps its retriever for the graph and keeps the rest of its
chain. Each retrieved chunk becomes a LangChain ``Document`` whose ``page_content`` is the
chunk text and whose metadata carries the provenance (chunk id, document id, source, title,
ordinal), the retrieval score and mode, and the names of the graph entities the chunk
mentions::

    from graphrag.config import load_settings
    from graphrag.integrations.langchain import GraphRAGRetriever

    with GraphRAGRetriever.from_settings(load_settings(), mode="ppr", k=4) as retriever:
        for doc in retriever.invoke("Who built the Lantern Bridge?"):
            print(doc.metadata["title"], doc.metadata["score"], doc.metadata["entities"])

This module needs ``langchain-core`` (the ``llm`` extra); ``import graphrag`` never imports it.

Synchronous calls and event loops:
    The facade is asynchronous. ``ainvoke`` awaits it on the caller's event loop. ``invoke``
    (and ``batch``, ``from_settings``, ``close``) hands the coroutine to one private event
    loop that runs in a daemon thread (``graphrag-langchain-loop``), shared by every retriever
    of the process, started on first use and stopped at interpreter exit (and after a
    ``fork``, started again in the child). The calling thread waits for the result, so
    ``invoke`` works the same from a plain thread and from code that is already running an
    event loop (a notebook, an async web handler calling sync LangChain code); in the latter
    case it blocks that loop for the duration of the retrieval, so async code should prefer
    ``ainvoke``.

    Why not ``asyncio.run`` per call: the embedded store keeps one SQLite read connection per
    worker thread, open until the store closes, and every new event loop brings a new default
    executor with new threads. A loop per call would open new connections and threads on
    every call; the shared loop reuses its executor's threads, so threads and connections stay
    bounded (at most ``min(32, cpus + 4)`` worker threads).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, cast

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    _MSG = (
        "graphrag.integrations.langchain needs langchain-core; install the 'llm' extra: "
        "pip install 'arango-graphrag-platform[llm]'"
    )
    raise ImportError(_MSG) from exc
from pydantic import Field, PrivateAttr, field_validator

from graphrag.config import Settings
from graphrag.errors import GraphRAGError, InvalidArgumentError
from graphrag.facade import GraphRAG, SharedComponents
from graphrag.models import RetrievalMode, RetrievedContext, ScoredChunk
from graphrag.retrieve.modes import parse_mode

__all__ = ["GraphRAGRetriever"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_STOP_TIMEOUT_S = 10.0
_IGNORED_KWARGS = frozenset({"verbose"})
"""Invoke keyword arguments that LangChain itself may pass through to the retriever."""
_SHARED = SharedComponents.__optional_keys__
"""``from_settings`` keywords that go to :meth:`GraphRAG.open`, not to the retriever."""


class _LoopThread:
    """One private event loop in a daemon thread that runs coroutines for sync callers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread while it runs (``None`` before the first call or after stop)."""
        return self._thread

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_serve, args=(loop, ready), name="graphrag-langchain-loop", daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and wait for its result in the calling thread.

        Raises:
            RuntimeError: If called from the private loop itself (it would wait forever).
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._start()
        if running is loop:
            coro.close()
            msg = "a synchronous GraphRAGRetriever call from its own event loop; use ainvoke"
            raise RuntimeError(msg)
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted while waiting (e.g. KeyboardInterrupt); no-op if done
            raise

    def stop(self) -> None:
        """Stop the loop: cancel what still runs, shut its executor down, join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT_S)

    def _forget(self) -> None:
        """After ``fork``: the child has no loop thread; the next call starts one."""
        self._lock = threading.Lock()
        self._loop = self._thread = None


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    try:
        loop.run_forever()
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


_LOOP = _LoopThread()
atexit.register(_LOOP.stop)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_LOOP._forget)


class GraphRAGRetriever(BaseRetriever):
    """A LangChain retriever over the knowledge graph (any retrieval mode of the facade).

    Construct it around an opened facade, or let :meth:`from_settings` /
    :meth:`afrom_settings` open one (the retriever then owns it: :meth:`close` or the
    ``with`` block releases the store). ``mode`` and ``k`` can also be given per call:
    ``retriever.invoke(question, k=3, mode="hybrid")``.

    Documents returned have ``id`` and ``metadata["chunk_id"]`` set to the chunk id, and the
    metadata keys ``document_id``, ``source``, ``title``, ``score``, ``ordinal``, ``mode`` and
    ``entities``: the names of the retrieved entities that the chunk mentions (from the
    store's provenance, best first), or, when the store has no provenance for them, the names
    of all retrieved entities. ``naive`` and ``bm25`` retrieve no entities, so ``entities``
    is empty in those modes.

    Attributes:
        rag: The opened :class:`~graphrag.facade.GraphRAG` facade.
        mode: The retrieval mode (a :class:`~graphrag.models.RetrievalMode` or its name);
            ``None`` uses the settings' ``retrieval.mode``.
        k: How many chunks to return (1 to 200); ``None`` uses ``retrieval.top_k``. Fewer
            come back when fewer match or the token budget (``retrieval.token_budget``) is
            reached.

    Raises:
        InvalidQueryError: At construction, for an unknown mode name.
        pydantic.ValidationError: At construction, for ``k`` out of range or a ``rag`` that
            is not a facade.
    """

    rag: GraphRAG
    mode: RetrievalMode | None = None
    k: int | None = Field(default=None, ge=1, le=200)

    _owns_rag: bool = PrivateAttr(default=False)

    @field_validator("mode", mode="before")
    @classmethod
    def _parse_mode(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_mode(value)  # InvalidQueryError (not a ValueError) passes through
        return value

    # -- opening and closing --------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> Self:
        """Open the configured store and return a retriever that owns the facade.

        Args:
            settings: The configuration (default: environment and settings file).
            **kwargs: Preloaded components to share, as :meth:`GraphRAG.open
                <graphrag.facade.GraphRAG.open>` takes them (``embedder``, ``extractor``,
                ``analyzer``, ``chat_model``), and retriever fields (``mode``, ``k``,
                ``tags``, ``metadata``...).

        Returns:
            The retriever; call :meth:`close` (or use it as a context manager) when done.

        Raises:
            GraphRAGError: If the store cannot be opened or its schema does not match, or the
                mode is unknown.
        """
        return _LOOP.run(cls.afrom_settings(settings, **kwargs))

    @classmethod
    async def afrom_settings(cls, settings: Settings | None = None, **kwargs: Any) -> Self:
        """Async :meth:`from_settings`: open the store on the running loop.

        Arguments and errors as :meth:`from_settings`.

        Returns:
            The retriever; call :meth:`aclose` (or ``async with`` it) when done.
        """
        shared = {name: kwargs.pop(name) for name in _SHARED if name in kwargs}
        rag = await GraphRAG.open(settings, **cast("SharedComponents", shared))
        try:
            retriever = cls(rag=rag, **kwargs)
        except BaseException:
            await rag.close()
            raise
        retriever._owns_rag = True
        return retriever

    @property
    def owns_rag(self) -> bool:
        """Whether :meth:`close` closes the facade (it was opened by ``from_settings``)."""
        return self._owns_rag

    def close(self) -> None:
        """Close the facade if this retriever opened it; a facade passed in stays open."""
        if self._owns_rag:
            _LOOP.run(self.aclose())

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        if self._owns_rag:
            self._owns_rag = False
            await self.rag.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- retrieving -----------------------------------------------------------------------

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Retrieve on the private event loop (see the module docstring) and wait.

        Arguments, result and errors as :meth:`_aget_relevant_documents`.
        """
        return _LOOP.run(self._retrieve(query, **_options(kwargs)))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Retrieve on the running event loop.

        Args:
            query: The question.
            run_manager: LangChain's callback manager for this run.
            **kwargs: ``k``, the chunks to return for this call (default: the retriever's
                ``k``), and ``mode``, the retrieval mode for this call (default: the
                retriever's ``mode``); nothing else (LangChain's ``verbose`` is ignored).

        Returns:
            One document per retrieved chunk, best first.

        Raises:
            InvalidQueryError: If the question is empty or too long, or the mode unknown.
            InvalidArgumentError: If ``k`` is out of range or an unknown keyword is given.
        """
        return await self._retrieve(query, **_options(kwargs))

    async def _retrieve(
        self, query: str, *, k: int | None, mode: RetrievalMode | str | None
    ) -> list[Document]:
        context = await self.rag.retrieve(
            query,
            mode=mode if mode is not None else self.mode,
            top_k=k if k is not None else self.k,
        )
        mentions = await self._chunk_entities(context)
        everything = list(dict.fromkeys(e.name for e in context.entities))
        return [
            _document(
                chunk, context, everything if mentions is None else mentions.get(chunk.id, [])
            )
            for chunk in context.chunks
        ]

    async def _chunk_entities(self, context: RetrievedContext) -> dict[str, list[str]] | None:
        """Names of the context's entities per chunk, or ``None`` without provenance."""
        if not context.entities or not context.chunks:
            return {}
        try:
            stored = await self.rag.components.store.get_entities([e.id for e in context.entities])
        except GraphRAGError as exc:
            logger.warning(
                "could not read which chunks mention the %d retrieved entities (%s); each "
                "document lists all of them",
                len(context.entities),
                exc,
            )
            return None
        provenance = {e.id: e.source_chunk_ids for e in stored}
        if not any(provenance.values()):
            return None
        wanted = {c.id for c in context.chunks}
        names: dict[str, list[str]] = {}
        for entity in context.entities:  # best first
            for chunk in provenance.get(entity.id, ()):
                if chunk in wanted:
                    found = names.setdefault(chunk, [])
                    if entity.name not in found:
                        found.append(entity.name)
        return names


class _Options(TypedDict):
    k: int | None
    mode: RetrievalMode | str | None


def _options(kwargs: Mapping[str, Any]) -> _Options:
    """The per-call ``k`` and ``mode`` of an invoke's keywords (``None``: not given)."""
    unknown = sorted(set(kwargs) - {"k", "mode"} - _IGNORED_KWARGS)
    if unknown:
        msg = (
            f"GraphRAGRetriever does not accept {', '.join(unknown)}; "
            "pass k (number of chunks) or mode (retrieval mode)"
        )
        raise InvalidArgumentError(msg)
    return _Options(k=kwargs.get("k"), mode=kwargs.get("mode"))


def _document(chunk: ScoredChunk, context: RetrievedContext, entities: Sequence[str]) -> Document:
    return Document(
        id=chunk.id,
        page_content=chunk.text,
        metadata={
            "chunk_id": chunk.id,
            "document_id": chunk.document_id,
            "source": chunk.source,
            "title": chunk.title,
            "score": chunk.score,
            "ordinal": chunk.ordinal,
            "entities": list(entities),
            "mode": context.mode.value,
        },
    )
