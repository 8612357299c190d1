"""Index definitions of the ArangoDB store, and the mechanics of building them.

Persistent indexes serve lookups and sorts (``[*]``: array index); the inverted index on
``chunks.text`` serves BM25 through ``chunks_view``, with the top-k (WAND) optimisation of
its one sort expression; the IVF vector indexes on ``embedding`` serve approximate
nearest-neighbour search. python-arango 8 creates every index type through
``collection.add_index(dict)`` (its ``add_persistent_index`` and the other ``add_*_index``
methods are deprecated), so each definition here is that dict. The helpers at the end read
the index lists that ``collection.indexes()`` returns (python-arango formats their keys in
snake case: ``training_state``, ``error_message``); the last section creates indexes in the
background and waits for them with its own deadline (:class:`Wait`), and swaps a vector
index for a newly trained one (:func:`build_target`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, cast

import requests
from arango.collection import StandardCollection
from arango.database import StandardDatabase
from arango.exceptions import ArangoServerError, IndexCreateError

from graphrag.config import ArangoSettings
from graphrag.errors import SchemaError
from graphrag.stores.arango.names import (
    API_KEYS,
    CHUNKS,
    CHUNKS_TEXT_INDEX,
    COMMUNITIES,
    DEFAULT_VECTOR_BUILD_TIMEOUT,
    DOCUMENTS,
    ENTITIES,
    ENTITY_RANKS,
    EVIDENCE,
    JOBS,
    KEYS,
    LINKS,
    MEMBER_OF,
    MENTIONS,
    MERGES,
    RELATIONS,
    SURFACES,
    TEXT_ANALYZER,
    vector_index_name,
)

logger = logging.getLogger(__name__)

Doc = dict[str, Any]

TRAINING_POLL_SECONDS: Final = 2.0
"""Seconds between two reads of the index list while an index builds."""

PERSISTENT_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (ENTITIES, "idx_entities_type", ("type",)),
    (ENTITIES, "idx_entities_rank", ("rank", "mention_count")),
    (ENTITIES, "idx_entities_aliases_norm", ("aliases_norm[*]",)),
    (CHUNKS, "idx_chunks_document_id", ("document_id",)),
    (EVIDENCE, "idx_evidence_relation", ("relation", "chunk", "weight")),
    (EVIDENCE, "idx_evidence_chunk", ("chunk",)),
    (DOCUMENTS, "idx_documents_status", ("status", "updated_at")),
    (DOCUMENTS, "idx_documents_updated_at", ("updated_at", "_key")),
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
    (ENTITY_RANKS, "idx_entity_ranks_generation", ("generation", "rank")),
    (COMMUNITIES, "idx_communities_generation", ("generation", "level", "ordinal")),
    (MEMBER_OF, "idx_member_of_generation", ("generation",)),
)
"""``(collection, index name, fields)`` of the persistent indexes (``[*]``: array index).

``idx_entities_rank`` indexes the ``rank`` attribute that schema versions up to 3 stored on
the entity documents: ``list_ranked_entities.aql`` finds the entities that still carry one
(the range ``ent.rank > null``), once, after the first analysis of such a store in the
generation format; ranks now live in ``entity_ranks``. ``idx_documents_updated_at`` serves
the newest-first listings without a status filter (``list_documents.aql`` with ``@status`` null:
``SORT d.updated_at DESC, d._key DESC``; ``aql/analyst/newest_documents.aql``). Both are
dense: a sparse index cannot serve a ``SORT`` over every document.

The three ``generation`` indexes of the graph analysis are dense too: documents written
before generations (communities and ``member_of`` edges of schema version 3) have none, and
``FILTER x.generation == null`` must find them through the index (the first analysis in the
generation format removes them in batches). ``idx_entity_ranks_generation`` serves the
batched removal of a generation and the ranks of one generation
(``aql/analyst/top_entities_by_rank.aql``); ``idx_communities_generation`` serves the
listing of the current communities by level and ordinal (``list_communities.aql``), the
exact scans of their summaries and the count in ``stats.aql``; ``idx_member_of_generation``
serves the removal of a generation's edges (readers reach edges through the edge index).
"""

OBSOLETE_INDEXES: Final = (
    (MENTIONS, "idx_mentions_to"),
    (RELATIONS, "idx_relations_from_weight"),
    (RELATIONS, "idx_relations_to_weight"),
    (ENTITIES, "idx_entities_name_norm"),
    (ENTITIES, "idx_entities_source_ids"),
    (RELATIONS, "idx_relations_source_ids"),
)
"""``(collection, index name)`` of persistent indexes older versions created and no query
uses; ``ensure_schema`` drops them when it finds them.

``mentions._to`` is covered by the edge index every edge collection has; no query filters or
sorts relations by ``weight`` next to ``_from``/``_to`` (the expansion sums weights per
neighbour after the edge-index lookup); no query looks entities up by ``name_norm``
(``find_entities.aql`` uses ``aliases_norm[*]``, which holds the normalised name too).
The ``source_ids[*]`` array indexes of schema version 4 went with the arrays (version 5 finds
an entity's chunks through the ``mentions`` edge index and a relation's through
``idx_evidence_relation``, a chunk's relations through ``idx_evidence_chunk``).
"""

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


BM25_TOP_K: Final = "BM25(@doc) DESC"
"""The sort expression the inverted index optimises (``optimizeTopK``): BM25 with its
default parameters, descending, ``@doc`` standing for the view's document variable. The BM25
queries sort by exactly ``SORT BM25(c) DESC`` then ``LIMIT`` (ties are broken in Python)."""


def text_index_definition() -> Doc:
    """Return the ``add_index`` body of the inverted index behind ``chunks_view``.

    ``chunks.text`` with the ``text_en`` analyzer (it has the ``frequency`` and ``norm``
    features BM25 needs), ``optimizeTopK`` for the one BM25 sort the queries use, built in
    the background. No ``primarySort``: it orders by attribute values, never by a score.
    """
    return {
        "type": "inverted",
        "name": CHUNKS_TEXT_INDEX,
        "fields": [{"name": "text", "analyzer": TEXT_ANALYZER}],
        "optimizeTopK": [BM25_TOP_K],
        "inBackground": True,
    }


def n_lists_for(documents: int, configured: int | None) -> int:
    """Return the IVF centroid count: ``configured`` or ``round(4 * sqrt(N))``, within [1, N]."""
    wanted = configured if configured is not None else round(4 * math.sqrt(documents))
    return max(1, min(int(wanted), documents))


def vector_index_definition(
    collection: str, dim: int, n_lists: int, n_probe: int, *, name: str | None = None
) -> Doc:
    """Return the ``add_index`` body of a cosine vector index on ``collection.embedding``.

    Built in the background (``inBackground``): no exclusive write lock on the collection
    while it is built and trained. The create call may still return late (or outlast the
    HTTP timeout), or early with a ``trainingState`` that is not ``ready`` yet, so the
    builder polls the index list (see ``schema.build_vector_indexes``). ``sparse`` (3.12.6+)
    leaves documents without an embedding out of the index and of the training threshold.

    Args:
        collection: The collection.
        dim: The embedding dimension.
        n_lists: The IVF centroid count (:func:`n_lists_for`).
        n_probe: The ``defaultNProbe`` (the server default of 1 gives poor recall).
        name: The index name (default: the name older versions used).
    """
    return {
        "type": "vector",
        "name": name or vector_index_name(collection),
        "fields": ["embedding"],
        "sparse": True,
        "inBackground": True,
        "parallelism": 2,
        "params": {
            "metric": "cosine",
            "dimension": dim,
            "nLists": n_lists,
            "defaultNProbe": n_probe,
            "trainingIterations": 25,
        },
    }


# --------------------------------------------------------------------------- index lists


def training_state(index: Doc) -> str | None:
    """Return a vector index's ``trainingState`` (raw or python-arango-formatted key).

    ``None`` on servers before 3.12.9, which do not report it (an index there is listed
    once its creation, training included, has finished).
    """
    state = index.get("trainingState", index.get("training_state"))
    return None if state is None else str(state)


def error_message(index: Doc) -> str | None:
    """Return a vector index's ``errorMessage`` (raw or formatted key), if any."""
    message = index.get("errorMessage", index.get("error_message"))
    return str(message) if message else None


def embedding_vector_indexes(indexes: Iterable[Doc]) -> list[Doc]:
    """Return the vector indexes over ``embedding`` among ``indexes``."""
    return [i for i in indexes if i.get("type") == "vector" and i.get("fields") == ["embedding"]]


def is_ready(index: Doc) -> bool:
    """Whether a listed vector index can serve queries (trained, or no state reported)."""
    return training_state(index) in (None, "ready")


# --------------------------------------------------------------------------- building


@dataclass
class Wait:
    """How long an index build is awaited, and how (a fake clock in tests).

    Attributes:
        seconds: The deadline, from the start of each build.
        now: The monotonic clock.
        sleep: Sleeps between two polls of the index list.
        poll: Seconds between two polls.
    """

    seconds: float = DEFAULT_VECTOR_BUILD_TIMEOUT
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll: float = TRAINING_POLL_SECONDS
    start: float = field(init=False, default=0.0)

    def restart(self) -> None:
        """Start the deadline now (once per index build)."""
        self.start = self.now()

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        return self.now() - self.start >= self.seconds


def index_list(coll: StandardCollection) -> list[Doc]:
    """Return the indexes of a collection (python-arango's formatted list)."""
    return cast(list[Doc], coll.indexes())


def drop_index(coll: StandardCollection, index: Doc, why: str) -> None:
    """Drop a listed index (gone already is fine) and log why."""
    coll.delete_index(str(index["id"]), ignore_missing=True)
    logger.info("dropped %s index %s on %s (%s)", index.get("type"), index.get("name"),
                coll.name, why)  # fmt: skip


def drop_vector_indexes(db: StandardDatabase, collection: str, why: str) -> None:
    """Drop every vector index over ``collection.embedding``."""
    coll = db.collection(collection)
    for index in embedding_vector_indexes(index_list(coll)):
        drop_index(coll, index, why)


def add_and_await(coll: StandardCollection, definition: Doc, wait: Wait) -> Doc:
    """Create an index; if the call outlasts the HTTP timeout, wait until it is listed.

    The server goes on building an index whose create request timed out on the client; a
    background build is listed only once it is complete.

    Returns:
        The create response, or the listed index after a timed-out request.

    Raises:
        SchemaError: If the index is still not listed when ``wait`` runs out.
    """
    name = str(definition["name"])
    wait.restart()
    try:
        return cast(Doc, coll.add_index(definition))
    except requests.exceptions.Timeout:
        logger.info("creating index %s on %s outlasted the request timeout; waiting for the "
                    "server to finish it", name, coll.name)  # fmt: skip
    while not wait.passed():
        wait.sleep(wait.poll)
        found = [i for i in index_list(coll) if i.get("name") == name]
        if found:
            return found[0]
    msg = (
        f"index {name} on {coll.name} was not built within {wait.seconds:.0f} s; the server "
        "may still be building it: run the same command again later"
    )
    raise SchemaError(msg)


def feature_disabled(exc: ArangoServerError) -> bool:
    """Whether a create error says the server runs without ``--vector-index``."""
    message = str(exc.error_message or exc.message or "").lower()
    return exc.http_code == 400 and "vector" in message and "not enabled" in message


def _await_training(coll: StandardCollection, name: str, created: bool, wait: Wait) -> str | None:
    """Poll the index list until ``name`` is trained; ``None`` when ready, else why not."""
    state: str | None = "building"
    while True:
        found = [i for i in index_list(coll) if i.get("name") == name]
        if found:
            state = training_state(found[0])
            if is_ready(found[0]):
                return None
            if state == "unusable" and error_message(found[0]):  # 3.12.9+: training failed
                return f"training failed: {error_message(found[0])}"
        elif created:
            return "the index disappeared after its creation"
        if wait.passed():
            return f"not trained within {wait.seconds:.0f} s (training state {state})"
        wait.sleep(wait.poll)


def _build_new(coll: StandardCollection, definition: Doc, wait: Wait) -> str | None:
    """Create a vector index in the background and wait until it is trained.

    A create call that outlasts the HTTP timeout is not an error: the server goes on, and
    the index is awaited in the list (where a background build shows up once complete).

    Returns:
        ``None`` when it is ready, else why it is not (it may be listed nevertheless).

    Raises:
        IndexCreateError: When the feature is off, or on auth and availability errors.
    """
    name = str(definition["name"])
    wait.restart()
    try:
        info: Doc | None = cast(Doc, coll.add_index(definition))
    except requests.exceptions.Timeout:
        logger.info("creating vector index %s on %s outlasted the request timeout; the "
                    "server goes on building it", name, coll.name)  # fmt: skip
        info = None
    except IndexCreateError as exc:
        if feature_disabled(exc) or exc.http_code in (401, 403, 503):
            raise
        # <= 3.12.9 a failed training is an error (1555...) and leaves an unusable index
        return f"creation failed: [{exc.error_code}] {exc.error_message or exc.message}"
    if info is not None and training_state(info) == "unusable" and error_message(info):
        return f"training failed: {error_message(info)}"  # 3.12.10+ reports it this way
    return _await_training(coll, name, info is not None, wait)


def _swap(coll: StandardCollection, definition: Doc, wait: Wait) -> tuple[str | None, str]:
    """Build ``definition`` next to the current vector indexes; keep the better one.

    Returns:
        ``(name of the index in use or None, reason)``.
    """
    name = str(definition["name"])
    previous = [i for i in embedding_vector_indexes(index_list(coll)) if i.get("name") != name]
    failure = _build_new(coll, definition, wait)
    if failure is None:
        for old in previous:
            drop_index(coll, old, f"replaced by {name}")
        return name, "ready"
    for index in (i for i in index_list(coll) if i.get("name") == name):
        drop_index(coll, index, failure)
    kept = [i for i in previous if is_ready(i)]
    if not kept:
        logger.warning("vector index %s on %s was not built (%s); using exact scans",
                       name, coll.name, failure)  # fmt: skip
        return None, failure
    old_name = str(kept[0].get("name"))
    logger.warning("vector index %s on %s was not built (%s); the previous index %s stays "
                   "in use", name, coll.name, failure, old_name)  # fmt: skip
    return old_name, f"rebuild failed ({failure}); previous index kept"


def build_target(
    db: StandardDatabase, collection: str, documents: int, settings: ArangoSettings,
    dim: int, wait: Wait,
) -> Doc:  # fmt: skip
    """Rebuild the vector index of one collection: build a new one, then swap.

    The new index (``vec_<collection>_embedding_<UTC time>``) is created in the background
    next to the current one; once it is trained the old one is dropped. If it fails or
    ``wait`` runs out first, it is dropped (when listed) and the previous index, if ready,
    stays in use.

    Returns:
        ``{usable, documents, n_lists, name, reason}``.

    Raises:
        IndexCreateError: When the server runs without ``--vector-index`` (see
            :func:`feature_disabled`), or on auth and availability errors.
    """
    n_lists = n_lists_for(documents, settings.n_lists)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    definition = vector_index_definition(
        collection, dim, n_lists, settings.n_probe, name=vector_index_name(collection, stamp)
    )
    name, reason = _swap(db.collection(collection), definition, wait)
    return {"usable": name is not None, "documents": documents, "n_lists": n_lists,
            "name": name, "reason": reason}  # fmt: skip
