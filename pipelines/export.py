"""Export the knowledge graph: GraphML or node-link JSON files, or another store.

Nodes are entities (``name``, ``type``, ``mention_count``, ``rank``, ``aliases`` joined by
``"; "``); edges are relations (``predicate``, ``kind``, ``weight``, ``source_chunk_ids``
joined by ``","``), keyed by relation id in a :class:`networkx.MultiDiGraph` so two predicates
between the same entities stay two edges. With ``with_chunks``, documents and chunks are added
as nodes, with ``part_of`` edges (chunk -> document) and ``mentions`` edges (chunk -> entity).
Every node has a ``kind`` (``entity``, ``document``, ``chunk``) and every edge a ``label``
(``relation``, ``part_of``, ``mentions``) so tools can style them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from graphrag.errors import GraphRAGError
from graphrag.models import DocumentGraph, Entity, Relation
from graphrag.ports import GraphStore

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

_ENTITY_BATCH = 500


class ExportFormat(StrEnum):
    """Output formats (``parquet`` is written by :mod:`pipelines.parquet_export`)."""

    GRAPHML = "graphml"
    JSON = "json"
    PARQUET = "parquet"


@dataclass
class ExportSummary:
    """What an export wrote."""

    path: Path
    format: ExportFormat
    nodes: int
    edges: int
    entities: int
    relations: int
    documents: int
    chunks: int


async def build_graph(store: GraphStore, *, with_chunks: bool = False) -> nx.MultiDiGraph:
    """Build the export graph from the store.

    Entities are collected from ``store.iter_document_graphs()`` (and relation endpoints),
    then read back with ``get_entities`` so mention counts, ranks and aliases are the stored
    ones; relations come from ``store.all_relations()``.

    Args:
        store: The graph store to read.
        with_chunks: Add document and chunk nodes with ``part_of`` and ``mentions`` edges.

    Returns:
        A directed multigraph with only GraphML-compatible (scalar) attributes.
    """
    graph = nx.MultiDiGraph()
    entity_ids: dict[str, None] = {}
    async for doc_graph in store.iter_document_graphs():
        for entity in doc_graph.entities:
            entity_ids.setdefault(entity.id)
        for mention in doc_graph.mentions:
            entity_ids.setdefault(mention.entity_id)
        if with_chunks:
            _add_document(graph, doc_graph)
    relations = await store.all_relations()
    for relation in relations:
        entity_ids.setdefault(relation.source_id)
        entity_ids.setdefault(relation.target_id)
    # sorted by id: the same graph exports byte-identical files, however it was built
    for entity in await _read_entities(store, sorted(entity_ids)):
        graph.add_node(entity.id, **_entity_attrs(entity))
    for relation in sorted(relations, key=lambda r: r.id):
        if relation.source_id in graph and relation.target_id in graph:
            graph.add_edge(
                relation.source_id, relation.target_id, key=relation.id, **_relation_attrs(relation)
            )
        else:
            logger.warning("relation %s points to a missing entity; skipped", relation.id)
    if with_chunks:
        _drop_dangling_mentions(graph)
    return graph


def write_graph(graph: nx.MultiDiGraph, fmt: ExportFormat, output: Path) -> None:
    """Write ``graph`` to ``output`` as GraphML or node-link JSON.

    Raises:
        GraphRAGError: If the file cannot be written.
    """
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt is ExportFormat.GRAPHML:
            nx.write_graphml(graph, output)
        elif fmt is ExportFormat.JSON:
            data = nx.node_link_data(graph, edges="edges")
            output.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            msg = f"{fmt} is not a graph file format; use pipelines.parquet_export for tables"
            raise GraphRAGError(msg)
    except OSError as exc:
        msg = f"cannot write the export to {output}: {exc.strerror or exc}; check the path"
        raise GraphRAGError(msg) from exc


async def export_graph(
    store: GraphStore, fmt: ExportFormat, output: Path, *, with_chunks: bool = False
) -> ExportSummary:
    """Build the graph from ``store`` and write it to ``output``.

    Returns:
        Counts of what was written.
    """
    graph = await build_graph(store, with_chunks=with_chunks)
    write_graph(graph, fmt, output)
    kinds = [data.get("kind") for _, data in graph.nodes(data=True)]
    labels = [data.get("label") for _, _, data in graph.edges(data=True)]
    return ExportSummary(
        path=output,
        format=fmt,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        entities=kinds.count("entity"),
        relations=labels.count("relation"),
        documents=kinds.count("document"),
        chunks=kinds.count("chunk"),
    )


async def _read_entities(store: GraphStore, ids: Sequence[str]) -> list[Entity]:
    found: list[Entity] = []
    for start in range(0, len(ids), _ENTITY_BATCH):
        found.extend(await store.get_entities(ids[start : start + _ENTITY_BATCH]))
    return found


def _entity_attrs(entity: Entity) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "kind": "entity",
        "name": entity.name,
        "type": entity.type,
        "mention_count": entity.mention_count,
        "aliases": "; ".join(sorted(entity.aliases)),
    }
    if entity.rank is not None:
        attrs["rank"] = float(entity.rank)
    if entity.description:
        attrs["description"] = entity.description
    return attrs


def _relation_attrs(relation: Relation) -> dict[str, Any]:
    return {
        "label": "relation",
        "predicate": relation.predicate,
        "kind": str(relation.kind),
        "weight": round(float(relation.weight), 9),
        "source_chunk_ids": ",".join(sorted(relation.source_chunk_ids)),
    }


def _add_document(graph: nx.MultiDiGraph, doc_graph: DocumentGraph) -> None:
    doc = doc_graph.document
    graph.add_node(doc.id, kind="document", title=doc.title, source=doc.source, mime=doc.mime)
    for chunk in doc_graph.chunks:
        graph.add_node(
            chunk.id,
            kind="chunk",
            document_id=doc.id,
            ordinal=chunk.ordinal,
            token_count=chunk.token_count,
            text=chunk.text,
        )
        graph.add_edge(chunk.id, doc.id, key="part_of", label="part_of")
    for mention in doc_graph.mentions:
        graph.add_edge(
            mention.chunk_id,
            mention.entity_id,
            key="mentions",
            label="mentions",
            surface_forms="; ".join(mention.surface_forms),
        )


def _drop_dangling_mentions(graph: nx.MultiDiGraph) -> None:
    """Remove nodes that only exist because a mention pointed to an unknown entity."""
    dangling = [node for node, data in graph.nodes(data=True) if "kind" not in data]
    if dangling:
        logger.warning("%d mentions point to missing entities; dropped", len(dangling))
        graph.remove_nodes_from(dangling)
