"""Validation of a document graph before the embedded store writes it (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphrag.errors import InvalidGraphError
from graphrag.models import DocumentGraph, Entity
from graphrag.stores.embedded import rows


@dataclass
class Plan:
    """A validated document graph, reduced to the rows to write."""

    graph: DocumentGraph
    entities: dict[str, Entity] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)
    mentions: dict[tuple[str, str], tuple[list[str], list[tuple[int, int]]]] = field(
        default_factory=dict
    )
    evidence: list[tuple[str, str, str, float]] = field(default_factory=list)


def fail(graph: DocumentGraph, problem: str) -> InvalidGraphError:
    """The error for an invalid document graph (nothing of it is written)."""
    msg = (
        f"document {graph.document.source!r} was not written: {problem}; fix the document "
        "graph (nothing of this document was written)"
    )
    return InvalidGraphError(msg)


def _check_chunks(graph: DocumentGraph, dim: int) -> set[str]:
    doc_id = graph.document.id
    if not doc_id or not graph.document.source:
        raise fail(graph, "the document needs a non-empty id and source")
    chunk_ids: set[str] = set()
    for chunk in graph.chunks:
        if chunk.document_id != doc_id:
            raise fail(graph, f"chunk {chunk.id} belongs to document {chunk.document_id}")
        if chunk.id in chunk_ids:
            raise fail(graph, f"chunk id {chunk.id} appears twice")
        if chunk.embedding is not None and rows.vector_size(chunk.embedding) != dim:
            size = rows.vector_size(chunk.embedding)
            raise fail(graph, f"chunk {chunk.id} has a {size}-d embedding, the store uses {dim}")
        chunk_ids.add(chunk.id)
    return chunk_ids


def _collect_entities(graph: DocumentGraph, dim: int) -> dict[str, Entity]:
    entities: dict[str, Entity] = {}
    for entity in graph.entities:
        if entity.embedding is not None and rows.vector_size(entity.embedding) != dim:
            size = rows.vector_size(entity.embedding)
            raise fail(graph, f"entity {entity.id} has a {size}-d embedding, the store uses {dim}")
        if entity.id in entities:
            first = entities[entity.id]
            extra = [a for a in [entity.name, *entity.aliases] if a not in first.aliases]
            entities[entity.id] = first.model_copy(update={"aliases": first.aliases + extra})
        else:
            entities[entity.id] = entity
    return entities


def _collect_relations(graph: DocumentGraph, chunk_ids: set[str], plan: Plan) -> None:
    for relation in graph.relations:
        plan.referenced.update((relation.source_id, relation.target_id))
        evidence = [(e.chunk_id, e.sentence, e.weight) for e in relation.evidence]
        if not evidence and relation.source_chunk_ids:
            share = relation.weight / len(relation.source_chunk_ids)
            evidence = [(c, "", share) for c in relation.source_chunk_ids]
        if not evidence:
            raise fail(graph, f"relation {relation.id} has no evidence (relations need provenance)")
        for chunk_id, sentence, weight in evidence:
            if chunk_id not in chunk_ids:
                raise fail(
                    graph, f"relation {relation.id} cites chunk {chunk_id} of another document"
                )
            plan.evidence.append((relation.id, chunk_id, sentence, float(weight)))


def prepare(graph: DocumentGraph, dim: int) -> Plan:
    """Validate a document graph without touching the database.

    Args:
        graph: The document graph to write.
        dim: The store's embedding dimension.

    Returns:
        The rows to write.

    Raises:
        StoreQueryError: Naming the document source and what is wrong.
    """
    chunk_ids = _check_chunks(graph, dim)
    plan = Plan(graph=graph)
    for mention in graph.mentions:
        if mention.chunk_id not in chunk_ids:
            raise fail(graph, f"a mention cites chunk {mention.chunk_id} of another document")
        plan.referenced.add(mention.entity_id)
        forms, spans = plan.mentions.setdefault((mention.chunk_id, mention.entity_id), ([], []))
        forms.extend(f for f in mention.surface_forms if f not in forms)
        spans.extend(s for s in mention.spans if s not in spans)
    _collect_relations(graph, chunk_ids, plan)
    entities = _collect_entities(graph, dim)
    plan.entities = {k: v for k, v in entities.items() if k in plan.referenced}
    return plan
