"""Names of the ArangoDB schema objects (no python-arango import, safe everywhere).

The layout follows docs/arango.md: vertex collections ``documents``, ``chunks``,
``entities``, ``communities``; edge collections ``relations`` (entity -> entity), ``mentions``
(chunk -> entity), ``part_of`` (chunk -> document), ``member_of`` (entity -> community); plain
collections ``merges`` (the merge log) and ``meta`` (one ``schema`` document); one named graph
and one ``search-alias`` view over an inverted index on ``chunks.text``.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1
"""Version of the document shapes and indexes written by this code."""

MIN_SERVER_VERSION: Final = (3, 12, 4)
"""Oldest ArangoDB accepted (vector indexes arrived in 3.12.4)."""

DOCUMENTS: Final = "documents"
CHUNKS: Final = "chunks"
ENTITIES: Final = "entities"
COMMUNITIES: Final = "communities"
MERGES: Final = "merges"
META: Final = "meta"

RELATIONS: Final = "relations"
MENTIONS: Final = "mentions"
PART_OF: Final = "part_of"
MEMBER_OF: Final = "member_of"

VERTEX_COLLECTIONS: Final = (DOCUMENTS, CHUNKS, ENTITIES, COMMUNITIES)
PLAIN_COLLECTIONS: Final = (MERGES, META)
EDGE_COLLECTIONS: Final = (RELATIONS, MENTIONS, PART_OF, MEMBER_OF)
ALL_COLLECTIONS: Final = (*VERTEX_COLLECTIONS, *PLAIN_COLLECTIONS, *EDGE_COLLECTIONS)

EDGE_DEFINITIONS: Final = (
    (RELATIONS, (ENTITIES,), (ENTITIES,)),
    (MENTIONS, (CHUNKS,), (ENTITIES,)),
    (PART_OF, (CHUNKS,), (DOCUMENTS,)),
    (MEMBER_OF, (ENTITIES,), (COMMUNITIES,)),
)
"""``(edge collection, from collections, to collections)`` of the named graph."""

WRITE_COLLECTIONS: Final = (
    DOCUMENTS,
    CHUNKS,
    ENTITIES,
    MERGES,
    RELATIONS,
    MENTIONS,
    PART_OF,
    MEMBER_OF,
)
"""Collections a document write or delete transaction locks for writing."""

CHUNKS_VIEW: Final = "chunks_view"
CHUNKS_TEXT_INDEX: Final = "inv_chunks_text"
TEXT_ANALYZER: Final = "text_en"
META_KEY: Final = "schema"

VECTOR_TARGETS: Final = (CHUNKS, ENTITIES, COMMUNITIES)
"""Collections whose ``embedding`` gets a vector index."""


def vector_index_name(collection: str) -> str:
    """Return the name of the vector index on ``collection.embedding``."""
    return f"vec_{collection}_embedding"


def vertex_id(collection: str, key: str) -> str:
    """Return the ``_id`` of a document (``collection/key``)."""
    return f"{collection}/{key}"


def key_of(document_id: str) -> str:
    """Return the ``_key`` part of an ``_id`` (``entities/e_1`` -> ``e_1``)."""
    return document_id.split("/", 1)[-1]
