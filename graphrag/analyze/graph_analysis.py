"""Entity ranks (PageRank) and communities (Louvain) over the whole entity graph.

:func:`analyze_graph` reads every relation from the store, builds an undirected weighted
graph (parallel relations between two entities add up their weights), ranks the entities
with PageRank and groups them with Louvain (seeded, so a rerun on the same graph gives the
same communities and ids). Each community gets a title (its three highest-ranked members),
its supporting chunks (those whose relations connect the most members) and an extractive
summary (:mod:`graphrag.analyze.summaries`: top members with types, strongest SVO relations,
the sentences that best connect the members, each cited by chunk id). With a
:class:`~graphrag.analyze.llm_reports.CommunityReporter`, a chat model rewrites the summaries
of the largest communities as reports (title, summary, findings citing members) that keep the
key sentences; without one no LLM is involved. With an embedder, each summary is embedded
for the ``global`` retrieval mode. The result replaces the previous analysis in one
:meth:`~graphrag.ports.GraphStore.save_analysis`.

The analysis is a full recompute: after documents are added, changed or deleted the stored
ranks and communities are stale until it runs again
(:meth:`~graphrag.ports.GraphStore.analysis_state` tells).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from graphrag.analyze.llm_reports import CommunityReporter
from graphrag.analyze.summaries import (
    MATCH_MEMBERS,
    SUMMARY_ENTITIES,
    SUMMARY_PREFIX,
    SUMMARY_RELATIONS,
    KeySentence,
    embedding_text,
    key_sentences,
    summarize,
    support_chunks,
)
from graphrag.errors import ConfigError
from graphrag.ids import digest
from graphrag.models import Chunk, Community, Entity, Relation, RelationKind
from graphrag.ports import Embedder, GraphStore

__all__ = [
    "SUMMARY_PREFIX",
    "AnalysisReport",
    "Clusters",
    "analyze_graph",
    "build_graph",
    "community_id",
    "make_communities",
    "named_ids",
    "rank_and_cluster",
]

logger = logging.getLogger(__name__)

LEVEL = 0
"""Level of the communities written (one level: the final Louvain partition)."""

TITLE_MEMBERS = 3
PAGERANK_MAX_ITER = 200
"""Power iterations allowed (damping 0.85 converges well within this on any graph)."""
SUMMARY_BATCH = 256
"""Communities summarised and embedded per step (bounds the entity and chunk rows held)."""


@dataclass(frozen=True)
class AnalysisReport:
    """What :func:`analyze_graph` did.

    Attributes:
        entities: Entities ranked (every endpoint of a relation).
        relations: Relations read from the store.
        communities: Communities saved (with at least ``min_community_size`` members).
        seconds: Wall time, reading and saving included.
        embedded: Communities saved with a summary embedding (0 without an embedder).
        timings: Seconds per stage: ``read`` (relations), ``cluster`` (PageRank, Louvain,
            supporting chunks), ``summarize`` (names, chunks, sentences), ``reports`` (with
            a reporter), ``embed``, ``save``.
        llm_model: The chat model that wrote reports (``None``: extractive summaries only).
        llm_reports: Communities whose summary is an LLM report.
        llm_malformed: Communities whose reply stayed malformed (extractive summary kept).
        llm_unknown_refs: Entity ids the replies cited that their prompt did not list.
        llm_not_asked: Communities not asked because the budget stopped the reports.
        llm_stopped: The budget error's message when the budget stopped the reports.
        llm_calls: Calls made (replies from the cache not counted).
        llm_cached_calls: Replies served by the reply cache (free).
        llm_tokens: Prompt and completion tokens of the calls made.
    """

    entities: int
    relations: int
    communities: int
    seconds: float
    embedded: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    llm_model: str | None = None
    llm_reports: int = 0
    llm_malformed: int = 0
    llm_unknown_refs: int = 0
    llm_not_asked: int = 0
    llm_stopped: str | None = None
    llm_calls: int = 0
    llm_cached_calls: int = 0
    llm_tokens: int = 0


@dataclass
class Clusters:
    """Ranks and communities computed from the relations (no names yet).

    Attributes:
        ranks: PageRank of every entity in the graph (sums to 1).
        groups: Community members, highest rank first; groups by size descending.
        key_relations: For each group, its strongest SVO relations inside the group.
        chunks: For each group, its supporting chunks (most members connected first).
    """

    ranks: dict[str, float]
    groups: list[list[str]]
    key_relations: list[list[Relation]]
    chunks: list[list[str]] = field(default_factory=list)


@dataclass
class EntityGraph:
    """The undirected entity graph on integer nodes (networkx is faster on small ints).

    Attributes:
        ids: Entity id of each node (sorted, so node ``i`` is ``ids[i]``).
        graph: Nodes ``0..len(ids)-1``; edge attribute ``weight``.
    """

    ids: list[str]
    graph: nx.Graph


def build_graph(relations: Sequence[Relation]) -> EntityGraph:
    """Return the undirected entity graph; parallel relations add up their weights.

    Every endpoint is a node; self-loops and relations without positive weight add no edge.
    Nodes are numbered in entity-id order and edges added in node order, so that seeded
    algorithms are reproducible whatever order the store returned the relations in.
    """
    ids = sorted({r.source_id for r in relations} | {r.target_id for r in relations})
    graph = nx.Graph()
    graph.add_nodes_from(range(len(ids)))
    if not ids:
        return EntityGraph(ids=ids, graph=graph)
    index = {entity: position for position, entity in enumerate(ids)}
    count = len(relations)
    source = np.fromiter((index[r.source_id] for r in relations), dtype=np.int64, count=count)
    target = np.fromiter((index[r.target_id] for r in relations), dtype=np.int64, count=count)
    weight = np.fromiter((r.weight for r in relations), dtype=np.float64, count=count)
    keep = (source != target) & (weight > 0)
    low = np.minimum(source, target)[keep]
    high = np.maximum(source, target)[keep]
    pairs, inverse = np.unique(low * len(ids) + high, return_inverse=True)
    sums = np.bincount(inverse, weights=weight[keep], minlength=len(pairs))
    graph.add_weighted_edges_from(
        zip((pairs // len(ids)).tolist(), (pairs % len(ids)).tolist(), sums.tolist(), strict=True)
    )
    return EntityGraph(ids=ids, graph=graph)


def _key_relations(
    relations: Sequence[Relation], group_of: Mapping[str, int], groups: int
) -> list[list[Relation]]:
    inside: list[list[Relation]] = [[] for _ in range(groups)]
    for relation in relations:
        if relation.kind != RelationKind.SVO or relation.source_id == relation.target_id:
            continue
        group = group_of.get(relation.source_id)
        if group is not None and group == group_of.get(relation.target_id):
            inside[group].append(relation)
    return [sorted(found, key=lambda r: (-r.weight, r.id))[:SUMMARY_RELATIONS] for found in inside]


def rank_and_cluster(
    relations: Sequence[Relation], *, resolution: float, seed: int, min_community_size: int
) -> Clusters:
    """Run PageRank and Louvain over the relations (blocking, CPU bound).

    Args:
        relations: Every relation of the store.
        resolution: Louvain resolution (above 1: smaller communities).
        seed: Random seed of Louvain.
        min_community_size: Smaller groups are dropped.

    Returns:
        The ranks and the communities, ordered by size descending.
    """
    built = build_graph(relations)
    graph, ids = built.graph, built.ids
    if not ids:
        return Clusters(ranks={}, groups=[], key_relations=[])
    scores: dict[int, float] = nx.pagerank(graph, weight="weight", max_iter=PAGERANK_MAX_ITER)
    partition: list[set[int]] = []
    if graph.number_of_edges():
        partition = nx.community.louvain_communities(
            graph, weight="weight", resolution=resolution, seed=seed
        )
    kept = sorted(
        (group for group in partition if len(group) >= min_community_size),
        key=lambda group: (-len(group), min(group)),  # node order is entity-id order
    )
    groups = [[ids[n] for n in sorted(group, key=lambda n: (-scores[n], n))] for group in kept]
    ranks = {ids[node]: score for node, score in scores.items()}
    group_of = {entity: index for index, group in enumerate(groups) for entity in group}
    return Clusters(
        ranks=ranks,
        groups=groups,
        key_relations=_key_relations(relations, group_of, len(groups)),
        chunks=support_chunks(relations, groups, ranks),
    )


def community_id(level: int, ordinal: int, member_ids: Sequence[str]) -> str:
    """Return the id of a community: its level, ordinal and a hash of its sorted members."""
    return "k_" + digest(str(level), str(ordinal), digest(*sorted(member_ids)))


def make_communities(
    clusters: Clusters,
    entities: Mapping[str, Entity],
    chunks: Mapping[str, Chunk] | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
) -> tuple[list[Community], list[str]]:
    """Turn computed groups into :class:`Community` models with titles and summaries.

    Args:
        clusters: The computed ranks and groups.
        entities: Entity rows by id (names, types, aliases) of :func:`named_ids`.
        chunks: The supporting chunks by id (their sentences are quoted); without them the
            summaries have no key sentences.
        start: First group to convert (ordinal).
        stop: Group after the last one (default: all).

    Returns:
        The communities (without embeddings) and, for each, the text to embed.
    """
    found = chunks or {}
    communities: list[Community] = []
    texts: list[str] = []
    end = len(clusters.groups) if stop is None else stop
    for ordinal in range(start, end):
        members = clusters.groups[ordinal]
        title = ", ".join(_display(e, entities) for e in members[:TITLE_MEMBERS])
        support = clusters.chunks[ordinal] if ordinal < len(clusters.chunks) else []
        sentences: list[KeySentence] = key_sentences(
            [found[c] for c in support if c in found],
            [entities[e] for e in members[:MATCH_MEMBERS] if e in entities],
            clusters.ranks,
        )
        relations = clusters.key_relations[ordinal]
        communities.append(
            Community(
                id=community_id(LEVEL, ordinal, members),
                level=LEVEL,
                ordinal=ordinal,
                member_ids=list(members),
                title=title,
                summary=summarize(members, relations, entities, sentences),
                chunk_ids=list(support),
            )
        )
        texts.append(embedding_text(title, members, entities, sentences))
    return communities, texts


def _display(entity_id: str, entities: Mapping[str, Entity]) -> str:
    found = entities.get(entity_id)
    return found.name if found is not None else entity_id


def named_ids(clusters: Clusters, start: int = 0, stop: int | None = None) -> list[str]:
    """The entity ids whose names and types titles, summaries and sentence matching use."""
    wanted: dict[str, None] = {}
    end = len(clusters.groups) if stop is None else stop
    for ordinal in range(start, end):
        members = clusters.groups[ordinal]
        wanted.update(dict.fromkeys(members[: max(SUMMARY_ENTITIES, MATCH_MEMBERS)]))
        for relation in clusters.key_relations[ordinal][:SUMMARY_RELATIONS]:
            wanted.update(dict.fromkeys((relation.source_id, relation.target_id)))
    return list(wanted)


def support_ids(clusters: Clusters, start: int = 0, stop: int | None = None) -> list[str]:
    """The supporting chunk ids of the groups ``start``..``stop``."""
    end = len(clusters.groups) if stop is None else stop
    return list(dict.fromkeys(c for group in clusters.chunks[start:end] for c in group))


def _check(resolution: float, min_community_size: int) -> None:
    if not resolution > 0:
        msg = f"resolution must be a positive number, got {resolution!r}; 1.0 is the default"
        raise ConfigError(msg)
    if min_community_size < 1:
        msg = f"min_community_size must be at least 1, got {min_community_size}; 2 is the default"
        raise ConfigError(msg)


async def _summaries(
    store: GraphStore,
    clusters: Clusters,
    embedder: Embedder | None,
    timings: dict[str, float],
    reporter: CommunityReporter | None = None,
) -> list[Community]:
    """Name, summarise, report (with a reporter) and embed the communities, in batches."""
    communities: list[Community] = []
    for start in range(0, len(clusters.groups), SUMMARY_BATCH):
        stop = min(start + SUMMARY_BATCH, len(clusters.groups))
        began = time.perf_counter()
        entities = {e.id: e for e in await store.get_entities(named_ids(clusters, start, stop))}
        chunks = {c.id: c for c in await store.get_chunks(support_ids(clusters, start, stop))}
        batch, texts = await asyncio.to_thread(
            make_communities, clusters, entities, chunks, start=start, stop=stop
        )
        timings["summarize"] = timings.get("summarize", 0.0) + time.perf_counter() - began
        if reporter is not None and batch:
            began = time.perf_counter()
            relations = clusters.key_relations[start:stop]
            batch, texts = await reporter.rewrite(batch, texts, relations, entities)
            timings["reports"] = timings.get("reports", 0.0) + time.perf_counter() - began
        if embedder is not None and batch:
            began = time.perf_counter()
            vectors = await embedder.embed(texts, kind="passage")
            batch = [
                c.model_copy(update={"embedding": np.asarray(v, dtype=np.float32)})
                for c, v in zip(batch, vectors, strict=True)
            ]
            timings["embed"] = timings.get("embed", 0.0) + time.perf_counter() - began
        communities.extend(batch)
    return communities


async def analyze_graph(
    store: GraphStore,
    *,
    embedder: Embedder | None = None,
    resolution: float = 1.0,
    seed: int = 42,
    min_community_size: int = 2,
    reporter: CommunityReporter | None = None,
) -> AnalysisReport:
    """Rank entities, find and summarise communities and save them (replacing older ones).

    Example:
        ```python
        async def analyze(settings: Settings) -> None:
            components = await open_components(settings)
            report = await analyze_graph(components.store, embedder=components.embedder)
            print(report.entities, report.communities, report.embedded)
            await components.close()
        ```

    Args:
        store: The graph store to read and update.
        embedder: Embeds the summaries (``kind="passage"``) for the ``global`` retrieval
            mode; without one the communities are saved without embeddings.
        resolution: Louvain resolution (above 1: more, smaller communities).
        seed: Louvain's random seed; the same graph and seed give the same communities.
        min_community_size: Communities with fewer members are not saved.
        reporter: Has a chat model write the reports of the largest communities (the
            others, and those whose reply stays malformed or that a budget stop leaves
            unasked, keep their extractive summary); ``None``: extractive summaries only.

    Returns:
        Counts, wall time, seconds per stage and (with a reporter) the reports' figures.

    Raises:
        ConfigError: If ``resolution`` is not positive or ``min_community_size`` below 1.
        StoreError: If the store cannot be read or written.
        EmbeddingError: If the embedder fails (nothing is saved).
        LLMError: If the chat model cannot be used (wrong key, endpoint down; nothing is
            saved). A budget stop is not raised: the analysis is saved and reports it.
    """
    _check(resolution, min_community_size)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    relations = await store.all_relations()
    timings["read"] = time.perf_counter() - started
    began = time.perf_counter()
    clusters = await asyncio.to_thread(
        rank_and_cluster,
        relations,
        resolution=resolution,
        seed=seed,
        min_community_size=min_community_size,
    )
    timings["cluster"] = time.perf_counter() - began
    communities = await _summaries(store, clusters, embedder, timings, reporter)
    began = time.perf_counter()
    await store.save_analysis(clusters.ranks, communities)
    timings["save"] = time.perf_counter() - began
    report = AnalysisReport(
        entities=len(clusters.ranks),
        relations=len(relations),
        communities=len(communities),
        seconds=time.perf_counter() - started,
        embedded=sum(c.embedding is not None for c in communities),
        timings={k: round(v, 3) for k, v in timings.items()},
        **_llm_fields(reporter),
    )
    logger.info(
        "analysed %d entities and %d relations: %d communities (%d embedded) in %.1f s",
        report.entities, report.relations, report.communities, report.embedded, report.seconds,
    )  # fmt: skip
    return report


def _llm_fields(reporter: CommunityReporter | None) -> dict[str, Any]:
    """The report's ``llm_*`` fields from the reporter's figures (none without one)."""
    if reporter is None:
        return {}
    stats = reporter.stats
    if stats.stopped is not None:
        logger.warning("community reports stopped by the LLM budget: %s", stats.stopped)
    return {
        "llm_model": stats.model,
        "llm_reports": stats.written,
        "llm_malformed": stats.malformed,
        "llm_unknown_refs": stats.unknown_refs,
        "llm_not_asked": stats.not_asked,
        "llm_stopped": stats.stopped,
        "llm_calls": stats.calls,
        "llm_cached_calls": stats.cached_calls,
        "llm_tokens": stats.tokens,
    }
