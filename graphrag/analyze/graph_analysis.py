"""Entity ranks (PageRank) and communities (Louvain) over the whole entity graph.

:func:`analyze_graph` reads every relation from the store, builds an undirected weighted
graph (parallel relations between two entities add up their weights), ranks the entities
with PageRank and groups them with Louvain (seeded, so a rerun on the same graph gives the
same communities and ids). Each community gets a title (its three highest-ranked members)
and an extractive summary built from its strongest SVO relations; no LLM is involved. The
result replaces the previous analysis in one :meth:`~graphrag.ports.GraphStore.save_analysis`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from graphrag.errors import ConfigError
from graphrag.ids import digest
from graphrag.models import Community, Relation, RelationKind
from graphrag.ports import GraphStore

logger = logging.getLogger(__name__)

LEVEL = 0
"""Level of the communities written (one level: the final Louvain partition)."""

SUMMARY_PREFIX = "Extractive summary:"
"""Start of every summary: it is built from stored names and relations, not by an LLM."""

TITLE_MEMBERS = 3
SUMMARY_ENTITIES = 8
SUMMARY_RELATIONS = 5
PAGERANK_MAX_ITER = 200
"""Power iterations allowed (damping 0.85 converges well within this on any graph)."""


@dataclass(frozen=True)
class AnalysisReport:
    """What :func:`analyze_graph` did.

    Attributes:
        entities: Entities ranked (every endpoint of a relation).
        relations: Relations read from the store.
        communities: Communities saved (with at least ``min_community_size`` members).
        seconds: Wall time, reading and saving included.
    """

    entities: int
    relations: int
    communities: int
    seconds: float


@dataclass
class Clusters:
    """Ranks and communities computed from the relations (no names yet).

    Attributes:
        ranks: PageRank of every entity in the graph (sums to 1).
        groups: Community members, highest rank first; groups by size descending.
        key_relations: For each group, its strongest SVO relations inside the group.
    """

    ranks: dict[str, float]
    groups: list[list[str]]
    key_relations: list[list[Relation]]


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
        ranks=ranks, groups=groups, key_relations=_key_relations(relations, group_of, len(groups))
    )


def community_id(level: int, ordinal: int, member_ids: Sequence[str]) -> str:
    """Return the id of a community: its level, ordinal and a hash of its sorted members."""
    return "k_" + digest(str(level), str(ordinal), digest(*sorted(member_ids)))


def summarize(
    members: Sequence[str], relations: Sequence[Relation], names: Mapping[str, str]
) -> str:
    """Return the extractive summary of a community (top members, strongest SVO relations).

    Args:
        members: Member ids, highest rank first.
        relations: The community's strongest SVO relations, strongest first.
        names: Entity id to display name (missing ids are shown as ids).
    """
    shown = [names.get(e, e) for e in members[:SUMMARY_ENTITIES]]
    more = len(members) - len(shown)
    entities = ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")

    def name(entity_id: str) -> str:
        return names.get(entity_id, entity_id)

    facts = ", ".join(f"{name(r.source_id)} –{r.predicate}→ {name(r.target_id)}" for r in relations)
    return f"{SUMMARY_PREFIX} Entities: {entities}; key relations: {facts or 'none found'}."


def make_communities(clusters: Clusters, names: Mapping[str, str]) -> list[Community]:
    """Turn computed groups into :class:`Community` models with titles and summaries."""
    communities: list[Community] = []
    for ordinal, (members, relations) in enumerate(
        zip(clusters.groups, clusters.key_relations, strict=True)
    ):
        communities.append(
            Community(
                id=community_id(LEVEL, ordinal, members),
                level=LEVEL,
                ordinal=ordinal,
                member_ids=list(members),
                title=", ".join(names.get(e, e) for e in members[:TITLE_MEMBERS]),
                summary=summarize(members, relations, names),
            )
        )
    return communities


def named_ids(clusters: Clusters) -> list[str]:
    """The entity ids whose names titles and summaries show."""
    wanted: dict[str, None] = {}
    for members, relations in zip(clusters.groups, clusters.key_relations, strict=True):
        wanted.update(dict.fromkeys(members[:SUMMARY_ENTITIES]))
        for relation in relations:
            wanted.update(dict.fromkeys((relation.source_id, relation.target_id)))
    return list(wanted)


def _check(resolution: float, min_community_size: int) -> None:
    if not resolution > 0:
        msg = f"resolution must be a positive number, got {resolution!r}; 1.0 is the default"
        raise ConfigError(msg)
    if min_community_size < 1:
        msg = f"min_community_size must be at least 1, got {min_community_size}; 2 is the default"
        raise ConfigError(msg)


async def analyze_graph(
    store: GraphStore, *, resolution: float = 1.0, seed: int = 42, min_community_size: int = 2
) -> AnalysisReport:
    """Rank entities, find communities and save both to the store (replacing older ones).

    Example:
        ```python
        async def analyze(settings: Settings) -> None:
            components = await open_components(settings)
            report = await analyze_graph(components.store)
            print(report.entities, report.communities)
            await components.close()
        ```

    Args:
        store: The graph store to read and update.
        resolution: Louvain resolution (above 1: more, smaller communities).
        seed: Louvain's random seed; the same graph and seed give the same communities.
        min_community_size: Communities with fewer members are not saved.

    Returns:
        Counts and wall time.

    Raises:
        ConfigError: If ``resolution`` is not positive or ``min_community_size`` below 1.
        StoreError: If the store cannot be read or written.
    """
    _check(resolution, min_community_size)
    started = time.perf_counter()
    relations = await store.all_relations()
    clusters = await asyncio.to_thread(
        rank_and_cluster,
        relations,
        resolution=resolution,
        seed=seed,
        min_community_size=min_community_size,
    )
    names = {e.id: e.name for e in await store.get_entities(named_ids(clusters))}
    communities = make_communities(clusters, names)
    await store.save_analysis(clusters.ranks, communities)
    report = AnalysisReport(
        entities=len(clusters.ranks),
        relations=len(relations),
        communities=len(communities),
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "analysed %d entities and %d relations: %d communities in %.1f s",
        report.entities, report.relations, report.communities, report.seconds,
    )  # fmt: skip
    return report
