"""Request and response models of the HTTP API (the versioned JSON contract under ``/v1``).

Responses reuse the library's models where they are already the contract (``Answer``,
``RetrievedContext``, ``Entity``, ``Job``...); this module adds the request bodies, pages and
the small envelopes around them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphrag.models import (
    Chunk,
    Community,
    DeleteReport,
    Document,
    Entity,
    MergeRecord,
    Relation,
    RetrievalMode,
)
from graphrag.records import Job, JobFileStatus, JobStatus

T = TypeVar("T")

MAX_QUESTION_CHARS = 2000
"""The schema's bound; the service also applies ``retrieval.max_question_chars``."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list.

    ``items``, the ``total`` matching (``None`` when the store does not count them), and where
    the page starts.
    """

    items: list[T]
    total: int | None
    offset: int
    limit: int


class TextDocument(_Body):
    """A document sent as JSON text."""

    text: str = Field(min_length=1, max_length=5_000_000, description="The document's text.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            msg = "text is blank; send the document's text"
            raise ValueError(msg)
        return value

    source: str | None = Field(
        default=None,
        max_length=500,
        description="A unique name for it (default: api:<title or a hash>); the same source "
        "replaces the earlier version.",
    )
    title: str | None = Field(default=None, max_length=500, description="A human title.")


class TextUpload(_Body):
    """``POST /v1/documents`` with ``application/json``: texts to ingest as a background job."""

    documents: list[TextDocument] = Field(min_length=1, max_length=1000)
    force: bool = Field(default=False, description="Rebuild documents even when unchanged.")


class AskRequest(_Body):
    """A question, for ``/v1/retrieve`` and ``/v1/query``."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    mode: RetrievalMode | None = Field(default=None, description="Retrieval mode (default ppr).")
    top_k: int | None = Field(default=None, ge=1, le=200, description="Chunks retrieved.")


class JobFileView(BaseModel):
    """One input of a job, as clients see it (no server paths)."""

    name: str
    status: JobFileStatus
    error: str | None = None
    documents: int = 0


class JobView(BaseModel):
    """A background job, as clients see it (no server paths, no worker identity)."""

    id: str
    kind: str
    status: JobStatus
    subject: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    done: int
    total: int
    files: list[JobFileView]
    options: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobView:
        """The client view of a stored job."""
        data = job.model_dump(exclude={"worker": True, "heartbeat_at": True})
        return cls.model_validate(data)


class DocumentDetail(BaseModel):
    """A document with its chunks."""

    document: Document
    chunks: list[Chunk]


class DeleteResult(BaseModel):
    """What deleting a document removed."""

    deleted: list[DeleteReport]


class EntityRef(BaseModel):
    """An entity in short: id, name, type and rank (``None`` before an analysis)."""

    id: str
    name: str
    type: str
    rank: float | None = None


class CommunityRef(BaseModel):
    """A community an entity belongs to: title, summary and size."""

    id: str
    level: int
    title: str
    summary: str | None = None
    size: int


class EntityDetail(BaseModel):
    """An entity with the merges that made it (aliases folded into it) and its communities."""

    entity: Entity
    merges: list[MergeRecord]
    communities: list[CommunityRef] = Field(
        default_factory=list, description="Communities of the last analysis it belongs to."
    )


class MentionSentence(BaseModel):
    """A sentence of a chunk that names an entity, with the chunk's document."""

    chunk_id: str
    document_id: str
    ordinal: int
    title: str
    source: str
    sentence: str


class EntityMentions(BaseModel):
    """The sentences that mention an entity (its first mentioning chunks)."""

    entity_id: str
    chunks: int = Field(description="Chunks that mention the entity.")
    sentences: list[MentionSentence]


class ChunkEntities(BaseModel):
    """The entities each chunk mentions (chunk id -> entities, most mentioned first)."""

    chunks: dict[str, list[EntityRef]]


class GraphNode(BaseModel):
    """A node of a graph picture."""

    id: str
    label: str
    type: str
    rank: float | None = None
    aliases: list[str] = Field(default_factory=list)
    chunk_ids: list[str] = Field(default_factory=list, description="Provenance: chunks.")


class GraphEdge(BaseModel):
    """An edge of a graph picture (a relation), with its evidence sentences."""

    id: str
    source: str
    target: str
    label: str
    kind: str
    weight: float
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    chunk_ids: list[str] = Field(default_factory=list)


class GraphView(BaseModel):
    """Nodes and edges ready to draw, with the entity paths found."""

    center: list[str]
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    paths: list[list[str]] = Field(default_factory=list)


class CommunityList(BaseModel):
    """Communities from the last analysis."""

    communities: list[Community]


class MergeList(BaseModel):
    """Merge decisions, active and undone."""

    total: int
    active: int
    merges: list[MergeRecord]


class UndoResult(BaseModel):
    """The outcome of undoing a merge."""

    merge_id: str
    already_undone: bool
    documents_derived: int


class Health(BaseModel):
    """``/healthz``: the process is alive."""

    status: Literal["ok"] = "ok"
    version: str


class Readiness(BaseModel):
    """``/readyz``: the store answers and the models are loaded."""

    status: Literal["ready", "not_ready"]
    version: str
    checks: dict[str, str]


def graph_view(
    center: list[str], entities: list[Entity], relations: list[Relation], paths: list[list[str]]
) -> GraphView:
    """Turn entities and relations into nodes and edges (labels, provenance, evidence)."""
    nodes = [
        GraphNode(
            id=e.id,
            label=e.name,
            type=e.type,
            rank=e.rank,
            aliases=e.aliases,
            chunk_ids=e.source_chunk_ids,
        )
        for e in entities
    ]
    edges = [
        GraphEdge(
            id=r.id,
            source=r.source_id,
            target=r.target_id,
            label=r.predicate,
            kind=str(r.kind),
            weight=r.weight,
            evidence=[e.model_dump(mode="json") for e in r.evidence],
            chunk_ids=r.source_chunk_ids,
        )
        for r in relations
    ]
    return GraphView(center=center, nodes=nodes, edges=edges, paths=paths)
