"""Index definitions of the ArangoDB store (no python-arango import).

Persistent indexes serve lookups and sorts (``[*]``: array index); the IVF vector indexes on
``embedding`` serve approximate nearest-neighbour search. python-arango 8 creates every
index type through ``collection.add_index(dict)`` (its ``add_persistent_index`` and the other
``add_*_index`` methods are deprecated), so each definition here is that dict.
"""

from __future__ import annotations

import math
from typing import Any

from graphrag.stores.arango.names import (
    API_KEYS,
    CHUNKS,
    DOCUMENTS,
    ENTITIES,
    JOBS,
    KEYS,
    LINKS,
    MENTIONS,
    MERGES,
    RELATIONS,
    SURFACES,
    vector_index_name,
)

Doc = dict[str, Any]

PERSISTENT_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (ENTITIES, "idx_entities_name_norm", ("name_norm",)),
    (ENTITIES, "idx_entities_type", ("type",)),
    (ENTITIES, "idx_entities_aliases_norm", ("aliases_norm[*]",)),
    (ENTITIES, "idx_entities_source_ids", ("source_ids[*]",)),
    (CHUNKS, "idx_chunks_document_id", ("document_id",)),
    (MENTIONS, "idx_mentions_to", ("_to",)),
    (RELATIONS, "idx_relations_from_weight", ("_from", "weight")),
    (RELATIONS, "idx_relations_to_weight", ("_to", "weight")),
    (RELATIONS, "idx_relations_source_ids", ("source_ids[*]",)),
    (DOCUMENTS, "idx_documents_status", ("status", "updated_at")),
    (DOCUMENTS, "idx_documents_derived", ("derived",)),
    (MERGES, "idx_merges_alias_id", ("alias_id",)),
    (SURFACES, "idx_surfaces_key", ("key", "document")),
    (SURFACES, "idx_surfaces_document", ("document",)),
    (KEYS, "idx_keys_norm", ("norm",)),
    (KEYS, "idx_keys_initials", ("initials",)),
    (KEYS, "idx_keys_entity_id", ("entity_id",)),
    (LINKS, "idx_links_a", ("a",)),
    (LINKS, "idx_links_b", ("b",)),
    (JOBS, "idx_jobs_status", ("status", "created_at")),
    (JOBS, "idx_jobs_created_at", ("created_at",)),
    (API_KEYS, "idx_api_keys_key_hash", ("key_hash",)),
    (API_KEYS, "idx_api_keys_created_at", ("created_at",)),
)
"""``(collection, index name, fields)`` of the persistent indexes (``[*]``: array index)."""

SPARSE_INDEXES = frozenset({"idx_keys_initials", "idx_keys_entity_id"})
"""Persistent indexes that skip documents whose field is null (most keys have no initials)."""

UNIQUE_INDEXES = frozenset({"idx_api_keys_key_hash"})
"""Persistent indexes that refuse a second document with the same value (one key per hash)."""


def persistent_index_definition(name: str, fields: tuple[str, ...]) -> Doc:
    """Return the ``add_index`` body of one of :data:`PERSISTENT_INDEXES`.

    python-arango 8 creates every index type through ``add_index(dict)``; its
    ``add_persistent_index`` is deprecated. ``sparse``/``unique`` are set only for the
    indexes in :data:`SPARSE_INDEXES`/:data:`UNIQUE_INDEXES`.
    """
    definition: Doc = {"type": "persistent", "name": name, "fields": list(fields)}
    if name in SPARSE_INDEXES:
        definition["sparse"] = True
    if name in UNIQUE_INDEXES:
        definition["unique"] = True
    return definition


def n_lists_for(documents: int, configured: int | None) -> int:
    """Return the IVF centroid count: ``configured`` or ``round(4 * sqrt(N))``, within [1, N]."""
    wanted = configured if configured is not None else round(4 * math.sqrt(documents))
    return max(1, min(int(wanted), documents))


def vector_index_definition(collection: str, dim: int, n_lists: int, n_probe: int) -> Doc:
    """Return the ``add_index`` body of the cosine vector index on ``collection.embedding``."""
    return {
        "type": "vector",
        "name": vector_index_name(collection),
        "fields": ["embedding"],
        "sparse": True,
        "inBackground": False,
        "parallelism": 2,
        "params": {
            "metric": "cosine",
            "dimension": dim,
            "nLists": n_lists,
            "defaultNProbe": n_probe,
            "trainingIterations": 25,
        },
    }
