"""The retrieval service: one object that runs every retrieval mode over the ports.

Modes (see :class:`~graphrag.models.RetrievalMode`):

- ``naive``: dense kNN over chunks.
- ``bm25``: keyword (BM25) search over chunks.
- ``local``: question entities (exact name, else nearest by embedding) seed a bounded
  traversal (``store.candidates`` without BM25); chunks are scored
  ``0.5 * minmax(vector) + 0.5 * minmax(graph)``.
- ``hybrid``: the same round trip with BM25; dense, BM25 and graph lists are fused by
  weighted min-max (``0.5/0.2/0.3``; RRF with ``rrf_k`` on request, see :data:`HYBRID_FUSION`).
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
from typing import Literal

from graphrag.config import RetrievalSettings
from graphrag.errors import InvalidArgumentError, InvalidQueryError
from graphrag.models import CandidateRequest, Candidates, Hit, RetrievalMode, RetrievedContext
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
from graphrag.retrieve.global_search import GLOBAL_COMMUNITIES, GLOBAL_MEMBER_WEIGHT, GlobalSearch
from graphrag.retrieve.ppr_retriever import rank_ppr
from graphrag.retrieve.question import QuestionAnalyzer, validate_question
from graphrag.retrieve.seeds import DEFAULT_LINK_THRESHOLD, QuestionSeeds, analyze_question

__all__ = [
    "HYBRID_FUSION",
    "HYBRID_WEIGHTS",
    "FusionMethod",
    "ModeRetriever",
    "RetrievalService",
    "fuse_candidates",
    "parse_mode",
]

logger = logging.getLogger(__name__)

FusionMethod = Literal["rrf", "minmax"]

HYBRID_FUSION: FusionMethod = "minmax"
"""How ``hybrid`` fuses its lists: weighted min-max, which keeps the score margins RRF throws
away; chosen on the dev sets with benchmarks/tune_retrieval.py (figures: docs/evaluation.md,
"Tuning")."""

HYBRID_WEIGHTS: tuple[float, float, float] = (0.5, 0.2, 0.3)
"""Weights of the (dense, BM25, graph) lists in ``hybrid`` fusion."""

LOCAL_WEIGHTS: tuple[float, float] = (0.5, 0.5)
"""Weights of min-max normalised (vector, graph) scores in ``local``."""


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
        link_threshold: Minimum cosine to link a question surface to its nearest entity.
        hybrid_fusion: ``"rrf"`` or ``"minmax"`` (default :data:`HYBRID_FUSION`).
        hybrid_weights: Weights of the (dense, BM25, graph) lists in ``hybrid``.
        global_communities: Communities a ``global`` context holds.
        global_member_weight: Weight of the question entities' membership against the
            summary cosine in ``global`` (0: the question is not analysed, only embedded).

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
        *,
        link_threshold: float = DEFAULT_LINK_THRESHOLD,
        hybrid_fusion: FusionMethod = HYBRID_FUSION,
        hybrid_weights: tuple[float, float, float] = HYBRID_WEIGHTS,
        global_communities: int = GLOBAL_COMMUNITIES,
        global_member_weight: float = GLOBAL_MEMBER_WEIGHT,
    ) -> None:
        if hybrid_fusion not in ("rrf", "minmax"):
            msg = f"hybrid_fusion must be 'rrf' or 'minmax', got {hybrid_fusion!r}"
            raise InvalidArgumentError(msg)
        if global_communities < 1 or not 0.0 <= global_member_weight <= 1.0:
            msg = (
                "global_communities must be at least 1 and global_member_weight between 0 "
                f"and 1, got {global_communities} and {global_member_weight}"
            )
            raise InvalidArgumentError(msg)
        self._global = GlobalSearch(
            store,
            embedder,
            analyzer,
            communities=global_communities,
            member_weight=global_member_weight,
        )
        self._fusion: FusionMethod = hybrid_fusion
        self._hybrid_weights = hybrid_weights
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._analyzer = analyzer
        self._link_threshold = link_threshold
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
            return await self._global.rank(question, timer)
        if mode is RetrievalMode.BM25:
            with timer.stage("store"):
                return Ranking(hits=await self._store.keyword_search(question, top_k))
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
            link_threshold=self._link_threshold,
        )
        if mode is RetrievalMode.PPR:
            return await rank_ppr(
                seeds, store=self._store, settings=self._settings, top_k=top_k, timer=timer
            )
        hybrid = mode is RetrievalMode.HYBRID
        return await self._rank_graph(question, seeds, hybrid=hybrid, top_k=top_k, timer=timer)

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
            hits = fuse_candidates(
                found,
                hybrid=hybrid,
                rrf_k=s.rrf_k,
                fusion=self._fusion,
                weights=self._hybrid_weights,
            )
        ranking = Ranking(hits=hits, relations=list(found.expansion.relations))
        expanded = found.expansion.entities
        if expanded:
            ids = list(
                dict.fromkeys(
                    [h.id for h in expanded] + [n for p in found.expansion.paths for n in p]
                )
            )
            with timer.stage("store"):
                rows = await self._store.get_entities(ids)
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


def fuse_candidates(
    found: Candidates,
    *,
    hybrid: bool,
    rrf_k: int,
    fusion: FusionMethod = HYBRID_FUSION,
    weights: tuple[float, float, float] = HYBRID_WEIGHTS,
) -> list[Hit]:
    """Rank the chunks of a candidates round trip.

    ``local``: ``0.5 * minmax(vector) + 0.5 * minmax(graph)`` over the union. ``hybrid``:
    dense, BM25 and graph lists fused by ``fusion`` with ``weights``.

    Args:
        found: The store's candidate lists.
        hybrid: Whether to fuse the BM25 list too (``hybrid`` mode).
        rrf_k: The RRF constant.
        fusion: ``"rrf"`` or ``"minmax"``.
        weights: Weights of the (dense, BM25, graph) lists.

    Returns:
        Distinct chunk hits, best first.
    """
    if not hybrid:
        return minmax_fuse([found.vector_chunks, found.graph_chunks], weights=LOCAL_WEIGHTS)
    lists = [found.vector_chunks, found.bm25_chunks, found.graph_chunks]
    if fusion == "minmax":
        return minmax_fuse(lists, weights=weights)
    return rrf_fuse(lists, k=rrf_k, weights=weights)
