"""Validation and deduplication of a batch of document graphs before it is written.

:func:`plan_batch` checks a batch of :class:`~graphrag.models.DocumentGraph` with the same
rules as the embedded store (ids, chunk ownership, embedding sizes, evidence) and reduces it
to deduplicated payloads built by :mod:`graphrag.stores.arango.mapping`; entities,
relations and mentions shared by several graphs are merged. :func:`split_payload` cuts a
payload into requests of bounded size. No I/O happens here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag.errors import InvalidGraphError, StoreQueryError
from graphrag.models import DocumentGraph, DocumentStatus, Entity, MergeRecord, Relation, Vector
from graphrag.stores.arango.mapping import (
    Doc,
    check_key,
    chunk_to_doc,
    document_to_doc,
    entity_payload,
    entity_ref_payload,
    evidence_docs,
    evidence_rows,
    key_docs,
    mention_to_doc,
    merge_to_doc,
    part_of_doc,
    relation_to_doc,
    surface_docs,
)

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""Largest JSON document written (ArangoDB answers bigger requests with HTTP 413)."""

MAX_REQUEST_BYTES = 8 * 1024 * 1024
"""Target size of one bulk request; bigger payloads are split."""


@dataclass
class WritePlan:
    """A validated batch of document graphs, reduced to deduplicated payloads.

    Attributes:
        doc_keys: The documents written (existing ones are retracted first).
        documents: ``documents`` payload.
        chunks: ``chunks`` payload.
        part_of: ``part_of`` edges.
        mentions: ``mentions`` edges, one per (chunk, entity).
        entities: ``upsert_entities.aql`` items (:func:`entity_payload`, and
            :func:`entity_ref_payload` for stored entities mentioned but not given).
        relations: ``relations`` edges (evidence sample; exact weight set by the query).
        evidence: ``evidence`` documents, one per evidence item of the batch.
        merges: ``merges`` payload.
        external: Entity ids referenced but not given (they must already be stored).
        referenced: Every entity id referenced by mentions and relations.
        sources: Document id -> source, for messages.
        surfaces: ``surfaces`` payload (key counts of the chunks' extractions).
        keys: ``resolution_keys`` payload (inserted unless present; queued for resolution).
        derived: Whether mentions, entities and relations are written (else the documents
            are left pending).
        rederive: The documents exist: only their derived rows are replaced and entities
            are overwritten with the given views.
        retract: Retract the documents' previous rows first (false: a later part of a
            document written or derived in parts).
        finish: A ``rederive`` plan marks the documents derived (false: not the last part).
    """

    doc_keys: list[str] = field(default_factory=list)
    documents: list[Doc] = field(default_factory=list)
    chunks: list[Doc] = field(default_factory=list)
    part_of: list[Doc] = field(default_factory=list)
    mentions: list[Doc] = field(default_factory=list)
    entities: list[Doc] = field(default_factory=list)
    relations: list[Doc] = field(default_factory=list)
    evidence: list[Doc] = field(default_factory=list)
    merges: list[Doc] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    referenced: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    surfaces: list[Doc] = field(default_factory=list)
    keys: list[Doc] = field(default_factory=list)
    derived: bool = True
    rederive: bool = False
    retract: bool = True
    finish: bool = True


def _fail(graph: DocumentGraph, problem: str) -> InvalidGraphError:
    msg = (
        f"document {graph.document.source!r} was not written: {problem}; fix the document "
        "graph (nothing of this document was written)"
    )
    return InvalidGraphError(msg)


def _vector_size(vector: Vector) -> int:
    return int(np.asarray(vector).size)


def _check_chunks(graph: DocumentGraph, dim: int) -> set[str]:
    doc_id = graph.document.id
    if not doc_id or not graph.document.source:
        raise _fail(graph, "the document needs a non-empty id and source")
    check_key("document", doc_id)
    chunk_ids: set[str] = set()
    for chunk in graph.chunks:
        check_key("chunk", chunk.id)
        if chunk.document_id != doc_id:
            raise _fail(graph, f"chunk {chunk.id} belongs to document {chunk.document_id}")
        if chunk.id in chunk_ids:
            raise _fail(graph, f"chunk id {chunk.id} appears twice")
        if chunk.embedding is not None and dim and _vector_size(chunk.embedding) != dim:
            size = _vector_size(chunk.embedding)
            raise _fail(graph, f"chunk {chunk.id} has a {size}-d embedding, the store uses {dim}")
        chunk_ids.add(chunk.id)
    return chunk_ids


def merge_entity(first: Entity, other: Entity) -> Entity:
    """Merge two versions of one entity: the first keeps its fields and gains aliases."""
    extra = [a for a in [other.name, *other.aliases] if a not in first.aliases]
    return first.model_copy(
        update={
            "aliases": first.aliases + extra,
            "description": first.description or other.description,
            "embedding": first.embedding if first.embedding is not None else other.embedding,
        }
    )


def _entities(graph: DocumentGraph, dim: int, into: dict[str, Entity]) -> None:
    for entity in graph.entities:
        check_key("entity", entity.id)
        if entity.embedding is not None and dim and _vector_size(entity.embedding) != dim:
            size = _vector_size(entity.embedding)
            raise _fail(graph, f"entity {entity.id} has a {size}-d embedding, the store uses {dim}")
        into[entity.id] = merge_entity(into[entity.id], entity) if entity.id in into else entity


def _mentions(
    graph: DocumentGraph,
    chunk_ids: set[str],
    into: dict[tuple[str, str], tuple[list[str], list[tuple[int, int]]]],
) -> None:
    for mention in graph.mentions:
        if mention.chunk_id not in chunk_ids:
            raise _fail(graph, f"a mention cites chunk {mention.chunk_id} of another document")
        check_key("entity", mention.entity_id)
        forms, spans = into.setdefault((mention.chunk_id, mention.entity_id), ([], []))
        forms.extend(f for f in mention.surface_forms if f not in forms)
        for start, end in mention.spans:
            span = (int(start), int(end))
            if span not in spans:
                spans.append(span)


def _relations(
    graph: DocumentGraph, chunk_ids: set[str], into: dict[str, tuple[Relation, list[Doc]]]
) -> None:
    for relation in graph.relations:
        check_key("relation", relation.id)
        check_key("entity", relation.source_id)
        check_key("entity", relation.target_id)
        evidence = evidence_docs(relation)
        if not evidence:
            raise _fail(
                graph, f"relation {relation.id} has no evidence (relations need provenance)"
            )
        for item in evidence:
            if item["chunk_id"] not in chunk_ids:
                raise _fail(
                    graph,
                    f"relation {relation.id} cites chunk {item['chunk_id']} of another document",
                )
        if relation.id in into:
            into[relation.id][1].extend(evidence)
        else:
            into[relation.id] = (relation, evidence)


@dataclass
class _Parsed:
    """One validated graph, reduced to its deduplicated mentions, relations and entities."""

    chunk_ids: set[str]
    mentions: dict[tuple[str, str], tuple[list[str], list[tuple[int, int]]]]
    relations: dict[str, tuple[Relation, list[Doc]]]
    entities: dict[str, Entity]
    referenced: set[str]


def _parse(graph: DocumentGraph, dim: int) -> _Parsed:
    chunk_ids = _check_chunks(graph, dim)
    for merge in graph.merges:
        check_key("merge", merge.id)
    mentions: dict[tuple[str, str], tuple[list[str], list[tuple[int, int]]]] = {}
    _mentions(graph, chunk_ids, mentions)
    relations: dict[str, tuple[Relation, list[Doc]]] = {}
    _relations(graph, chunk_ids, relations)
    entities: dict[str, Entity] = {}
    _entities(graph, dim, entities)
    referenced = {e for _, e in mentions}
    referenced.update(i for r, _ in relations.values() for i in (r.source_id, r.target_id))
    return _Parsed(chunk_ids, mentions, relations, entities, referenced)


def check_graph(graph: DocumentGraph, dim: int) -> set[str]:
    """Validate one graph; return the entity ids it references without providing them.

    Raises:
        StoreQueryError: Naming the document and what is wrong.
    """
    parsed = _parse(graph, dim)
    return parsed.referenced - parsed.entities.keys()


def unknown_entities_error(graph: DocumentGraph, missing: set[str]) -> StoreQueryError:
    """The error for a graph that references entities that are neither given nor stored."""
    return _fail(graph, f"mentions or relations reference unknown entities {sorted(missing)[:5]}")


def validate_in_order(
    graphs: Sequence[DocumentGraph], dim: int
) -> tuple[list[set[str]], tuple[int, StoreQueryError] | None]:
    """Validate graphs in order until the first invalid one.

    Returns:
        The external entity ids of each valid graph (see :func:`check_graph`), and the
        position and error of the first invalid graph (``None`` if all are valid).
    """
    external: list[set[str]] = []
    for position, graph in enumerate(graphs):
        try:
            external.append(check_graph(graph, dim))
        except StoreQueryError as exc:
            return external, (position, exc)
    return external, None


def first_unknown(
    graphs: Sequence[DocumentGraph], external: Sequence[set[str]], missing: set[str]
) -> tuple[int, StoreQueryError] | None:
    """Return the first graph referencing an entity neither stored nor given before it.

    Args:
        graphs: The graphs, in write order.
        external: Their external references (:func:`validate_in_order`).
        missing: The external references that are not stored.
    """
    provided: set[str] = set()
    for position, (graph, refs) in enumerate(zip(graphs, external, strict=False)):
        unknown = (refs & missing) - provided
        if unknown:
            return position, unknown_entities_error(graph, unknown)
        provided.update(e.id for e in graph.entities)
    return None


def _graph_rows(graph: DocumentGraph, dim: int, plan: WritePlan, acc: _Accumulator) -> None:
    parsed = _parse(graph, dim)
    plan.doc_keys.append(graph.document.id)
    plan.sources[graph.document.id] = graph.document.source
    if not plan.rederive:
        plan.documents.append(
            document_to_doc(graph.document, status=DocumentStatus.DONE,
                            chunk_count=len(graph.chunks), error=None, derived=plan.derived)
        )  # fmt: skip
        plan.chunks.extend(chunk_to_doc(c) for c in graph.chunks)
        plan.part_of.extend(part_of_doc(c) for c in graph.chunks)
        plan.surfaces.extend(s for c in graph.chunks for s in surface_docs(c))
    if not plan.derived:
        return
    for (chunk_id, entity_id), (forms, spans) in parsed.mentions.items():
        plan.mentions.append(mention_to_doc(chunk_id, entity_id, forms, spans))
        acc.sources.setdefault(entity_id, set()).add(chunk_id)
    for eid in sorted(parsed.referenced):
        if eid in parsed.entities:
            acc.add_entity(parsed.entities[eid])
        else:
            acc.referenced.add(eid)
    for relation, evidence in parsed.relations.values():
        acc.add_relation(relation, evidence)
    for merge in graph.merges:
        acc.merges.setdefault(merge.id, merge)


@dataclass
class _Accumulator:
    """Entities, relations and merges merged across the graphs of a batch."""

    entities: dict[str, Entity] = field(default_factory=dict)
    sources: dict[str, set[str]] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)
    relations: dict[str, tuple[Relation, list[Doc]]] = field(default_factory=dict)
    merges: dict[str, MergeRecord] = field(default_factory=dict)

    def add_entity(self, entity: Entity) -> None:
        known = self.entities.get(entity.id)
        self.entities[entity.id] = entity if known is None else merge_entity(known, entity)

    def add_relation(self, relation: Relation, evidence: list[Doc]) -> None:
        known = self.relations.get(relation.id)
        if known is None:
            self.relations[relation.id] = (relation, list(evidence))
        else:
            known[1].extend(evidence)


def plan_batch(
    graphs: Sequence[DocumentGraph], dim: int, *, derived: bool = True, rederive: bool = False
) -> WritePlan:
    """Validate a batch and reduce it to deduplicated payloads (no I/O).

    A document repeated in the batch is written once (its last version). Entities, relations
    and mentions shared by several graphs are merged: aliases and evidence are combined,
    the first non-empty description and embedding win.

    Args:
        graphs: The document graphs to write.
        dim: The store's embedding dimension (0 skips the check).
        derived: Also write mentions, entities and relations (else leave them pending).
        rederive: The documents are stored: replace only their derived rows.

    Returns:
        The payloads of the batch.

    Raises:
        StoreQueryError: Naming the document and what is wrong, or an invalid key.
    """
    latest: dict[str, DocumentGraph] = {}
    for graph in graphs:
        latest[graph.document.id] = graph
    plan = WritePlan(derived=derived or rederive, rederive=rederive)
    acc = _Accumulator()
    for graph in latest.values():
        _graph_rows(graph, dim, plan, acc)
    if not rederive:
        plan.keys = key_docs(c for g in latest.values() for c in g.chunks)
    plan.entities = [
        entity_payload(entity, sorted(acc.sources.get(eid, ())))
        for eid, entity in acc.entities.items()
    ]
    plan.external = sorted(acc.referenced - acc.entities.keys())
    # stored entities that mentions reference without the graph listing them still gain the
    # mentioning chunks in their count and sample (the exact chunks are the mentions edges)
    plan.entities += [
        entity_ref_payload(eid, sorted(acc.sources[eid]))
        for eid in plan.external
        if acc.sources.get(eid)
    ]
    plan.referenced = sorted(acc.referenced | acc.entities.keys())
    plan.relations = [relation_to_doc(r, ev) for r, ev in acc.relations.values()]
    plan.evidence = [row for r, ev in acc.relations.values() for row in evidence_rows(r.id, ev)]
    plan.merges = [merge_to_doc(m) for m in acc.merges.values()]
    return plan


def split_payload(
    kind: str, items: Sequence[Doc], *, max_items: int, max_bytes: int = MAX_REQUEST_BYTES
) -> list[list[Doc]]:
    """Split a payload into requests of at most ``max_items`` items and about ``max_bytes``.

    Raises:
        StoreQueryError: If one item alone is larger than :data:`MAX_DOCUMENT_BYTES`.
    """
    parts: list[list[Doc]] = []
    current: list[Doc] = []
    size = 0
    for item in items:
        item_bytes = len(json.dumps(item, separators=(",", ":"), default=str))
        if item_bytes > MAX_DOCUMENT_BYTES:
            key = item.get("_key") or item.get("doc", {}).get("_key")
            msg = (
                f"{kind} {key} is {item_bytes / 2**20:.1f} MiB of JSON, over the "
                f"{MAX_DOCUMENT_BYTES // 2**20} MiB limit; lower GRAPHRAG_CHUNKING__MAX_TOKENS "
                "or GRAPHRAG_ARANGO__BATCH_SIZE"
            )
            raise StoreQueryError(msg)
        if current and (len(current) >= max_items or size + item_bytes > max_bytes):
            parts.append(current)
            current, size = [], 0
        current.append(item)
        size += item_bytes
    if current:
        parts.append(current)
    return parts
