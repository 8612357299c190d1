"""Read views the web explorer needs beyond the library's facade.

Each function reads through the store's ports only (so they work on both stores):

- :func:`chunk_entities`: the entities each chunk mentions (the mention edges of
  :meth:`~graphrag.ports.GraphReader.subgraph`, with no expansion).
- :func:`top_entities`: the highest-ranked entities of the last analysis.
- :func:`entity_sentences`: the sentences of an entity's chunks that name it.
- :func:`entity_communities`: the communities an entity belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from api.schemas import CommunityRef, EntityRef, MentionSentence
from graphrag.analyze.summaries import split_sentences
from graphrag.facade import GraphRAG
from graphrag.models import Chunk, Entity

MAX_MENTION_CHUNKS = 50
"""Chunks read for an entity's sentences, at most (its first chunks, most mentions first)."""


def entity_ref(entity: Entity) -> EntityRef:
    """The short form of an entity (id, name, type, rank)."""
    return EntityRef(id=entity.id, name=entity.name, type=entity.type, rank=entity.rank)


async def chunk_entities(rag: GraphRAG, chunk_ids: Sequence[str]) -> dict[str, list[EntityRef]]:
    """Map each chunk id to the entities it mentions (most spans first, then by name).

    Unknown chunk ids map to an empty list.
    """
    wanted = list(dict.fromkeys(chunk_ids))
    if not wanted:
        return {}
    store = rag.components.store
    found = await store.subgraph(wanted, [], degree_cap=0, include_relations=False)
    keep = set(wanted)
    edges = [(c, e, w) for c, e, w in found.chunk_entity if c in keep]
    entities = {e.id: e for e in await store.get_entities(list({e for _, e, _ in edges}))}
    result: dict[str, list[EntityRef]] = {c: [] for c in wanted}
    weights: dict[tuple[str, str], float] = {}
    for chunk, entity, weight in edges:
        if entity in entities and (chunk, entity) not in weights:
            weights[chunk, entity] = weight
            result[chunk].append(entity_ref(entities[entity]))
    for chunk, refs in result.items():
        refs.sort(key=lambda r: (-weights[chunk, r.id], r.name.casefold(), r.id))
    return result


async def top_entities(rag: GraphRAG, limit: int) -> list[Entity]:
    """The ``limit`` highest-ranked entities of the last ``graphrag analyze``.

    Communities list their members highest rank first, and every ranked entity with a
    relation is in one; the global top ``limit`` is therefore among the first ``limit``
    members of each community, so only those are read. Empty before an analysis.
    """
    candidates: list[str] = []
    for community in await rag.communities():
        candidates.extend(community.member_ids[:limit])
    if not candidates:
        return []
    entities = await rag.components.store.get_entities(list(dict.fromkeys(candidates)))
    ranked = [e for e in entities if e.rank is not None]
    ranked.sort(key=lambda e: (-(e.rank or 0.0), e.name.casefold(), e.id))
    return ranked[:limit]


def _name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    words = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=lambda n: (-len(n), n))
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def sentences_naming(text: str, names: Sequence[str]) -> list[str]:
    r"""The sentences of ``text`` that contain one of ``names`` (whole words, any case).

    >>> sentences_naming("Ada wrote notes. Bob did not.\nADA smiled.", ["Ada"])
    ['Ada wrote notes.', 'ADA smiled.']
    >>> sentences_naming("Nothing here.", ["x"])
    []
    """
    pattern = _name_pattern(names)
    if pattern is None:
        return []
    return [s for s in split_sentences(text) if pattern.search(s)]


async def entity_sentences(
    rag: GraphRAG, entity: Entity, names: Sequence[str], limit: int
) -> list[MentionSentence]:
    """Up to ``limit`` sentences of the entity's chunks that name it (or one of ``names``).

    ``names`` are the entity's name, aliases and merged alias names. A chunk whose sentences
    do not contain any of them (the extractor matched a variant of the name) contributes its
    first sentence, so every mentioning chunk is represented.
    """
    store = rag.components.store
    chunk_ids = entity.source_chunk_ids[:MAX_MENTION_CHUNKS]
    chunks: list[Chunk] = await store.get_chunks(chunk_ids)
    documents = {d.id: d for d in await store.get_documents(list({c.document_id for c in chunks}))}
    found: list[MentionSentence] = []
    for chunk in chunks:
        document = documents.get(chunk.document_id)
        sentences = sentences_naming(chunk.text, names) or split_sentences(chunk.text)[:1]
        for sentence in sentences:
            found.append(
                MentionSentence(
                    chunk_id=chunk.id,
                    document_id=chunk.document_id,
                    ordinal=chunk.ordinal,
                    title=document.title if document else "",
                    source=document.source if document else "",
                    sentence=sentence,
                )
            )
            if len(found) >= limit:
                return found
    return found


async def entity_communities(rag: GraphRAG, entity_id: str) -> list[CommunityRef]:
    """The communities of the last analysis that ``entity_id`` is a member of."""
    store = rag.components.store
    ids = (await store.communities_of([entity_id])).get(entity_id, [])
    return [
        CommunityRef(
            id=c.id, level=c.level, title=c.title, summary=c.summary, size=len(c.member_ids)
        )
        for c in await store.get_communities(ids)
    ]
