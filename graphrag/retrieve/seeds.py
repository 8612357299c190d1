"""Question embedding and question-entity linking, shared by the graph-aware modes.

One round: spaCy finds the question's entity surfaces; surfaces whose normalised name is an
entity name or alias are linked exactly (``find_entities``); the question and the unmatched
surfaces are embedded in ONE batch; each unmatched surface is linked to its nearest entity if
the cosine clears a threshold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag.config import RetrievalSettings
from graphrag.ids import normalize_name
from graphrag.models import Hit, Vector
from graphrag.ports import Embedder, GraphStore
from graphrag.retrieve.base import StageTimer
from graphrag.retrieve.question import QuestionAnalyzer

__all__ = ["LinkedEntity", "QuestionSeeds", "analyze_question"]

logger = logging.getLogger(__name__)

_DEFAULT_LINK_THRESHOLD = RetrievalSettings().link_threshold


@dataclass(frozen=True)
class LinkedEntity:
    """A question surface linked to a graph entity.

    Attributes:
        surface: The text in the question.
        entity_id: The linked entity.
        score: 1.0 for an exact (normalised-name) match, else the cosine.
        exact: Whether the match was by name.
    """

    surface: str
    entity_id: str
    score: float
    exact: bool


@dataclass
class QuestionSeeds:
    """What the question contributes: its vector, its surfaces and the linked entities."""

    vector: Vector
    surfaces: list[str] = field(default_factory=list)
    linked: list[LinkedEntity] = field(default_factory=list)
    residual: Vector | None = None

    @property
    def entity_ids(self) -> list[str]:
        """Distinct linked entity ids, in order."""
        return list(dict.fromkeys(link.entity_id for link in self.linked))

    def seed_scores(self) -> dict[str, float]:
        """Entity id to its best link score."""
        scores: dict[str, float] = {}
        for link in self.linked:
            scores[link.entity_id] = max(scores.get(link.entity_id, 0.0), link.score)
        return scores


async def analyze_question(
    question: str,
    *,
    store: GraphStore,
    embedder: Embedder,
    analyzer: QuestionAnalyzer | None,
    timer: StageTimer,
    link_threshold: float = _DEFAULT_LINK_THRESHOLD,
    exact_only: bool = False,
    residual: bool = False,
) -> QuestionSeeds:
    """Embed the question and link its entity surfaces to graph entities.

    Args:
        question: The validated question.
        store: The graph store.
        embedder: The embedder (one call: the question plus the unmatched surfaces).
        analyzer: The spaCy question analyzer; ``None`` skips entity linking.
        timer: Receives the ``analyze``, ``store`` and ``embed`` stages.
        link_threshold: Minimum cosine for an embedding link (``retrieval.link_threshold``).
        exact_only: Link by exact name or alias only: unmatched surfaces are neither
            embedded nor searched (the ``global`` mode).
        residual: Also embed the question without its entity surfaces (what it asks about
            them), in the same batch, when it has surfaces.

    Returns:
        The question vector and its linked entities.
    """
    surfaces: list[str] = []
    if analyzer is not None:
        with timer.stage("analyze"):
            surfaces = await asyncio.to_thread(analyzer.entities, question)
    keys = {s: normalize_name(s) for s in surfaces}
    exact: dict[str, list[str]] = {}
    if surfaces:
        with timer.stage("store"):
            exact = await store.find_entities(sorted(set(keys.values())))
    unmatched = [] if exact_only else [s for s in surfaces if not exact.get(keys[s])]
    rest = residual_text(question, surfaces) if residual and surfaces else ""
    texts = [question, *([rest] if rest else []), *unmatched]
    with timer.stage("embed"):
        vectors = await embedder.embed(texts, kind="query")
    first = 2 if rest else 1
    linked = [
        LinkedEntity(surface=s, entity_id=eid, score=1.0, exact=True)
        for s in surfaces
        for eid in exact.get(keys[s], [])
    ]
    if unmatched:
        with timer.stage("store"):
            linked += await _nearest(store, unmatched, vectors[first:], link_threshold)
    logger.debug("question surfaces %s linked to %d entities", surfaces, len(linked))
    return QuestionSeeds(
        vector=np.asarray(vectors[0]),
        surfaces=surfaces,
        linked=linked,
        residual=np.asarray(vectors[1]) if rest else None,
    )


def residual_text(question: str, surfaces: Sequence[str]) -> str:
    """Return ``question`` without its entity surfaces (empty if nothing else is left).

    Example:
        >>> residual_text("Where was Marie Curie born?", ["Marie Curie"])
        'Where was born?'
    """
    text = question
    for surface in sorted(surfaces, key=len, reverse=True):
        text = text.replace(surface, " ")
    text = " ".join(text.split())
    return text if any(ch.isalnum() for ch in text) else ""


async def _nearest(
    store: GraphStore, surfaces: Sequence[str], vectors: Vector, threshold: float
) -> list[LinkedEntity]:
    """Link each surface to its nearest entity by cosine, if above ``threshold``."""
    results: list[list[Hit]] = list(
        await asyncio.gather(*(store.vector_search("entities", v, 1) for v in vectors))
    )
    return [
        LinkedEntity(surface=s, entity_id=hits[0].id, score=float(hits[0].score), exact=False)
        for s, hits in zip(surfaces, results, strict=True)
        if hits and hits[0].score >= threshold
    ]
