"""Store-agnostic domain models.

Write side: a :class:`DocumentGraph` is the unit a pipeline hands to a store; it holds one
document, its chunks and everything extracted from them. Read side: stores return
:class:`Chunk`, :class:`Entity`, :class:`Relation` and :class:`Hit`; retrievers return a
:class:`RetrievedContext`; answerers return an :class:`Answer`.

The store-side records (:class:`Hit`, :class:`WriteReport`, :class:`DeleteReport`,
:class:`StoreStats`, :class:`Community`, :class:`AnalysisState`) are defined in
:mod:`graphrag.models_store` and re-exported here: import every model from this module.

Embeddings are ``numpy.ndarray`` (float32, L2-normalised) and are excluded from
``model_dump`` so JSON exports stay small; stores persist them explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from graphrag.models_store import AnalysisState as AnalysisState
from graphrag.models_store import Community as Community
from graphrag.models_store import DeleteReport as DeleteReport
from graphrag.models_store import Hit as Hit
from graphrag.models_store import StoreStats as StoreStats
from graphrag.models_store import Vector as Vector
from graphrag.models_store import WriteReport as WriteReport
from graphrag.models_store import _Model as _Model


def utcnow() -> datetime:
    """Return the current time in UTC (timezone aware)."""
    return datetime.now(UTC)


class DocumentStatus(StrEnum):
    """Processing state of a document."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class RelationKind(StrEnum):
    """How a relation was found."""

    SVO = "svo"
    COOCCURRENCE = "cooccurrence"
    LLM = "llm"


class Document(_Model):
    """A loaded source document.

    Attributes:
        id: ``document_id(source)``.
        source: Where it came from (absolute path, URL or dataset key); unique.
        title: A human title (file stem, HTML ``<title>``, first heading, dataset title).
        mime: The detected media type (``text/plain``, ``application/pdf``, ...).
        content_hash: SHA-256 of the extracted text; unchanged hash means nothing to do.
        text: The extracted text (not persisted by every store; chunks hold the text).
        metadata: Free-form loader metadata (page count, CSV row, JSON line, ...).
        status: Processing state.
        chunk_count: Number of chunks written.
    """

    id: str
    source: str
    title: str
    mime: str
    content_hash: str
    text: str = Field(default="", exclude=True, repr=False)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: DocumentStatus = DocumentStatus.PENDING
    chunk_count: int = 0
    error: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class RawMention(_Model):
    """An entity mention found by an extractor, before resolution.

    Attributes:
        surface: The text as written.
        type: Coarse type (see :class:`Entity`).
        start: Character offset in the chunk text.
        end: End offset (exclusive).
        sentence: Index of the sentence inside the chunk.
        extractor: Which tier found it: ``spacy`` or ``llm``.
        properties: Properties the LLM extracted for it (names from the ontology).
    """

    surface: str
    type: str
    start: int
    end: int
    sentence: int = 0
    extractor: str = "spacy"
    properties: dict[str, str] = Field(default_factory=dict)


class RawRelation(_Model):
    """A relation found by an extractor, between two surfaces of the same chunk.

    ``subject`` and ``object`` are indexes into :attr:`ChunkExtraction.mentions`;
    ``sentence`` is the evidence (the chunk's sentence that states it); ``extractor`` the
    tier that found it (``spacy`` or ``llm``); ``properties`` what the LLM extracted with it.
    """

    subject: int
    object: int
    predicate: str
    kind: RelationKind
    sentence: str
    weight: float = 1.0
    extractor: str = "spacy"
    properties: dict[str, str] = Field(default_factory=dict)


class ChunkExtraction(_Model):
    """Everything an extractor found in one chunk.

    ``error`` is set when the LLM could not extract from the chunk (malformed output after
    every retry): the mentions and relations are then only those of the other tiers (none
    with ``extraction.tier = llm``), and the reason says what went wrong.
    """

    chunk_id: str
    mentions: list[RawMention] = Field(default_factory=list)
    relations: list[RawRelation] = Field(default_factory=list)
    error: str | None = None


class Chunk(_Model):
    """A token-bounded, sentence-aligned span of a document.

    Attributes:
        extraction: What the extractor found in the chunk (mentions and relations before
            resolution). Stores keep it with the chunk: it is the raw fact from which the
            chunk's mentions and relations are derived again whenever entity resolution
            changes (merges, deletes, undone merges), without re-running the extractor.
    """

    id: str
    document_id: str
    ordinal: int
    text: str
    start: int
    end: int
    token_count: int
    embedding: Vector | None = Field(default=None, exclude=True, repr=False)
    extraction: ChunkExtraction | None = Field(default=None, exclude=True, repr=False)


class Entity(_Model):
    """A resolved entity (node of the knowledge graph).

    Attributes:
        id: ``entity_id(normalize_name(name), type)`` of the canonical form.
        name: The canonical display name.
        type: Coarse type (PERSON, ORG, GPE, ..., ENTITY for unlabelled proper nouns,
            CONCEPT for noun phrases, TITLE for document titles).
        aliases: Other surface forms and merged names.
        source_chunk_ids: Provenance: every chunk that mentions it (read side).
        mention_count: Number of chunks that mention it.
        rank: PageRank over the entity graph, when computed.
    """

    id: str
    name: str
    type: str
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None
    source_chunk_ids: list[str] = Field(default_factory=list)
    mention_count: int = 0
    rank: float | None = None
    embedding: Vector | None = Field(default=None, exclude=True, repr=False)


class Evidence(_Model):
    """One supporting sentence of a relation."""

    chunk_id: str
    sentence: str
    weight: float = 1.0


class Relation(_Model):
    """A directed relation between two entities (undirected for co-occurrence).

    Attributes:
        id: ``relation_id(source_id, predicate, target_id)``.
        predicate: Lemmatised verb phrase (``found``, ``bear in``) or ``co_occurs_with``.
        kind: How it was found.
        weight: Sum of evidence weights.
        evidence: Supporting sentences with their chunks.
        source_chunk_ids: Provenance: every chunk that supports it (read side).
    """

    id: str
    source_id: str
    target_id: str
    predicate: str
    kind: RelationKind
    weight: float = 1.0
    description: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    source_chunk_ids: list[str] = Field(default_factory=list)


class Mention(_Model):
    """The link between a chunk and an entity it mentions.

    Attributes:
        surface_forms: The distinct surface strings seen in the chunk, used to undo merges.
        spans: ``[start, end)`` character offsets in the chunk text.
    """

    chunk_id: str
    entity_id: str
    surface_forms: list[str]
    spans: list[tuple[int, int]] = Field(default_factory=list)


class MergeRecord(_Model):
    """A decision to treat ``alias_id`` as ``canonical_id``; reversible.

    Attributes:
        method: ``embedding`` (cosine above the threshold), ``acronym`` or ``type``
            (same name, an untyped candidate adopting a typed entity).
        undone_at: Set when the merge was undone; an undone pair is never merged again.
    """

    id: str
    alias_id: str
    alias_name: str
    alias_type: str
    canonical_id: str
    score: float
    method: str
    created_at: datetime = Field(default_factory=utcnow)
    undone_at: datetime | None = None


class DocumentGraph(_Model):
    """Everything one document contributes to the graph: the unit of an atomic write.

    Stores write a ``DocumentGraph`` in one transaction. If the document already exists, its
    previous contribution is retracted first (chunks, mentions, evidence; entities and
    relations left without support are removed), so a changed document replaces its old
    version exactly.

    ``entities`` lists every entity referenced by ``mentions`` and ``relations`` (with
    embeddings for entities that may be new); existing entities keep their stored name and
    embedding and gain the new aliases. ``relations`` carry evidence from this document's
    chunks only.
    """

    document: Document
    chunks: list[Chunk]
    entities: list[Entity] = Field(default_factory=list)
    mentions: list[Mention] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    merges: list[MergeRecord] = Field(default_factory=list)


class Expansion(_Model):
    """Result of a bounded traversal from seed entities over ``relations``.

    Attributes:
        entities: Reached entities (seeds included) scored ``max(seed score / (1 + hops))``.
        relations: Relations whose both endpoints are in ``entities``.
        paths: Entity-id paths from a seed to each reached entity (one per entity).
    """

    entities: list[Hit]
    relations: list[Relation]
    paths: list[list[str]] = Field(default_factory=list)


class CandidateRequest(_Model):
    """Everything ``GraphStore.candidates`` needs for one local/hybrid retrieval round trip."""

    query_vector: Vector
    query_text: str
    seed_entity_ids: list[str] = Field(default_factory=list)
    k_chunks: int = 20
    k_entities: int = 8
    hops: int = 2
    degree_cap: int = 50
    max_entities: int = 40
    max_relations: int = 60
    use_bm25: bool = True


class Candidates(_Model):
    """Raw candidate lists from one round trip, fused by the retriever.

    Attributes:
        vector_chunks: Chunk kNN hits (cosine).
        bm25_chunks: BM25 hits.
        entity_seeds: Entity kNN hits plus the requested seed ids.
        expansion: The neighbourhood of the seeds.
        graph_chunks: Chunks mentioning expanded entities, scored by the sum of their
            entity scores.
        chunk_entities: For each graph chunk, the expanded entity ids it mentions.
    """

    vector_chunks: list[Hit]
    bm25_chunks: list[Hit]
    entity_seeds: list[Hit]
    expansion: Expansion
    graph_chunks: list[Hit]
    chunk_entities: dict[str, list[str]] = Field(default_factory=dict)


class Subgraph(_Model):
    """The entity-chunk graph around some seeds, for personalised PageRank.

    Attributes:
        chunk_entity: ``(chunk_id, entity_id, weight)`` mention edges.
        entity_entity: ``(entity_id, entity_id, weight)`` relation edges (both kinds).
        entity_chunk_counts: Number of chunks mentioning each entity in the whole store
            (for inverse-frequency seed weights).
    """

    chunk_entity: list[tuple[str, str, float]]
    entity_entity: list[tuple[str, str, float]]
    entity_chunk_counts: dict[str, int] = Field(default_factory=dict)


class RetrievalMode(StrEnum):
    """Retrieval modes (``naive`` dense-only, ``bm25`` keyword-only, ``global`` summaries)."""

    NAIVE = "naive"
    BM25 = "bm25"
    LOCAL = "local"
    HYBRID = "hybrid"
    PPR = "ppr"
    GLOBAL = "global"


class ScoredChunk(_Model):
    """A retrieved chunk with its document and score."""

    id: str
    document_id: str
    source: str
    title: str
    ordinal: int
    text: str
    score: float
    token_count: int


class ScoredEntity(_Model):
    """A retrieved entity with its score."""

    id: str
    name: str
    type: str
    score: float


class ScoredCommunity(_Model):
    """A community ranked by the ``global`` mode (:mod:`graphrag.retrieve.global_search`)."""

    id: str
    level: int
    title: str
    summary: str
    size: int
    score: float
    similarity: float
    chunk_ids: list[str] = Field(default_factory=list)


class RetrievedContext(_Model):
    """What a retriever found for a question, cut to a token budget.

    Attributes:
        communities: Community summaries, best first (``global`` mode only).
        notes: What the caller should know (``global``: run ``graphrag analyze``, or the
            communities are older than the last change of the graph).
        timings: Milliseconds per stage (``embed``, ``store``, ``rank``, ``total``, ...).
        token_count: Tokens of the chunk texts kept.
        truncated: Whether chunks were dropped to fit the budget.
    """

    question: str
    mode: RetrievalMode
    chunks: list[ScoredChunk]
    entities: list[ScoredEntity] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    paths: list[list[str]] = Field(default_factory=list)
    communities: list[ScoredCommunity] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    token_count: int = 0
    truncated: bool = False


class AnswerKind(StrEnum):
    """How an answer was produced.

    ``extractive``: the best supporting sentences quoted verbatim (no LLM configured);
    ``generated``: written by the configured chat model from the context, citations checked
    against it (:class:`graphrag.answer.LLMAnswerer`). ``llm`` is kept for compatibility and
    is not produced any more.
    """

    EXTRACTIVE = "extractive"
    LLM = "llm"
    GENERATED = "generated"


class Citation(_Model):
    """A numbered reference from an answer to a chunk of a document.

    Attributes:
        marker: The number the answer text cites it by (``[marker]``).
        quote: The quoted span: a sentence of the chunk (for a generated answer the one that
            best matches the answer sentences citing it), verbatim.
        span: ``(start, end)`` character offsets of ``quote`` in the chunk's text, when
            known (``chunk.text[start:end] == quote``).
    """

    marker: int
    chunk_id: str
    document_id: str
    source: str
    title: str
    quote: str
    span: tuple[int, int] | None = None


class AnswerUsage(_Model):
    """Token usage of the chat-model call that wrote an answer.

    Attributes:
        model: The model that replied.
        prompt_tokens: Tokens of the prompt.
        completion_tokens: Tokens of the reply.
        estimated: The server reported no usage; the figures are estimates.
        cached: The reply came from the LLM cache (no call was made, no cost).
    """

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cached: bool = False

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class Answer(_Model):
    """An answer with citations.

    Attributes:
        kind: ``extractive`` when no LLM is configured: the text is the best supporting
            sentences, quoted verbatim; ``generated`` when the chat model wrote it.
        notes: Which parts ran without an LLM, citations removed, warnings, etc.
        short_answer: The short answer span, when the answerer found one: for an extractive
            answer the entity of the expected answer type (``who`` -> a person, ``when`` ->
            a date, ...) in its quoted evidence, verbatim; ``None`` otherwise.
        usage: Token usage of the chat-model call (``None``: no call was made).
        timings: Milliseconds per answering stage (``prompt``, ``llm``, ``first_token``,
            ``verify``, ``total``); retrieval timings are in ``context.timings``.
    """

    question: str
    text: str
    kind: AnswerKind
    mode: RetrievalMode
    citations: list[Citation]
    notes: list[str] = Field(default_factory=list)
    short_answer: str | None = None
    context: RetrievedContext | None = None
    usage: AnswerUsage | None = None
    timings: dict[str, float] = Field(default_factory=dict)
