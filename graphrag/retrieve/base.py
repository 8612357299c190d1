"""Shared retrieval plumbing: stage timers, a document cache, hit-to-chunk hydration."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from graphrag.models import (
    Document,
    Entity,
    Hit,
    Relation,
    ScoredChunk,
    ScoredCommunity,
    ScoredEntity,
)
from graphrag.ports import GraphStore
from graphrag.retrieve.fusion import dedupe_hits

__all__ = [
    "DocumentCache",
    "Ranking",
    "StageTimer",
    "entity_context",
    "hydrate_chunks",
    "path_names",
    "relations_among",
]


@dataclass
class Ranking:
    """What a mode found before hydration and the token budget.

    Attributes:
        hits: Chunk ids with scores, best first.
        entities: Context entities, best first.
        relations: Relations between the context entities.
        paths: Entity-name paths from question entities to context entities.
        communities: Ranked community summaries (``global`` mode).
        notes: What the caller should know about the context.
    """

    hits: list[Hit]
    entities: list[ScoredEntity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    paths: list[list[str]] = field(default_factory=list)
    communities: list[ScoredCommunity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class StageTimer:
    """Accumulates wall-clock milliseconds per named stage."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a block and add it to ``timings[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1000.0
            self.timings[name] = self.timings.get(name, 0.0) + elapsed

    def finish(self) -> dict[str, float]:
        """Record ``total`` (since construction) and return all timings, rounded to µs."""
        self.timings["total"] = (time.perf_counter() - self._start) * 1000.0
        return {k: round(v, 3) for k, v in self.timings.items()}


class DocumentCache:
    """A small LRU cache of documents by id, with a time-to-live.

    Documents rarely change, and a retrieval needs only their source and title, so caching
    them saves one store round trip per query. Entries expire after ``ttl_seconds`` so a
    renamed or deleted document is picked up soon; missing documents are not cached.

    Args:
        max_size: Documents kept.
        ttl_seconds: Seconds an entry stays valid.
    """

    def __init__(self, max_size: int = 4096, ttl_seconds: float = 300.0) -> None:
        self._max_size = max_size
        self._ttl = ttl_seconds
        self._items: OrderedDict[str, tuple[float, Document]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, document_id: str) -> Document | None:
        """Return a cached, unexpired document or ``None``."""
        item = self._items.get(document_id)
        if item is None:
            return None
        stamp, document = item
        if time.monotonic() - stamp > self._ttl:
            del self._items[document_id]
            return None
        self._items.move_to_end(document_id)
        return document

    def put(self, document: Document) -> None:
        """Cache a document, evicting the least recently used beyond ``max_size``."""
        self._items[document.id] = (time.monotonic(), document)
        self._items.move_to_end(document.id)
        while len(self._items) > self._max_size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every document."""
        self._items.clear()

    async def fetch(self, store: GraphStore, ids: Sequence[str]) -> dict[str, Document]:
        """Return the documents of ``ids`` (unknown ids omitted), reading misses from the store."""
        found: dict[str, Document] = {}
        for doc_id in dict.fromkeys(ids):
            cached = self.get(doc_id)
            if cached is not None:
                found[doc_id] = cached
                continue
            document = await store.get_document(doc_id)
            if document is not None:
                self.put(document)
                found[doc_id] = document
        return found


async def hydrate_chunks(
    store: GraphStore, hits: Sequence[Hit], documents: DocumentCache
) -> list[ScoredChunk]:
    """Turn ranked chunk hits into :class:`ScoredChunk` objects, keeping the hit order.

    Duplicate ids keep their first occurrence; ids the store does not know are skipped.
    A chunk whose document row is missing gets an empty source and title.
    """
    unique = dedupe_hits(hits)
    chunks = {c.id: c for c in await store.get_chunks([h.id for h in unique], extraction=False)}
    docs = await documents.fetch(store, [c.document_id for c in chunks.values()])
    out: list[ScoredChunk] = []
    for hit in unique:
        chunk = chunks.get(hit.id)
        if chunk is None:
            continue
        doc = docs.get(chunk.document_id)
        out.append(
            ScoredChunk(
                id=chunk.id,
                document_id=chunk.document_id,
                source=doc.source if doc else "",
                title=doc.title if doc else "",
                ordinal=chunk.ordinal,
                text=chunk.text,
                score=float(hit.score),
                token_count=chunk.token_count,
            )
        )
    return out


def entity_context(
    hits: Sequence[Hit], entities: Sequence[Entity]
) -> tuple[list[ScoredEntity], dict[str, str]]:
    """Join entity hits with entity rows.

    Returns:
        ``(scored, names)``: scored entities in hit order (unknown ids skipped) and an
        id-to-name map of every entity row given.
    """
    rows = {e.id: e for e in entities}
    scored = [
        ScoredEntity(id=h.id, name=rows[h.id].name, type=rows[h.id].type, score=float(h.score))
        for h in hits
        if h.id in rows
    ]
    return scored, {e.id: e.name for e in entities}


def path_names(paths: Sequence[Sequence[str]], names: dict[str, str]) -> list[list[str]]:
    """Map entity-id paths to entity-name paths, dropping single-node and unknown paths."""
    out: list[list[str]] = []
    for path in paths:
        if len(path) > 1 and all(node in names for node in path):
            out.append([names[node] for node in path])
    return out


def relations_among(relations: Sequence[Relation], entity_ids: set[str]) -> list[Relation]:
    """Return relations whose both endpoints are in ``entity_ids``, heaviest first."""
    kept = [r for r in relations if r.source_id in entity_ids and r.target_id in entity_ids]
    return sorted(kept, key=lambda r: -r.weight)
