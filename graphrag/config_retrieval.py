"""Settings of the retrieval modes (``GRAPHRAG_RETRIEVAL__*``).

A section of :class:`graphrag.config.Settings` (re-exported there). Every constant that
changes a ranking is a setting here, so ``graphrag tune`` can search it and a team can pin it
in a settings file; the defaults were chosen on the dev sets (docs/evaluation.md, "Tuning").
Documented, with the same ranges, in docs/configuration.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["HybridFusion", "RetrievalSettings"]

HybridFusion = Literal["minmax", "rrf"]
"""How ``hybrid`` fuses its dense, BM25 and graph lists."""


class RetrievalSettings(BaseModel):
    """Retrieval modes: sizes, traversal caps, fusion weights and the ``ppr`` walk.

    Attributes:
        mode: Default retrieval mode.
        top_k: Most chunks returned.
        token_budget: Most tokens of returned chunk text.
        max_question_chars: Longest accepted question.
        hops: Traversal depth of ``local`` and ``hybrid``.
        degree_cap: Neighbours followed and mentioning chunks read per entity.
        max_entities: Entities kept after expansion (``local``, ``hybrid``).
        k_entities: Entity seeds from vector search (``local``, ``hybrid``).
        k_chunks: Candidates per ranked list before fusion (``local``, ``hybrid``).
        link_threshold: Minimum cosine linking a question surface to its nearest entity.
        local_dense_weight: ``local``: weight of the dense list (the graph list gets the rest).
        hybrid_fusion: ``hybrid``: ``minmax`` (weighted min-max) or ``rrf``.
        hybrid_dense_weight: ``hybrid``: weight of the dense list.
        hybrid_bm25_weight: ``hybrid``: weight of the BM25 list.
        hybrid_graph_weight: ``hybrid``: weight of the graph list.
        rrf_k: ``hybrid`` with ``hybrid_fusion = rrf``: the RRF constant.
        ppr_damping: ``ppr``: probability of following an edge.
        ppr_temperature: ``ppr``: softmax temperature over dense passage scores in the reset.
        ppr_dense_weight: ``ppr``: share of the reset given to the dense passages.
        ppr_dense_candidates: ``ppr``: passages from vector search in the reset.
        ppr_expand_mass: ``ppr``: share of the dense softmax whose passages are expanded.
        ppr_relation_weight: ``ppr``: factor on relation edges in the walk (0: mentions only).
        ppr_rerank_temperature: ``ppr``: temperature of the relevance factor on the mass.
        ppr_rerank_candidates: ``ppr``: passages scored against the question's rest.
        ppr_max_iterations: ``ppr``: cap on power iterations.
        ppr_context_entities: ``ppr``: entities (highest mass) reported in the context.
        global_communities: ``global``: communities a context holds.
        global_member_weight: ``global``: weight of the question entities' membership.
    """

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(
        default="ppr",
        description="Default retrieval mode: naive, bm25, local, hybrid, ppr or global.",
    )
    top_k: int = Field(default=10, ge=1, le=200, description="Most chunks returned (1-200).")
    token_budget: int = Field(default=3000, ge=64, description="Max tokens of returned chunks.")
    max_question_chars: int = Field(default=2000, ge=10, description="Longest accepted question.")
    hops: int = Field(default=2, ge=1, le=3, description="Traversal depth of local/hybrid.")
    degree_cap: int = Field(
        default=10,
        ge=1,
        description="Neighbours followed, and mentioning chunks read (strongest first), per "
        "entity (local, hybrid, ppr).",
    )
    max_entities: int = Field(default=40, ge=1, description="Entities kept after expansion.")
    k_entities: int = Field(default=8, ge=1, description="Entity seeds from vector search.")
    k_chunks: int = Field(default=30, ge=1, description="Candidates per ranked list.")
    link_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Minimum cosine between a question's entity surface and its nearest entity "
        "name for that entity to seed local, hybrid and ppr (exact name matches always do).",
    )
    local_dense_weight: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="local: weight of the min-max normalised dense list; the graph list gets "
        "1 - this.",
    )
    hybrid_fusion: HybridFusion = Field(
        default="minmax",
        description="hybrid: minmax (weighted sum of min-max normalised scores) or rrf "
        "(weighted reciprocal-rank fusion with rrf_k); same weights either way.",
    )
    hybrid_dense_weight: float = Field(
        default=0.6, ge=0.0, le=1.0, description="hybrid: weight of the dense list."
    )
    hybrid_bm25_weight: float = Field(
        default=0.25, ge=0.0, le=1.0, description="hybrid: weight of the BM25 list."
    )
    hybrid_graph_weight: float = Field(
        default=0.15, ge=0.0, le=1.0, description="hybrid: weight of the graph list."
    )
    rrf_k: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="Reciprocal-rank-fusion constant of hybrid when hybrid_fusion is rrf.",
    )
    ppr_damping: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="ppr: probability of following an edge."
    )
    ppr_temperature: float = Field(
        default=0.02,
        gt=0.0,
        le=10.0,
        description="ppr: softmax temperature over the dense passage cosines in the reset "
        "vector (smaller: sharper).",
    )
    ppr_dense_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="ppr: share of the reset vector given to the dense passages (the rest goes "
        "to the question's entities).",
    )
    ppr_dense_candidates: int = Field(
        default=50, ge=1, description="ppr: passages from vector search in the reset vector."
    )
    ppr_expand_mass: float = Field(
        default=0.999,
        gt=0.0,
        le=1.0,
        description="ppr: the walk's graph is read around the fewest dense candidates that "
        "hold this share of the dense softmax (1: around every candidate).",
    )
    ppr_relation_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="ppr: factor on relation (entity-entity) edges in the walk; 0 walks "
        "mention edges only and skips reading relations.",
    )
    ppr_rerank_temperature: float = Field(
        default=0.15,
        ge=0.0,
        le=10.0,
        description="ppr: passages are ranked by PageRank mass times exp((relevance - best) / "
        "this), relevance being the better of the passage's cosine with the question and with "
        "the question without its entity names (what it asks about them), so a second-hop "
        "passage that answers the rest of the question beats one that only shares an entity; "
        "0: by mass alone (and the question is embedded once).",
    )
    ppr_rerank_candidates: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="ppr: passages scored against the question without its entity names (see "
        "ppr_rerank_temperature); the others count the lowest of those cosines.",
    )
    ppr_max_iterations: int = Field(
        default=30, ge=1, le=1000, description="ppr: cap on PageRank power iterations."
    )
    ppr_context_entities: int = Field(
        default=10,
        ge=0,
        le=200,
        description="ppr: entities with the most PageRank mass reported in the context (with "
        "the relations among them and paths from the question's entities).",
    )
    global_communities: int = Field(
        default=5,
        ge=1,
        le=50,
        description="global: communities a context holds (answer.global_communities caps how "
        "many an answer reads).",
    )
    global_member_weight: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="global: weight of the question entities' community membership against the "
        "summary cosine (0: the question is embedded, not analysed).",
    )

    @model_validator(mode="after")
    def _hybrid_has_weight(self) -> RetrievalSettings:
        if self.hybrid_dense_weight + self.hybrid_bm25_weight + self.hybrid_graph_weight <= 0:
            msg = (
                "retrieval.hybrid_dense_weight, hybrid_bm25_weight and hybrid_graph_weight are "
                "all 0; give at least one list a positive weight"
            )
            raise ValueError(msg)
        return self

    @property
    def hybrid_weights(self) -> tuple[float, float, float]:
        """The (dense, BM25, graph) weights of ``hybrid``."""
        return (self.hybrid_dense_weight, self.hybrid_bm25_weight, self.hybrid_graph_weight)

    @property
    def local_weights(self) -> tuple[float, float]:
        """The (dense, graph) weights of ``local``."""
        return (self.local_dense_weight, 1.0 - self.local_dense_weight)
