"""A canonical, comparable snapshot of everything derived in a store (through the port).

Two stores hold the same graph exactly when their snapshots are equal; tests and the
order-independence benchmark compare them.
"""

from __future__ import annotations

from typing import Any

from graphrag.ports import GraphStore


async def snapshot(store: GraphStore) -> dict[str, Any]:
    """Everything derived in the store, in a canonical, comparable form.

    Documents (id, content hash, status), entities (name, type, sorted aliases), mentions
    (chunk, entity, sorted surface forms and spans), relations (endpoints, predicate and
    sorted evidence with weights rounded to 1e-6), merge records (alias, canonical, method,
    score rounded to 1e-4, undone) and the counts and resolution backlog of the store.
    """
    entities: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    mentions: set[tuple[str, str, tuple[str, ...], tuple[tuple[int, int], ...]]] = set()
    relations: dict[str, Any] = {}
    documents = []
    async for graph in store.iter_document_graphs():
        documents.append((graph.document.id, graph.document.content_hash, graph.document.status))
        for e in graph.entities:
            entities[e.id] = (e.name, e.type, tuple(sorted(e.aliases)))
        for m in graph.mentions:
            spans = tuple(sorted((int(a), int(b)) for a, b in m.spans))
            mentions.add((m.chunk_id, m.entity_id, tuple(sorted(m.surface_forms)), spans))
        for r in graph.relations:
            head = relations.setdefault(r.id, [r.source_id, r.target_id, r.predicate, set()])
            head[3].update((e.chunk_id, e.sentence, round(e.weight, 6)) for e in r.evidence)
    merges = sorted(
        (m.alias_id, m.canonical_id, m.method, round(m.score, 4), m.undone_at is not None)
        for m in await store.merges()
    )
    stats = await store.stats()
    return {
        "documents": sorted(documents),
        "entities": entities,
        "mentions": sorted(mentions),
        "relations": {k: (*v[:3], sorted(v[3])) for k, v in relations.items()},
        "merges": merges,
        "counts": (stats.entities, stats.relations, stats.mentions, stats.merges),
        "backlog": (stats.dirty_keys, stats.pending_documents),
    }
