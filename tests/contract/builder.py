"""Hand-written document graphs for the store contract suite (no spaCy, HashEmbedder vectors).

A :class:`Doc` names its chunk texts, the entity names mentioned per chunk and the relations
as ``(subject, predicate, object, chunk ordinal[, weight])``; :func:`build` turns it into a
:class:`DocumentGraph` with deterministic ids, exact spans and embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphrag.ids import (
    chunk_id,
    content_hash,
    document_id,
    entity_id,
    merge_id,
    normalize_name,
    relation_id,
)
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Evidence,
    Mention,
    MergeRecord,
    Relation,
    RelationKind,
)

TYPES = {
    "Marie Curie": "PERSON",
    "Pierre Curie": "PERSON",
    "Albert Einstein": "PERSON",
    "Warsaw": "GPE",
    "Paris": "GPE",
    "Ulm": "GPE",
    "Bern": "GPE",
    "Sceaux": "GPE",
    "Radium Institute": "ORG",
}
ALIASES = {"Marie Curie": ["Madame Curie", "Maria Sklodowska"]}

RelSpec = tuple[str, str, str, int] | tuple[str, str, str, int, float]


@dataclass
class Doc:
    """A document of the test corpus."""

    source: str
    chunks: list[str]
    mentions: list[list[str]]
    relations: list[RelSpec] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)


def eid(name: str) -> str:
    """The entity id of a test entity name."""
    return entity_id(normalize_name(name), TYPES.get(name, "ENTITY"))


def did(source: str) -> str:
    """The document id of a source."""
    return document_id(source)


def cid(source: str, ordinal: int) -> str:
    """The chunk id of a source's ``ordinal``-th chunk."""
    return chunk_id(document_id(source), ordinal)


def rid(subject: str, predicate: str, obj: str) -> str:
    """The relation id of a test relation."""
    return relation_id(eid(subject), predicate, eid(obj))


def spans(text: str, name: str) -> list[tuple[int, int]]:
    """Every occurrence of ``name`` in ``text``."""
    found, start = [], text.find(name)
    while start >= 0:
        found.append((start, start + len(name)))
        start = text.find(name, start + 1)
    assert found, f"{name!r} does not occur in {text!r}"
    return found


def document(doc: Doc) -> Document:
    """The :class:`Document` of a test doc."""
    text = "\n".join(doc.chunks)
    return Document(
        id=did(doc.source),
        source=doc.source,
        title=doc.source.rsplit("/", 1)[-1],
        mime="text/plain",
        content_hash=content_hash(text),
        text=text,
        metadata={"origin": "contract-test"},
    )


async def build(embedder: Any, doc: Doc) -> DocumentGraph:
    """Build the document graph of ``doc`` with ``embedder`` vectors."""
    d = document(doc)
    chunk_vectors = await embedder.embed(doc.chunks, kind="passage")
    chunks, offset = [], 0
    for ordinal, (text, vector) in enumerate(zip(doc.chunks, chunk_vectors, strict=True)):
        chunks.append(
            Chunk(
                id=cid(doc.source, ordinal),
                document_id=d.id,
                ordinal=ordinal,
                text=text,
                start=offset,
                end=offset + len(text),
                token_count=len(text.split()),
                embedding=vector,
            )
        )
        offset += len(text) + 1
    names = list(dict.fromkeys(n for names in doc.mentions for n in names))
    names += [n for r in doc.relations for n in (r[0], r[2]) if n not in names]
    name_vectors = await embedder.embed(names, kind="passage")
    entities = [
        Entity(
            id=eid(name),
            name=name,
            type=TYPES.get(name, "ENTITY"),
            aliases=list(ALIASES.get(name, [])),
            embedding=vector,
        )
        for name, vector in zip(names, name_vectors, strict=True)
    ]
    mentions = [
        Mention(
            chunk_id=chunks[i].id,
            entity_id=eid(name),
            surface_forms=[name],
            spans=spans(chunks[i].text, name),
        )
        for i, chunk_names in enumerate(doc.mentions)
        for name in chunk_names
    ]
    relations = [_relation(spec, chunks) for spec in doc.relations]
    return DocumentGraph(
        document=d,
        chunks=chunks,
        entities=entities,
        mentions=mentions,
        relations=relations,
        merges=list(doc.merges),
    )


def _relation(spec: RelSpec, chunks: list[Chunk]) -> Relation:
    subject, predicate, obj, ordinal = spec[:4]
    weight = float(spec[4]) if len(spec) > 4 else 1.0  # type: ignore[misc]
    kind = RelationKind.COOCCURRENCE if predicate == "co_occurs_with" else RelationKind.SVO
    chunk = chunks[ordinal]
    return Relation(
        id=rid(subject, predicate, obj),
        source_id=eid(subject),
        target_id=eid(obj),
        predicate=predicate,
        kind=kind,
        weight=weight,
        evidence=[Evidence(chunk_id=chunk.id, sentence=chunk.text, weight=weight)],
    )


def merge(alias_name: str, alias_type: str, canonical: str) -> MergeRecord:
    """A merge record folding ``alias_name`` into the test entity ``canonical``."""
    alias = entity_id(normalize_name(alias_name), alias_type)
    return MergeRecord(
        id=merge_id(alias, eid(canonical)),
        alias_id=alias,
        alias_name=alias_name,
        alias_type=alias_type,
        canonical_id=eid(canonical),
        score=0.97,
        method="embedding",
    )


CURIE = Doc(
    source="corpus/curie.txt",
    chunks=[
        "Marie Curie was born in Warsaw. She studied physics in Paris.",
        "Marie Curie founded the Radium Institute in Paris.",
    ],
    mentions=[["Marie Curie", "Warsaw", "Paris"], ["Marie Curie", "Radium Institute", "Paris"]],
    relations=[
        ("Marie Curie", "bear in", "Warsaw", 0),
        ("Marie Curie", "study in", "Paris", 0),
        ("Marie Curie", "found", "Radium Institute", 1),
    ],
    merges=[merge("M. Curie", "PERSON", "Marie Curie")],
)
EINSTEIN = Doc(
    source="corpus/einstein.txt",
    chunks=[
        "Albert Einstein was born in Ulm. He worked at the patent office in Bern.",
        "Albert Einstein visited Paris and met Marie Curie.",
    ],
    mentions=[["Albert Einstein", "Ulm", "Bern"], ["Albert Einstein", "Paris", "Marie Curie"]],
    relations=[
        ("Albert Einstein", "bear in", "Ulm", 0),
        ("Albert Einstein", "work in", "Bern", 0),
        ("Albert Einstein", "meet", "Marie Curie", 1),
    ],
)
PIERRE = Doc(
    source="corpus/pierre.txt",
    chunks=["Pierre Curie married Marie Curie in Sceaux. Marie Curie studied in Paris."],
    mentions=[["Pierre Curie", "Marie Curie", "Sceaux", "Paris"]],
    relations=[
        ("Pierre Curie", "marry", "Marie Curie", 0),
        ("Marie Curie", "study in", "Paris", 0),
    ],
)
CORPUS = [CURIE, EINSTEIN, PIERRE]
"""3 documents, 5 chunks, 9 entities, 16 mentions, 7 relations (``study in`` is shared)."""

CURIE_V2 = Doc(
    source=CURIE.source,
    chunks=["Marie Curie was born in Warsaw."],
    mentions=[["Marie Curie", "Warsaw"]],
    relations=[("Marie Curie", "bear in", "Warsaw", 0)],
)

# A small graph for traversal: a chain and a hub with weighted spokes.
CHAIN = Doc(
    source="corpus/chain.txt",
    chunks=[
        "Alpha met Beta.",
        "Beta met Gamma.",
        "Gamma met Delta.",
        "Hub met Spoke1. Hub met Spoke2. Hub met Spoke3. Hub met Spoke4.",
    ],
    mentions=[
        ["Alpha", "Beta"],
        ["Beta", "Gamma"],
        ["Gamma", "Delta"],
        ["Hub", "Spoke1", "Spoke2", "Spoke3", "Spoke4"],
    ],
    relations=[
        ("Alpha", "meet", "Beta", 0, 3.0),
        ("Beta", "meet", "Gamma", 1, 2.0),
        ("Gamma", "meet", "Delta", 2, 1.0),
        ("Hub", "meet", "Spoke1", 3, 1.0),
        ("Hub", "meet", "Spoke2", 3, 2.0),
        ("Hub", "meet", "Spoke3", 3, 3.0),
        ("Hub", "meet", "Spoke4", 3, 4.0),
    ],
)


async def build_all(embedder: Any, docs: list[Doc]) -> list[DocumentGraph]:
    """Build several documents."""
    return [await build(embedder, d) for d in docs]


def counts(stats: Any) -> dict[str, int]:
    """The object counts of a ``StoreStats`` (without backend, location, version and the
    resolution backlog, which hand-built graphs without extractions leave at 0)."""
    exclude = {"backend", "location", "schema_version", "keys", "dirty_keys", "pending_documents"}
    return dict(stats.model_dump(exclude=exclude))


CORPUS_COUNTS = {
    "documents": 3,
    "chunks": 5,
    "entities": 9,
    "relations": 7,
    "mentions": 16,
    "merges": 1,
    "communities": 0,
    "failed_documents": 0,
}
