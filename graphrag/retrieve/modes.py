"""The retrieval service: one object that runs every retrieval mode over the ports.

Modes (see :class:`~graphrag.models.RetrievalMode`):

- ``naive``: dense kNN over chunks.
- ``bm25``: keyword (BM25) search over chunks.
- ``local``: question entities (exact name, else nearest by embedding) seed a bounded
  traversal (``store.candidates`` without BM25); chunks are scored
  ``w * minmax(vector) + (1 - w) * minmax(graph)`` with ``w = retrieval.local_dense_weight``.
- ``hybrid``: the same round trip with BM25; dense, BM25 and graph lists are fused by
  ``retrieval.hybrid_fusion`` (weighted min-max by default, or weighted RRF with
  ``retrieval.rrf_k``) with the ``retrieval.hybrid_*_weight`` weights.
- ``ppr``: personalised PageRank over the passage-entity graph (see
  :mod:`graphrag.retrieve.ppr_retriever`).
- ``global``: the community summaries of ``graphrag analyze``, ranked by summary cosine
  blended with the question entities' membership; their supporting chunks are the chunks
  (see :mod:`graphrag.retrieve.global_search`).

Every mode returns at most ``top_k`` distinct chunks cut to ``token_budget``, with timings in
milliseconds for the stages ``analyze``, ``embed``, ``store``, ``rank`` and ``total``, and
notes when the caller should know something (``global`` before ``graphrag analyze``).
"""

from __future__ import annotations

import logging

from graphrag.config import HybridFusion, RetrievalSettings
from graphrag.errors import InvalidQueryError
from graphrag.models import (
    CandidateRequest,
    Candidates,
    Hit,
    RetrievalMode,
    RetrievedContext,
    Vector,
)
from graphrag.ports import Embedder, GraphStore
from graphrag.retrieve.base import (
    DocumentCache,
    Ranking,
    StageTimer,
    entity_context,
    hydrate_chunks,
    path_names,
)
from graphrag.retrieve.budget import apply_budget
from graphrag.retrieve.fusion import minmax_fuse, rrf_fuse
from graphrag.retrieve.global_search import GlobalSearch
from graphrag.retrieve.ppr_retriever import rank_ppr
from graphrag.retrieve.question import QuestionAnalyzer, validate_question
from graphrag.retrieve.seeds import QuestionSeeds, analyze_question

__all__ = [
    "DENSE_FALLBACK_NOTE",
    "ModeRetriever",
    "RetrievalService",
    "fuse_candidates",
    "parse_mode",
]

logger = logging.getLogger(__name__)

DENSE_FALLBACK_NOTE = "these passages come from dense (embedding) search instead"
"""In the note of a context whose mode had nothing to go on (see ``_dense_fallback``)."""


def parse_mode(mode: RetrievalMode | str) -> RetrievalMode:
    """Return the :class:`RetrievalMode` named by ``mode`` (case-insensitive).

    Raises:
        InvalidQueryError: If ``mode`` is not a known mode; the message lists the valid ones.
    """
    if isinstance(mode, RetrievalMode):
        return mode
    try:
        return RetrievalMode(str(mode).strip().lower())
    except ValueError:
        valid = ", ".join(m.value for m in RetrievalMode)
        msg = f"unknown retrieval mode {mode!r}; use one of: {valid}"
        raise InvalidQueryError(msg) from None


class RetrievalService:
    """Runs the retrieval modes over a :class:`GraphStore` and an :class:`Embedder`.

    Args:
        store: The graph store (any adapter).
        embedder: The embedder the store was built with.
        settings: Retrieval settings (default mode, ``top_k``, budgets, PPR parameters).
        analyzer: Finds question entities for ``local``, ``hybrid`` and ``ppr``; with ``None``
            those modes seed from embeddings only.

    Every ranking constant (fusion weights, link threshold, the ``ppr`` walk, ``global``
    blending) comes from ``settings``; see docs/configuration.md.

    Example:
        ```python
        async def ask(store: GraphStore, embedder: Embedder, settings: Settings) -> None:
            analyzer = QuestionAnalyzer(settings.extraction)
            service = RetrievalService(store, embedder, settings.retrieval, analyzer)
            context = await service.retrieve("Who founded the Radium Institute?", mode="ppr")
            print([(chunk.source, chunk.score) for chunk in context.chunks])
        ```
    """

    def __init__(
        self,
        store: GraphStore,
        embedder: Embedder,
        settings: RetrievalSettings,
        analyzer: QuestionAnalyzer | None,
    ) -> None:
        self._global = GlobalSearch(
            store,
            embedder,
            analyzer,
            communities=settings.global_communities,
            member_weight=settings.global_member_weight,
        )
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._analyzer = analyzer
        self._documents = DocumentCache()

    @property
    def settings(self) -> RetrievalSettings:
        """The retrieval settings in use."""
        return self._settings

    @property
    def default_mode(self) -> RetrievalMode:
        """The mode used when none is given (``retrieval.mode``)."""
        return parse_mode(self._settings.mode)

    def retriever(self, mode: RetrievalMode | str) -> ModeRetriever:
        """Return a :class:`~graphrag.ports.Retriever` bound to one mode.

        Raises:
            InvalidQueryError: If ``mode`` is unknown.
        """
        return ModeRetriever(self, parse_mode(mode))

    async def warm_up(self) -> None:
        """Load everything a first query would load lazily (models, vector matrices, caches).

        Runs a throwaway question through every mode so the first real query is as fast as
        the rest; call it once at startup (API lifespan, benchmarks). Errors propagate.
        """
        question = "Who founded the Warsaw Radium Institute, and in which country is it?"
        for mode in RetrievalMode:
            await self.retrieve(question, mode=mode, top_k=2)
        logger.debug("retrieval warmed up")

    async def retrieve(
        self,
        question: str,
        *,
        mode: RetrievalMode | str | None = None,
        top_k: int | None = None,
    ) -> RetrievedContext:
        """Build the context for a question.

        Args:
            question: The question (stripped; 1 to ``max_question_chars`` characters).
            mode: A mode or its name; default ``retrieval.mode``.
            top_k: Most chunks returned; default ``retrieval.top_k``.

        Returns:
            At most ``top_k`` distinct chunks within ``token_budget``, best first, with
            entities, relations, paths (entity names), communities (``global``), notes and
            per-stage timings.

        Raises:
            InvalidQueryError: If the question is empty or too long, the mode unknown, or
                ``top_k`` below 1.
            StoreError: If the store fails.
            EmbeddingError: If the embedder fails.
        """
        timer = StageTimer()
        text = validate_question(question, self._settings.max_question_chars)
        chosen = parse_mode(mode if mode is not None else self._settings.mode)
        k = self._settings.top_k if top_k is None else top_k
        if k < 1:
            msg = f"top_k must be at least 1, got {k}"
            raise InvalidQueryError(msg)
        ranking = await self._rank(text, chosen, k, timer)
        with timer.stage("store"):
            chunks = await hydrate_chunks(self._store, ranking.hits[:k], self._documents)
        kept, truncated = apply_budget(chunks, token_budget=self._settings.token_budget, top_k=k)
        context = RetrievedContext(
            question=text,
            mode=chosen,
            chunks=kept,
            entities=ranking.entities,
            relations=ranking.relations,
            paths=ranking.paths,
            communities=ranking.communities,
            notes=ranking.notes,
            token_count=sum(c.token_count for c in kept),
            truncated=truncated,
            timings=timer.finish(),
        )
        logger.debug(
            "retrieve mode=%s chunks=%d total=%.1fms",
            chosen,
            len(kept),
            context.timings["total"],
        )
        return context

    async def _rank(
        self, question: str, mode: RetrievalMode, top_k: int, timer: StageTimer
    ) -> Ranking:
        if mode is RetrievalMode.GLOBAL:
            ranking = await self._global.rank(question, timer)
            if ranking.hits or ranking.communities:
                return ranking
            fallback = await self._dense_fallback(question, mode, top_k, timer)
            if not fallback.hits:  # an empty store: the global notes say it all
                return ranking
            return Ranking(hits=fallback.hits, notes=[*ranking.notes, *fallback.notes])
        if mode is RetrievalMode.BM25:
            with timer.stage("store"):
                hits = await self._store.keyword_search(question, top_k)
            if not hits:
                return await self._dense_fallback(question, mode, top_k, timer)
            return Ranking(hits=hits)
        if mode is RetrievalMode.NAIVE:
            with timer.stage("embed"):
                vector = (await self._embedder.embed([question], kind="query"))[0]
            with timer.stage("store"):
                return Ranking(hits=await self._store.vector_search("chunks", vector, top_k))
        seeds = await analyze_question(
            question,
            store=self._store,
            embedder=self._embedder,
            analyzer=self._analyzer,
            timer=timer,
            link_threshold=self._settings.link_threshold,
            residual=mode is RetrievalMode.PPR and self._settings.ppr_rerank_temperature > 0,
        )
        if self._analyzer is not None and not seeds.linked:
            return await self._dense_fallback(question, mode, top_k, timer, seeds.vector)
        if mode is RetrievalMode.PPR:
            return await rank_ppr(
                seeds, store=self._store, settings=self._settings, top_k=top_k, timer=timer
            )
        hybrid = mode is RetrievalMode.HYBRID
        return await self._rank_graph(question, seeds, hybrid=hybrid, top_k=top_k, timer=timer)

    async def _dense_fallback(
        self,
        question: str,
        mode: RetrievalMode,
        top_k: int,
        timer: StageTimer,
        vector: Vector | None = None,
    ) -> Ranking:
        """Dense search, with a note, for a mode that has nothing to go on (bad input).

        A question of only stop words or punctuation, in another script, or naming no entity
        of the graph gives ``bm25`` no keyword hit and ``local``, ``hybrid`` and ``ppr`` no
        linked question entity (without an analyzer those modes seed from embeddings, as
        documented, and do not fall back); ``global`` has nothing to rank before
        ``graphrag analyze`` (or after one that found no communities). The caller still gets
        the dense ranking (never an empty context while the store has chunks) and a note
        saying why.

        Args:
            question: The validated question.
            mode: The mode that had nothing to go on.
            top_k: Chunks to return.
            timer: Receives the ``embed`` and ``store`` stages.
            vector: The question's query vector, if already embedded.
        """
        if vector is None:
            with timer.stage("embed"):
                vector = (await self._embedder.embed([question], kind="query"))[0]
        with timer.stage("store"):
            hits = await self._store.vector_search("chunks", vector, top_k)
        reason = {
            RetrievalMode.BM25: "no keyword of the question matched a passage",
            RetrievalMode.GLOBAL: "there are no community summaries to rank",
        }.get(mode, "no entity of the question was found in the graph")
        note = f"The {mode.value} mode had nothing to go on ({reason}): {DENSE_FALLBACK_NOTE}."
        logger.debug("%s: dense fallback for %r (%s)", mode.value, question, reason)
        return Ranking(hits=hits, notes=[note])

    async def _rank_graph(
        self, question: str, seeds: QuestionSeeds, *, hybrid: bool, top_k: int, timer: StageTimer
    ) -> Ranking:
        """``local`` and ``hybrid``: one candidates round trip, then fusion."""
        s = self._settings
        request = CandidateRequest(
            query_vector=seeds.vector,
            query_text=question,
            seed_entity_ids=seeds.entity_ids,
            k_chunks=max(s.k_chunks, top_k),
            k_entities=s.k_entities,
            hops=s.hops,
            degree_cap=s.degree_cap,
            max_entities=s.max_entities,
            use_bm25=hybrid,
        )
        with timer.stage("store"):
            found = await self._store.candidates(request)
        with timer.stage("rank"):
            hits = fuse_candidates(found, hybrid=hybrid, settings=s)
        ranking = Ranking(hits=hits, relations=list(found.expansion.relations))
        expanded = found.expansion.entities
        if expanded:
            ids = list(
                dict.fromkeys(
                    [h.id for h in expanded] + [n for p in found.expansion.paths for n in p]
                )
            )
            with timer.stage("store"):
                rows = await self._store.get_entities(ids, provenance=False)
            ranking.entities, names = entity_context(expanded, rows)
            ranking.paths = path_names(found.expansion.paths, names)
        return ranking


class ModeRetriever:
    """A :class:`~graphrag.ports.Retriever` for one mode, backed by a :class:`RetrievalService`.

    Args:
        service: The service that runs the mode.
        mode: The mode.
    """

    def __init__(self, service: RetrievalService, mode: RetrievalMode) -> None:
        self._service = service
        self._mode = mode

    @property
    def mode(self) -> RetrievalMode:
        """The mode this retriever implements."""
        return self._mode

    async def retrieve(self, question: str, *, top_k: int = 10) -> RetrievedContext:
        """Return the context for ``question`` (see :meth:`RetrievalService.retrieve`)."""
        return await self._service.retrieve(question, mode=self._mode, top_k=top_k)


def fuse_candidates(found: Candidates, *, hybrid: bool, settings: RetrievalSettings) -> list[Hit]:
    """Rank the chunks of a candidates round trip.

    ``local``: ``w * minmax(vector) + (1 - w) * minmax(graph)`` over the union, with
    ``w = settings.local_dense_weight``. ``hybrid``: dense, BM25 and graph lists fused by
    ``settings.hybrid_fusion`` with ``settings.hybrid_weights`` (and ``settings.rrf_k``).

    Args:
        found: The store's candidate lists.
        hybrid: Whether to fuse the BM25 list too (``hybrid`` mode).
        settings: The retrieval settings.

    Returns:
        Distinct chunk hits, best first.
    """
    if not hybrid:
        lists = [found.vector_chunks, found.graph_chunks]
        return minmax_fuse(lists, weights=settings.local_weights)
    lists = [found.vector_chunks, found.bm25_chunks, found.graph_chunks]
    fusion: HybridFusion = settings.hybrid_fusion
    if fusion == "minmax":
        return minmax_fuse(lists, weights=settings.hybrid_weights)
    return rrf_fuse(lists, k=settings.rrf_k, weights=settings.hybrid_weights)
