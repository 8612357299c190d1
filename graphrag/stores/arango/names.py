"""Names of the ArangoDB schema objects (no python-arango import, safe everywhere).

The layout follows docs/arango.md: vertex collections ``documents``, ``chunks``,
``entities``, ``communities``; edge collections ``relations`` (entity -> entity), ``mentions``
(chunk -> entity), ``part_of`` (chunk -> document), ``member_of`` (entity -> community); plain
collections ``merges`` (the merge log) and ``meta`` (one ``schema`` document); one named graph
and one ``search-alias`` view over an inverted index on ``chunks.text`` (BM25 top-k optimised).

The resolution state (see :mod:`graphrag.resolution`) lives in plain collections outside the
named graph: ``surfaces`` (how often each chunk mentions each key in each surface form),
``resolution_keys`` (each key's name, type, embedding and entity), ``resolution_links``
(similar names), ``resolution_queue`` (keys to resolve again) and ``locks`` (the writer lease).

The operational records of the HTTP API live in plain collections too: ``jobs`` (background
jobs) and ``api_keys`` (API key records, hashes only).

The graph analysis (see :mod:`graphrag.stores.arango.analysis`) is stored by **generation**:
``entity_ranks`` (one small document per ranked entity, keyed ``<generation>_<entity key>``),
the ``communities`` and ``member_of`` edges tagged with their ``generation``, and the plain
collection ``analysis`` holding ``analysis/current`` (the record readers follow: which
generation is current, when it was saved, what it saw) and ``analysis/lease`` (the one
analysis being written).
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 5
"""Version of the document shapes and indexes written by this code.

Version 2 added the resolution state (chunk ``extraction``, document ``derived``, and the
resolution collections). Version 3 added ``jobs`` and ``api_keys`` with their indexes.
Version 4 stores the graph analysis by generation (``entity_ranks``, ``analysis``, the
``generation`` of communities and ``member_of`` edges, and their indexes); a version 3
analysis (ranks on the entity documents, ``meta/analysis``) is read until the first version
4 analysis replaces it. Older graphrag versions refuse a version 4 store: they would read
and write the analysis in the old places. Version 5 bounds provenance
(docs/design/provenance.md): relation evidence moves from the ``evidence`` array of the edge to
the ``evidence`` collection, entities lose ``source_ids`` (their chunks are the ``mentions``
edges); vertices and edges keep exact counts and a bounded sample. ``ensure_schema`` converts a
version 4 store (``migrate_provenance.aql``); older graphrag versions refuse a version 5
store (they would read empty provenance)."""

PROVENANCE_SAMPLE: Final = 16
"""Most chunk keys (entities) or evidence items (relations) a vertex or edge document keeps
inline as a sample; the exact provenance is derived from ``mentions`` and ``evidence``
(docs/design/provenance.md). Informative only: no query decides anything from the sample."""

MIN_SERVER_VERSION: Final = (3, 12, 6)
"""Oldest ArangoDB accepted: the vector indexes are ``sparse`` (documents without an
embedding are left out), which arrived in 3.12.6 (vector indexes themselves in 3.12.4)."""

DOCUMENTS: Final = "documents"
CHUNKS: Final = "chunks"
ENTITIES: Final = "entities"
COMMUNITIES: Final = "communities"
MERGES: Final = "merges"
META: Final = "meta"
SURFACES: Final = "surfaces"
KEYS: Final = "resolution_keys"
LINKS: Final = "resolution_links"
QUEUE: Final = "resolution_queue"
LOCKS: Final = "locks"
WRITER_LOCK: Final = "writer"
JOBS: Final = "jobs"
API_KEYS: Final = "api_keys"
ENTITY_RANKS: Final = "entity_ranks"
ANALYSIS: Final = "analysis"
EVIDENCE: Final = "evidence"
"""Relation evidence, one document per supporting sentence: ``{_key: <relation>-<chunk>-<n>,
relation, chunk, sentence, weight}`` (schema version 5)."""

RELATIONS: Final = "relations"
MENTIONS: Final = "mentions"
PART_OF: Final = "part_of"
MEMBER_OF: Final = "member_of"

VERTEX_COLLECTIONS: Final = (DOCUMENTS, CHUNKS, ENTITIES, COMMUNITIES)
RESOLUTION_COLLECTIONS: Final = (SURFACES, KEYS, LINKS, QUEUE)
RECORD_COLLECTIONS: Final = (JOBS, API_KEYS)
ANALYSIS_COLLECTIONS: Final = (ENTITY_RANKS, ANALYSIS)
PLAIN_COLLECTIONS: Final = (
    MERGES,
    META,
    *RESOLUTION_COLLECTIONS,
    LOCKS,
    *RECORD_COLLECTIONS,
    *ANALYSIS_COLLECTIONS,
    EVIDENCE,
)
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
    EVIDENCE,
    MENTIONS,
    PART_OF,
    MEMBER_OF,
    *RESOLUTION_COLLECTIONS,
    LOCKS,
)
"""Collections a document write, delete or resolution transaction locks for writing (``locks``:
the lease holder's transactions extend the lease, see ``fence_writer_lock.aql``)."""

ANALYSIS_WRITES: Final = (ENTITY_RANKS, COMMUNITIES, MEMBER_OF, ANALYSIS, ENTITIES)
"""Collections the statements of a graph-analysis save write: a generation's ranks,
communities and ``member_of`` edges, the record and lease in ``analysis``, and (once, on a
store analysed by version 3) the removal of the old ``rank`` attribute of entities."""

CHUNKS_VIEW: Final = "chunks_view"
CHUNKS_TEXT_INDEX: Final = "inv_chunks_text_topk"
"""The inverted index on ``chunks.text`` behind ``chunks_view`` (with ``optimizeTopK``)."""

LEGACY_CHUNKS_TEXT_INDEX: Final = "inv_chunks_text"
"""The inverted index of older versions (no ``optimizeTopK``): ``ensure_schema`` swaps the
view over to :data:`CHUNKS_TEXT_INDEX`, then drops it."""

TEXT_ANALYZER: Final = "text_en"
META_KEY: Final = "schema"

DEFAULT_VECTOR_BUILD_TIMEOUT: Final = 3600.0
"""Seconds one vector index may take to build and train before the rebuild gives up on it
(the new index is dropped, the previous one kept); ``build_vector_indexes(build_timeout=)``.
Independent of the HTTP request timeout: the index is created in the background and its
``trainingState`` polled."""

ANALYSIS_KEY: Final = "analysis"
"""Key of the ``meta`` document in which schema versions up to 3 recorded the graph analysis;
read while ``analysis/current`` does not exist (an inert leftover afterwards)."""

CURRENT_ANALYSIS: Final = "current"
"""Key of the ``analysis`` document naming the current generation (the one readers follow)."""

ANALYSIS_LEASE: Final = "lease"
"""Key of the ``analysis`` document naming the generation being written (one at a time)."""

MAX_KEY_LENGTH: Final = 254
"""Longest ArangoDB ``_key`` in bytes (keys are ASCII: :func:`graphrag.ids.is_valid_key`)."""

VECTOR_TARGETS: Final = (CHUNKS, ENTITIES, KEYS)
"""Collections whose ``embedding`` gets a vector index.

``communities`` is searched by exact scans only: it holds few documents (about one per 20
entities), and every ``graphrag analyze`` writes a new generation of them all, while an IVF
index is trained once on the vectors present (a stale index would serve the next analysis).
"""

EXACT_VECTOR_TARGETS: Final = (COMMUNITIES,)
"""Collections with embeddings that are always scanned exactly (a vector index that an older
version built on them is dropped by ``ensure_schema`` and ``build_vector_indexes``)."""


def vector_index_name(collection: str, stamp: str | None = None) -> str:
    """Return the name of a vector index on ``collection.embedding``.

    Args:
        collection: The collection.
        stamp: When the index was built (``20260102T030405``); ``None`` gives the name that
            versions before the build-then-swap rebuild used (``vec_<collection>_embedding``).
    """
    base = f"vec_{collection}_embedding"
    return base if stamp is None else f"{base}_{stamp}"


def vertex_id(collection: str, key: str) -> str:
    """Return the ``_id`` of a document (``collection/key``)."""
    return f"{collection}/{key}"


def key_of(document_id: str) -> str:
    """Return the ``_key`` part of an ``_id`` (``entities/e_1`` -> ``e_1``)."""
    return document_id.split("/", 1)[-1]
