"""Mapping between the domain models and ArangoDB documents (the only place that knows shapes).

Document shapes (``_key`` is always the model id)::

    documents  {source, title, mime, content_hash, metadata, status, chunk_count, error,
                updated_at, derived}
    chunks     {document_id, ordinal, text, start, end, token_count, embedding?, extraction?}
    entities   {name, name_norm, type, aliases, aliases_norm, description?, rank (legacy),
                mention_count (exact), source_sample (<= PROVENANCE_SAMPLE chunk keys),
                embedding?}
    relations  {_from, _to, predicate, kind, weight (exact evidence sum), description?,
                support_count (exact number of evidence chunks),
                evidence_sample: [{chunk_id, sentence, weight}] (<= PROVENANCE_SAMPLE)}
    evidence   {relation, chunk, sentence, weight}    (_key = evidence_key(relation, chunk, n))
    mentions   {_from: chunks/.., _to: entities/.., surface_forms, spans}
    part_of    {_from: chunks/.., _to: documents/..}          (_key = chunk id)
    merges     {alias_id, alias_name, alias_type, canonical_id, score, method, created_at,
                undone_at}
    surfaces   {chunk, document, key, surface, n}        (_key = s_ + digest(chunk, key, surface))
    resolution_keys   {norm, type, initials, entity_id, linked, embedding?}   (_key = the key)
    resolution_links  {a, b, score}                      (_key = l_ + digest(a, b))
    resolution_queue  {}                                 (_key = a dirty key)

An entity's ``rank`` is read from ``entity_ranks`` of the current graph analysis
(:mod:`graphrag.stores.arango.analysis`): the entity reads merge it into the row, so
:func:`doc_to_entity` reads ``rank`` from the row; the ``rank`` stored on an entity document
(written with a new entity, and by schema versions up to 3) is only read before the first
analysis of schema version 4.

``aliases_norm`` holds the normalised name and aliases (what ``find_entities`` matches);
``embedding`` is omitted when absent, so sparse vector indexes skip the document. Documents,
chunks and entities also carry a ``label`` (title, ``#ordinal`` + text start, name): the web
UI's Graph Viewer labels every node with one attribute.

Provenance is bounded (docs/design/provenance.md): the exact chunks of an entity are its
``mentions`` edges and the exact evidence of a relation its ``evidence`` documents; the read
queries derive ``source_ids`` (and ``evidence``) rows from them, which :func:`doc_to_entity`
and :func:`doc_to_relation` read as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from graphrag.errors import StoreQueryError
from graphrag.ids import digest, is_valid_key, mention_id, normalize_name
from graphrag.models import (
    Candidates,
    Chunk,
    ChunkExtraction,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Expansion,
    Hit,
    Mention,
    MergeRecord,
    Relation,
    RelationKind,
    Subgraph,
    Vector,
)
from graphrag.resolution.keys import initials, surface_rows
from graphrag.resolution.models import KeyInfo, KeyLink
from graphrag.stores.arango.names import (
    CHUNKS,
    DOCUMENTS,
    ENTITIES,
    PROVENANCE_SAMPLE,
    key_of,
    vertex_id,
)

Doc = dict[str, Any]
T = TypeVar("T")

LABEL_WIDTH = 40
"""Characters of chunk text in a chunk's ``label``."""

_WORD = re.compile(r"\w+")
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before being
    between both but by can could did do does doing during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my
    no nor not of off on once only or other our ours out over own same she should so some such
    than that the their theirs them then there these they this those through to too under until
    up very was we were what when where which while who whom whose why will with would you your
    yours
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_QUERY_TERMS = 64


# --------------------------------------------------------------------------- scalars


def to_time(value: datetime) -> str:
    """Encode a datetime as a sortable UTC ISO string with microseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def now_text() -> str:
    """Return the current UTC time as stored."""
    return to_time(datetime.now(UTC))


def from_time(value: str | None) -> datetime | None:
    """Decode a stored ISO timestamp (``None`` stays ``None``)."""
    return None if value is None else datetime.fromisoformat(value)


def vector_to_list(vector: Vector | None) -> list[float] | None:
    """Return a vector as a JSON list of floats rounded to float32 precision."""
    if vector is None:
        return None
    flat = np.asarray(vector, dtype=np.float64).reshape(-1)
    values: list[float] = np.round(flat, 8).tolist()
    return values


def list_to_vector(values: Sequence[float] | None) -> Vector | None:
    """Return a stored embedding as a float32 array (``None`` if absent)."""
    if values is None:
        return None
    return np.asarray(values, dtype=np.float32)


def query_vector(vector: Vector, dim: int) -> list[float]:
    """Return a query vector as a normalised list of ``dim`` floats.

    Raises:
        StoreQueryError: If it does not have ``dim`` components.
    """
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim > 2 or array.size != dim or (array.ndim == 2 and array.shape[0] != 1):
        msg = (
            f"query vector has shape {array.shape} but the store holds {dim}-d vectors; "
            "embed the query with the store's embedding model"
        )
        raise StoreQueryError(msg)
    flat = array.reshape(-1)
    norm = float(np.linalg.norm(flat))
    values: list[float] = (flat / norm if norm > 0 else flat).tolist()
    return values


def keyword_text(text: str) -> str:
    """Reduce free text to its searchable words (lower case, no stopwords, no duplicates).

    The result goes to ``TOKENS(@qtext, "text_en")``; any of the words may match.
    """
    words = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS]
    return " ".join(list(dict.fromkeys(words))[:MAX_QUERY_TERMS])


def check_key(kind: str, key: str) -> None:
    """Reject an id that is not a valid ArangoDB ``_key``.

    Raises:
        StoreQueryError: Naming the id and the allowed characters.
    """
    if not isinstance(key, str) or not is_valid_key(key):
        msg = (
            f"{kind} id {key!r} is not a valid ArangoDB key (1-254 characters of "
            "A-Z a-z 0-9 _ - . @ ( ) + , = ; $ ! * ' %); build ids with graphrag.ids"
        )
        raise StoreQueryError(msg)


def valid_keys(keys: Iterable[str]) -> list[str]:
    """Return the distinct keys that can exist (invalid ones can never match), in order."""
    return [k for k in dict.fromkeys(keys) if isinstance(k, str) and is_valid_key(k)]


# --------------------------------------------------------------------------- documents


def document_to_doc(
    document: Document,
    *,
    status: DocumentStatus,
    chunk_count: int,
    error: str | None,
    derived: bool = True,
) -> Doc:
    """Return the ``documents`` document of a model (``updated_at`` is now).

    ``derived`` is false while the document's mentions and relations wait to be derived.
    """
    return {
        "_key": document.id,
        "source": document.source,
        "title": document.title,
        "mime": document.mime,
        "content_hash": document.content_hash,
        "metadata": document.metadata,
        "status": str(status),
        "chunk_count": chunk_count,
        "error": error,
        "updated_at": now_text(),
        "label": document.title or document.source,
        "derived": derived,
    }


def doc_to_document(doc: Doc) -> Document:
    """Build a :class:`Document` from its ArangoDB document."""
    return Document(
        id=doc["_key"],
        source=doc["source"],
        title=doc.get("title", ""),
        mime=doc.get("mime", ""),
        content_hash=doc.get("content_hash", ""),
        metadata=doc.get("metadata") or {},
        status=DocumentStatus(doc.get("status", DocumentStatus.PENDING)),
        chunk_count=int(doc.get("chunk_count") or 0),
        error=doc.get("error"),
        updated_at=from_time(doc.get("updated_at")) or datetime.now(UTC),
    )


def chunk_to_doc(chunk: Chunk) -> Doc:
    """Return the ``chunks`` document of a chunk."""
    doc: Doc = {
        "_key": chunk.id,
        "document_id": chunk.document_id,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "token_count": chunk.token_count,
        "label": chunk_label(chunk),
    }
    embedding = vector_to_list(chunk.embedding)
    if embedding is not None:
        doc["embedding"] = embedding
    if chunk.extraction is not None:
        doc["extraction"] = chunk.extraction.model_dump(mode="json")
    return doc


def chunk_label(chunk: Chunk, width: int = LABEL_WIDTH) -> str:
    """Return the Graph Viewer label of a chunk: ``#ordinal`` and the start of its text."""
    text = " ".join(chunk.text.split())
    if len(text) > width:
        cut = text[: width - 3]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."
    return f"#{chunk.ordinal} {text}".rstrip()


def doc_to_chunk(doc: Doc) -> Chunk:
    """Build a :class:`Chunk` from its ArangoDB document."""
    return Chunk(
        id=doc["_key"],
        document_id=doc["document_id"],
        ordinal=int(doc["ordinal"]),
        text=doc["text"],
        start=int(doc["start"]),
        end=int(doc["end"]),
        token_count=int(doc["token_count"]),
        embedding=list_to_vector(doc.get("embedding")),
        extraction=(
            None if doc.get("extraction") is None
            else ChunkExtraction.model_validate(doc["extraction"])
        ),
    )  # fmt: skip


def surface_docs(chunk: Chunk) -> list[Doc]:
    """Return the ``surfaces`` documents of a chunk (from its extraction)."""
    return [
        {
            "_key": "s_" + digest(chunk.id, row.key, row.surface),
            "chunk": chunk.id,
            "document": chunk.document_id,
            "key": row.key,
            "surface": row.surface,
            "n": row.n,
        }
        for row in surface_rows(chunk.extraction)
    ]


def key_docs(chunks: Iterable[Chunk]) -> list[Doc]:
    """Return the ``resolution_keys`` documents the chunks' extractions mention (unresolved)."""
    found: dict[str, Doc] = {}
    for chunk in chunks:
        for row in surface_rows(chunk.extraction):
            found.setdefault(
                row.key,
                {"_key": row.key, "norm": row.norm, "type": row.type,
                 "initials": initials(row.norm), "entity_id": None, "linked": False},
            )  # fmt: skip
    return list(found.values())


def doc_to_key_info(doc: Doc) -> KeyInfo:
    """Build a :class:`KeyInfo` from ``get_key_infos.aql``."""
    return KeyInfo(
        key=str(doc["key"]),
        norm=str(doc["norm"]),
        type=str(doc["type"]),
        entity_id=doc.get("entity_id"),
        linked=bool(doc.get("linked")),
        embedding=list_to_vector(doc.get("embedding")),
        support=int(doc.get("support") or 0),
        surfaces={str(s): int(n) for s, n in doc.get("surfaces") or []},
    )


def link_doc(link: KeyLink) -> Doc:
    """Return the ``resolution_links`` document of a link."""
    return {"_key": "l_" + digest(link.a, link.b), "a": link.a, "b": link.b, "score": link.score}


def entity_patch(entity: Entity) -> Doc:
    """Return the fields a resolution pass sets on a stored entity (its derived view)."""
    patch: Doc = {
        "name": entity.name,
        "name_norm": normalize_name(entity.name),
        "label": entity.name,
        "aliases": _aliases(entity.name, entity.aliases),
        "aliases_norm": _names_norm([entity.name, *entity.aliases]),
    }
    embedding = vector_to_list(entity.embedding)
    if embedding is not None:
        patch["embedding"] = embedding
    return {"key": entity.id, "patch": patch}


def part_of_doc(chunk: Chunk) -> Doc:
    """Return the ``part_of`` edge of a chunk (keyed by the chunk id)."""
    return {
        "_key": chunk.id,
        "_from": vertex_id(CHUNKS, chunk.id),
        "_to": vertex_id(DOCUMENTS, chunk.document_id),
    }


def _names_norm(names: Iterable[str]) -> list[str]:
    return [n for n in dict.fromkeys(normalize_name(x) for x in names) if n]


def _aliases(name: str, extra: Iterable[str]) -> list[str]:
    return [a for a in dict.fromkeys(extra) if a and a != name]


def entity_payload(entity: Entity, source_ids: Sequence[str]) -> Doc:
    """Return what ``upsert_entities.aql`` needs for one entity.

    ``doc`` is inserted when the entity is new; otherwise only ``merge_aliases``,
    ``aliases_norm``, the ``source_sample`` and (when missing) ``description``/``embedding``
    are merged into the stored entity, which keeps its name, type and rank. The query sets
    ``mention_count`` from the ``mentions`` edges (written first, same transaction).
    """
    aliases = _aliases(entity.name, entity.aliases)
    ids = sorted(set(source_ids))
    doc: Doc = {
        "_key": entity.id,
        "name": entity.name,
        "name_norm": normalize_name(entity.name),
        "label": entity.name,
        "type": entity.type,
        "aliases": aliases,
        "aliases_norm": _names_norm([entity.name, *aliases]),
        "source_sample": ids[:PROVENANCE_SAMPLE],
        "mention_count": len(ids),
    }
    # no null attributes are written (sparse indexes skip a missing embedding, not a null
    # one), and no rank: ranks live in entity_ranks, written by the analysis
    if entity.description is not None:
        doc["description"] = entity.description
    embedding = vector_to_list(entity.embedding)
    if embedding is not None:
        doc["embedding"] = embedding
    return {
        "doc": doc,
        "merge_aliases": [a for a in dict.fromkeys([entity.name, *aliases]) if a],
    }


def entity_ref_payload(entity_id: str, source_ids: Sequence[str]) -> Doc:
    """Return an ``upsert_entities.aql`` item that only adds provenance to a stored entity.

    For an entity that mentions reference without listing it in the graph: its stored
    fields stay, ``source_sample``/``mention_count`` follow the mentioning chunks. The write
    checks first (same transaction) that it is stored, so the INSERT branch never runs.
    """
    ids = sorted(set(source_ids))
    doc: Doc = {"_key": entity_id, "aliases_norm": [], "source_sample": ids[:PROVENANCE_SAMPLE]}
    return {"doc": doc, "merge_aliases": []}


def doc_to_entity(doc: Doc, *, with_provenance: bool = True) -> Entity:
    """Build an :class:`Entity` from its ArangoDB document.

    Args:
        doc: The stored entity.
        with_provenance: Fill ``source_chunk_ids``/``mention_count`` (else empty/0, as in
            exported document graphs).
    """
    source_ids = sorted(doc.get("source_ids") or []) if with_provenance else []
    rank = doc.get("rank")
    return Entity(
        id=doc["_key"],
        name=doc["name"],
        type=doc["type"],
        aliases=list(doc.get("aliases") or []),
        description=doc.get("description"),
        source_chunk_ids=source_ids,
        mention_count=len(source_ids),
        rank=None if rank is None else float(rank),
        embedding=list_to_vector(doc.get("embedding")),
    )


def evidence_docs(relation: Relation) -> list[Doc]:
    """Return a relation's evidence, falling back to ``source_chunk_ids`` (empty sentences)."""
    items = [
        {"chunk_id": e.chunk_id, "sentence": e.sentence, "weight": float(e.weight)}
        for e in relation.evidence
    ]
    if not items and relation.source_chunk_ids:
        share = float(relation.weight) / len(relation.source_chunk_ids)
        items = [
            {"chunk_id": c, "sentence": "", "weight": share} for c in relation.source_chunk_ids
        ]
    return items


def evidence_key(relation_id: str, chunk_id: str, position: int) -> str:
    """Return the ``_key`` of the evidence item at ``position`` of a relation's evidence.

    A hash, so that long or dash-rich ids neither exceed ArangoDB's 254-byte key limit nor
    collide; ``/`` cannot occur in a key, so the joined parts are unambiguous.
    ``migrate_provenance.aql`` computes the same key with AQL's ``SHA1``.

    >>> evidence_key("r1", "c1", 0)
    'ev_101d52777197d811d9cfd5936c5c8a81'
    """
    text = f"{relation_id}/{chunk_id}/{position}"
    return "ev_" + hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:32]


def evidence_rows(relation_id: str, evidence: Sequence[Doc]) -> list[Doc]:
    """Return the ``evidence`` documents of a relation's evidence items (one per item)."""
    return [
        {
            "_key": evidence_key(relation_id, e["chunk_id"], n),
            "relation": relation_id,
            "chunk": e["chunk_id"],
            "sentence": e["sentence"],
            "weight": float(e["weight"]),
        }
        for n, e in enumerate(evidence)
    ]


def relation_to_doc(relation: Relation, evidence: Sequence[Doc]) -> Doc:
    """Return the ``relations`` edge of a relation with the given evidence (no null values).

    The edge keeps a sample of the evidence; the items themselves are :func:`evidence_rows`.
    ``upsert_relations.aql`` sets ``weight`` and ``support_count`` from the ``evidence``
    collection (written first, same transaction).
    """
    doc: Doc = {
        "_key": relation.id,
        "_from": vertex_id(ENTITIES, relation.source_id),
        "_to": vertex_id(ENTITIES, relation.target_id),
        "predicate": relation.predicate,
        "kind": str(relation.kind),
        "weight": float(sum(e["weight"] for e in evidence)),
        "support_count": len({e["chunk_id"] for e in evidence}),
        "evidence_sample": list(evidence[:PROVENANCE_SAMPLE]),
    }
    if relation.description is not None:
        doc["description"] = relation.description
    return doc


def doc_to_relation(doc: Doc, *, chunk_filter: set[str] | None = None) -> Relation:
    """Build a :class:`Relation` from its edge; ``chunk_filter`` keeps only that evidence.

    ``weight`` and ``source_chunk_ids`` follow the evidence kept (the stored values when the
    edge carries no evidence, as returned by ``all_relations``).
    """
    raw = doc.get("evidence")
    if raw is None:
        evidence: list[Evidence] = []
        weight = float(doc.get("weight") or 0.0)
        sources = sorted(doc.get("source_ids") or [])
    else:
        evidence = [
            Evidence(chunk_id=e["chunk_id"], sentence=e.get("sentence", ""), weight=e["weight"])
            for e in raw
            if chunk_filter is None or e["chunk_id"] in chunk_filter
        ]
        weight = float(sum(e.weight for e in evidence))
        sources = list(dict.fromkeys(e.chunk_id for e in evidence))
    return Relation(
        id=doc["_key"],
        source_id=key_of(doc["_from"]),
        target_id=key_of(doc["_to"]),
        predicate=doc["predicate"],
        kind=RelationKind(doc["kind"]),
        weight=weight,
        description=doc.get("description"),
        evidence=evidence,
        source_chunk_ids=sources,
    )


def mention_to_doc(
    chunk_id: str, entity_id: str, forms: Sequence[str], spans: Sequence[tuple[int, int]]
) -> Doc:
    """Return the ``mentions`` edge between a chunk and an entity."""
    return {
        "_key": mention_id(chunk_id, entity_id),
        "_from": vertex_id(CHUNKS, chunk_id),
        "_to": vertex_id(ENTITIES, entity_id),
        "surface_forms": list(forms),
        "spans": [[int(s), int(e)] for s, e in spans],
    }


def doc_to_mention(doc: Doc) -> Mention:
    """Build a :class:`Mention` from its edge."""
    return Mention(
        chunk_id=key_of(doc["_from"]),
        entity_id=key_of(doc["_to"]),
        surface_forms=list(doc.get("surface_forms") or []),
        spans=[(int(s), int(e)) for s, e in doc.get("spans") or []],
    )


def merge_to_doc(merge: MergeRecord) -> Doc:
    """Return the ``merges`` document of a merge record."""
    return {
        "_key": merge.id,
        "alias_id": merge.alias_id,
        "alias_name": merge.alias_name,
        "alias_type": merge.alias_type,
        "canonical_id": merge.canonical_id,
        "score": float(merge.score),
        "method": merge.method,
        "created_at": to_time(merge.created_at),
        "undone_at": None if merge.undone_at is None else to_time(merge.undone_at),
    }


def doc_to_merge(doc: Doc) -> MergeRecord:
    """Build a :class:`MergeRecord` from its document."""
    created = from_time(doc.get("created_at"))
    return MergeRecord(
        id=doc["_key"],
        alias_id=doc["alias_id"],
        alias_name=doc["alias_name"],
        alias_type=doc["alias_type"],
        canonical_id=doc["canonical_id"],
        score=float(doc["score"]),
        method=doc["method"],
        created_at=created or datetime.now(UTC),
        undone_at=from_time(doc.get("undone_at")),
    )


# --------------------------------------------------------------------------- read results


def hits(rows: Sequence[Doc]) -> list[Hit]:
    """Return ``{id, score}`` rows as hits."""
    return [Hit(id=str(r["id"]), score=float(r.get("score") or 0.0)) for r in rows]


def in_order(ids: Sequence[str], found: dict[str, T]) -> list[T]:
    """Return the found objects in the order of ``ids`` (unknown ids skipped)."""
    return [found[i] for i in ids if i in found]


def expansion_from(row: Doc | None) -> Expansion:
    """Build an :class:`Expansion` from the expansion part of a query result."""
    if not row:
        return Expansion(entities=[], relations=[], paths=[])
    kept = row.get("entities") or []
    return Expansion(
        entities=hits(kept),
        relations=[doc_to_relation(r) for r in row.get("relations") or []],
        paths=[[str(p) for p in x.get("path") or [x["id"]]] for x in kept],
    )


def candidates_from(row: Doc) -> Candidates:
    """Build :class:`Candidates` from ``retrieve_candidates*.aql``."""
    graph_rows = row.get("graph_chunks") or []
    return Candidates(
        vector_chunks=hits(row.get("vector_chunks") or []),
        bm25_chunks=hits(row.get("bm25_chunks") or []),
        entity_seeds=hits(row.get("entity_seeds") or []),
        expansion=expansion_from(row.get("expansion")),
        graph_chunks=hits(graph_rows),
        chunk_entities={
            str(r["id"]): [str(e) for e in r.get("entities") or []] for r in graph_rows
        },
    )


def subgraph_from(row: Doc | None) -> Subgraph:
    """Build a :class:`Subgraph` from ``fetch_subgraph.aql``."""
    if not row:
        return Subgraph(chunk_entity=[], entity_entity=[], entity_chunk_counts={})
    return Subgraph(
        chunk_entity=[(str(c), str(e), float(w)) for c, e, w in row.get("chunk_entity") or []],
        entity_entity=[
            (str(a), str(b), float(w or 0.0)) for a, b, w in row.get("entity_entity") or []
        ],
        entity_chunk_counts={str(k): int(n or 0) for k, n in row.get("counts") or []},
    )


def graph_from_export(row: Doc, merges: list[MergeRecord]) -> DocumentGraph:
    """Build the :class:`DocumentGraph` of one document from ``export_document.aql``.

    Relations carry only this document's evidence; entities come without provenance (it is
    rebuilt from the mentions when the graph is written).
    """
    mentions = [doc_to_mention(m) for m in row.get("mentions") or []]
    relations = [doc_to_relation(r) for r in row.get("relations") or []]
    entities = {
        e["_key"]: doc_to_entity(e, with_provenance=False) for e in row.get("entities") or []
    }
    order = [m.entity_id for m in mentions]
    order += [i for r in relations for i in (r.source_id, r.target_id)]
    return DocumentGraph(
        document=doc_to_document(row["document"]),
        chunks=[doc_to_chunk(c) for c in row.get("chunks") or []],
        entities=in_order(list(dict.fromkeys(order)), entities),
        mentions=mentions,
        relations=relations,
        merges=merges,
    )
