"""Models of the resolution layer: keys as stored, links between them, and changes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from graphrag.models import Entity, MergeRecord, Vector
from graphrag.resolution.keys import top_surface


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class KeyInfo(_Model):
    """A resolution key as the store knows it.

    Attributes:
        key: ``entity_id(norm, type)``.
        norm: The normalised name.
        type: The extracted type.
        entity_id: The entity the key currently resolves to (``None`` until resolved).
        linked: Whether its embedding and similarity links have been computed.
        embedding: The name embedding (of ``norm``), when computed.
        support: Chunks that mention the key (0: no document mentions it any more).
        surfaces: Surface form -> occurrences over every chunk.
    """

    key: str
    norm: str
    type: str
    entity_id: str | None = None
    linked: bool = False
    embedding: Vector | None = Field(default=None, exclude=True, repr=False)
    support: int = 0
    surfaces: dict[str, int] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """The display name: the most frequent surface form (ties: the smallest)."""
        return top_surface(self.surfaces, self.norm)


class KeyLink(_Model):
    """Two keys whose name embeddings are at least the similarity threshold apart.

    ``a < b``; stored once, read from both ends.
    """

    a: str
    b: str
    score: float


class ResolutionChange(_Model):
    """What one resolution pass decided for a region of keys, applied in one transaction.

    Attributes:
        region: Every key the pass looked at; their active merge records are replaced.
        assignments: Live key -> the entity it resolves to.
        removed: Keys no chunk mentions any more (dropped with their links).
        merges: The active merge records of the region (alias -> canonical).
        entities: The derived view (name, aliases, embedding) of every canonical entity
            of the region; existing entity rows are updated to it.
        documents: Documents whose mentions and relations must be derived again.
    """

    region: list[str]
    assignments: dict[str, str] = Field(default_factory=dict)
    removed: list[str] = Field(default_factory=list)
    merges: list[MergeRecord] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    documents: list[str] = Field(default_factory=list)
