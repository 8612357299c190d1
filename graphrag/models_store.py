"""Store-side records: search hits, write and delete reports, statistics, graph analysis.

What a graph store returns besides the domain objects of :mod:`graphrag.models`: a scored
:class:`Hit` from a search primitive, the :class:`WriteReport` and :class:`DeleteReport` of
a batch, the :class:`StoreStats` counts, and the records of the last graph analysis
(:class:`Community`, :class:`AnalysisState`). The common base of every model (``_Model``)
and the ``Vector`` alias live here too, so this module imports nothing of
:mod:`graphrag.models`; import the names from :mod:`graphrag.models`, which re-exports them.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Vector = np.ndarray


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class Hit(_Model):
    """An id with a score (higher is better), returned by search primitives."""

    id: str
    score: float


class DeleteReport(_Model):
    """What deleting a document removed or updated."""

    document_id: str
    chunks: int = 0
    mentions: int = 0
    entities_removed: int = 0
    entities_updated: int = 0
    relations_removed: int = 0
    relations_updated: int = 0


class WriteReport(_Model):
    """What a batch write did."""

    documents: int = 0
    chunks: int = 0
    entities_new: int = 0
    relations_new: int = 0
    mentions: int = 0
    merges: int = 0
    replaced_documents: int = 0


class StoreStats(_Model):
    """Object counts of a store.

    Attributes:
        keys: Resolution keys (normalised name + type) that chunks mention.
        dirty_keys: Keys waiting to be resolved again (after an interrupted write).
        pending_documents: Documents whose mentions and relations wait to be derived again.
    """

    backend: str
    location: str
    documents: int
    chunks: int
    entities: int
    relations: int
    mentions: int
    merges: int
    communities: int = 0
    failed_documents: int = 0
    schema_version: int = 0
    keys: int = 0
    dirty_keys: int = 0
    pending_documents: int = 0


class Community(_Model):
    """A group of related entities (level, ordinal) with an optional summary.

    ``member_ids`` are highest rank first; ``chunk_ids`` are its best supporting chunks (most
    members connected first), which the ``global`` mode returns; ``embedding`` embeds the
    summary (see :mod:`graphrag.analyze.summaries`).
    """

    id: str
    level: int
    ordinal: int
    member_ids: list[str]
    title: str
    summary: str | None = None
    chunk_ids: list[str] = Field(default_factory=list)
    embedding: Vector | None = Field(default=None, exclude=True, repr=False)


class AnalysisState(_Model):
    """The last graph analysis saved in a store (``stale``: the graph changed since)."""

    analyzed_at: datetime
    communities: int
    embedded: int
    stale: bool = False
