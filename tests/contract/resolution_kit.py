"""Annotated documents for the resolution tests, and a store-agnostic graph snapshot.

A chunk is written with its mentions marked: ``"[Marie Curie|PERSON] was born in
[Warsaw|GPE]."``. :func:`raw_graph` turns a source and its chunks into a raw
:class:`DocumentGraph` (chunks with extractions and vectors, nothing derived); every pair of
mentions of a chunk co-occurs, and ``"[A|T] ~found~ [B|T]"`` also gives an SVO relation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from graphrag.config import ResolutionSettings
from graphrag.ids import chunk_id, content_hash, document_id
from graphrag.models import (
    Chunk,
    ChunkExtraction,
    Document,
    DocumentGraph,
    RawMention,
    RawRelation,
    RelationKind,
)
from graphrag.resolution.reconcile import Reconciler
from graphrag.testing.snapshot import snapshot

__all__ = ["Spec", "ingest", "raw_graph", "snapshot"]

_MARK = re.compile(r"\[([^|\]]+)\|([A-Z_]+)\]")
_VERB = re.compile(r"~([a-z ]+)~")

Spec = tuple[str, list[str]]


def _chunk(doc_id: str, ordinal: int, marked: str, offset: int) -> Chunk:
    text, mentions, verbs = "", [], []
    position = 0
    for match in re.finditer(f"{_MARK.pattern}|{_VERB.pattern}", marked):
        text += marked[position : match.start()]
        if match.group(1) is not None:
            start = len(text)
            text += match.group(1)
            mentions.append(RawMention(surface=match.group(1), type=match.group(2),
                                       start=start, end=len(text)))  # fmt: skip
        else:
            text += match.group(3)
            verbs.append((len(mentions), match.group(3)))
        position = match.end()
    text += marked[position:]
    relations = [
        RawRelation(subject=i, object=j, predicate="co_occurs_with",
                    kind=RelationKind.COOCCURRENCE, sentence=text, weight=1.0)
        for i in range(len(mentions)) for j in range(i + 1, len(mentions))
    ]  # fmt: skip
    relations += [
        RawRelation(subject=n - 1, object=n, predicate=verb, kind=RelationKind.SVO, sentence=text)
        for n, verb in verbs
        if 0 < n < len(mentions)
    ]
    cid = chunk_id(doc_id, ordinal)
    return Chunk(
        id=cid, document_id=doc_id, ordinal=ordinal, text=text, start=offset,
        end=offset + len(text), token_count=len(text.split()),
        extraction=ChunkExtraction(chunk_id=cid, mentions=mentions, relations=relations),
    )  # fmt: skip


async def raw_graph(embedder: Any, spec: Spec) -> DocumentGraph:
    """The raw graph of an annotated document (see the module docstring)."""
    source, marked = spec
    doc_id = document_id(source)
    chunks, offset = [], 0
    for ordinal, text in enumerate(marked):
        chunk = _chunk(doc_id, ordinal, text, offset)
        chunks.append(chunk)
        offset = chunk.end + 1
    vectors = await embedder.embed([c.text for c in chunks], kind="passage")
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = vector
    full = "\n".join(c.text for c in chunks)
    document = Document(
        id=doc_id, source=source, title=source, mime="text/plain",
        content_hash=content_hash(full), text=full, chunk_count=len(chunks),
    )  # fmt: skip
    return DocumentGraph(document=document, chunks=chunks)


async def ingest(
    store: Any,
    embedder: Any,
    specs: Sequence[Spec],
    *,
    batch: int = 100,
    settings: ResolutionSettings | None = None,
) -> None:
    """Write annotated documents in batches, resolving after each (as the builder does)."""
    reconciler = Reconciler(store, embedder, settings or ResolutionSettings())
    for start in range(0, len(specs), batch):
        graphs = [await raw_graph(embedder, s) for s in specs[start : start + batch]]
        async with store.writer_lock():
            await store.upsert_documents(graphs, derived=False)
            await reconciler.run()
