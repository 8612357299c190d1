"""Derive a document's mentions and relations from its chunks' extractions (pure).

Given the entity each key resolves to, a document's chunk extractions become its
:class:`~graphrag.models.DocumentGraph`: mentions (chunk -> entity, with surface forms and
spans) and relations with their evidence sentences. The same function builds a new document
and re-derives a stored one after resolution changed, so both give identical rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graphrag.ids import relation_id
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    Relation,
    RelationKind,
)
from graphrag.resolution.keys import mention_key


def chunk_keys(chunks: Sequence[Chunk]) -> list[str]:
    """Every key the chunks' extractions mention, in order of first appearance."""
    keys: dict[str, None] = {}
    for chunk in chunks:
        if chunk.extraction is None:
            continue
        for raw in chunk.extraction.mentions:
            key = mention_key(raw)
            if key is not None:
                keys.setdefault(key)
    return list(keys)


def assemble(
    document: Document,
    chunks: Sequence[Chunk],
    assignments: Mapping[str, str],
    entities: Mapping[str, Entity],
) -> DocumentGraph:
    """Build the graph a document contributes under the given resolution.

    Args:
        document: The document (written as ``done`` with its chunk count).
        chunks: Its chunks, each with its ``extraction``.
        assignments: Key -> entity id, for every key the extractions mention.
        entities: Entity id -> its derived view, for every assigned entity.

    Returns:
        The document graph; relations between two mentions of one entity are dropped.
    """
    used: dict[str, Entity] = {}
    mentions: dict[tuple[str, str], Mention] = {}
    relations: dict[str, Relation] = {}
    for chunk in chunks:
        if chunk.extraction is None:
            continue
        ids: list[str | None] = []
        for raw in chunk.extraction.mentions:
            key = mention_key(raw)
            entity = entities.get(assignments.get(key, "")) if key else None
            if entity is None:  # unusable surface (empty after normalising)
                ids.append(None)
                continue
            used[entity.id] = entity
            ids.append(entity.id)
            _add_mention(mentions, chunk.id, entity.id, raw.surface, (raw.start, raw.end))
        for raw_rel in chunk.extraction.relations:
            src, dst = ids[raw_rel.subject], ids[raw_rel.object]
            if src is None or dst is None or src == dst:
                continue
            _add_relation(relations, chunk.id, src, dst, raw_rel.predicate, raw_rel.kind,
                          raw_rel.sentence, raw_rel.weight)  # fmt: skip
    status = {"chunk_count": len(chunks), "status": DocumentStatus.DONE, "error": None}
    return DocumentGraph(
        document=document.model_copy(update=status),
        chunks=list(chunks),
        entities=[used[i] for i in sorted(used)],
        mentions=list(mentions.values()),
        relations=[relations[i] for i in sorted(relations)],
    )


def _add_mention(
    mentions: dict[tuple[str, str], Mention],
    chunk_id: str,
    entity_id: str,
    surface: str,
    span: tuple[int, int],
) -> None:
    mention = mentions.get((chunk_id, entity_id))
    if mention is None:
        mentions[(chunk_id, entity_id)] = Mention(
            chunk_id=chunk_id, entity_id=entity_id, surface_forms=[surface], spans=[span]
        )
        return
    if surface not in mention.surface_forms:
        mention.surface_forms.append(surface)
    mention.spans.append(span)


def _add_relation(
    relations: dict[str, Relation],
    chunk_id: str,
    src: str,
    dst: str,
    predicate: str,
    kind: RelationKind,
    sentence: str,
    weight: float,
) -> None:
    if kind is RelationKind.COOCCURRENCE and dst < src:
        src, dst = dst, src  # co-occurrence is undirected: one canonical direction
    rid = relation_id(src, predicate, dst)
    relation = relations.get(rid)
    if relation is None:
        relation = Relation(
            id=rid, source_id=src, target_id=dst, predicate=predicate, kind=kind, weight=0.0
        )
        relations[rid] = relation
    relation.weight += weight
    for evidence in relation.evidence:
        if evidence.chunk_id == chunk_id and evidence.sentence == sentence:
            evidence.weight += weight
            return
    relation.evidence.append(Evidence(chunk_id=chunk_id, sentence=sentence, weight=weight))
