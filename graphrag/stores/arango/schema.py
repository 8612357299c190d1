"""Schema of the ArangoDB store: collections, named graph, indexes, view, meta document.

:func:`ensure_objects` is idempotent and only writes what is missing or obsolete, so a
read-only user can run it against a complete schema (it then only reads); on a store of an
older version it drops the indexes no query uses and moves ``chunks_view`` to the inverted
index with the BM25 top-k optimisation. Schema version 4 adds the collections and indexes of
the graph analysis by generation (``entity_ranks``, ``analysis``, the ``generation`` indexes
of ``entity_ranks``, ``communities`` and ``member_of``: see
:mod:`graphrag.stores.arango.analysis`); the data of an older analysis is not converted but
read until the first new analysis replaces it. :func:`build_vector_indexes` rebuilds the IVF vector
indexes after a load: they are trained on the data present, so a new index is built in the
background next to the current one and swapped in once trained
(:func:`~graphrag.stores.arango.indexes.build_target`), sized
``nLists = n_lists or clamp(4 * sqrt(N), 1, N)``, and skipped (exact ``COSINE_SIMILARITY``
scans instead) below a minimum document count or when the server runs without
``--vector-index``. Every choice is logged and recorded in the meta document ``meta/schema``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, cast

from arango.database import Database, StandardDatabase
from arango.exceptions import ArangoServerError, IndexCreateError

from graphrag.config import ArangoSettings
from graphrag.errors import SchemaError
from graphrag.stores.arango.errors import (
    ERR_DATABASE_NOT_FOUND,
    ERR_DUPLICATE_NAME,
    ERR_FORBIDDEN,
    ERR_GRAPH_DUPLICATE,
    SCHEMA_HINT,
)
from graphrag.stores.arango.indexes import (
    BM25_TOP_K,
    OBSOLETE_INDEXES,
    PERSISTENT_INDEXES,
    Wait,
    add_and_await,
    build_target,
    drop_index,
    drop_vector_indexes,
    embedding_vector_indexes,
    index_list,
    persistent_index_definition,
    text_index_definition,
)
from graphrag.stores.arango.indexes import feature_disabled as _feature_disabled
from graphrag.stores.arango.indexes import n_lists_for as n_lists_for
from graphrag.stores.arango.indexes import training_state as training_state
from graphrag.stores.arango.indexes import vector_index_definition as vector_index_definition
from graphrag.stores.arango.mapping import now_text
from graphrag.stores.arango.names import (
    ALL_COLLECTIONS,
    CHUNKS,
    CHUNKS_TEXT_INDEX,
    CHUNKS_VIEW,
    DEFAULT_VECTOR_BUILD_TIMEOUT,
    EDGE_COLLECTIONS,
    EDGE_DEFINITIONS,
    EXACT_VECTOR_TARGETS,
    LEGACY_CHUNKS_TEXT_INDEX,
    META,
    META_KEY,
    MIN_SERVER_VERSION,
    PROVENANCE_SAMPLE,
    SCHEMA_VERSION,
    TEXT_ANALYZER,
    VECTOR_TARGETS,
)
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)

Doc = dict[str, Any]

DEFAULT_MIN_VECTOR_DOCUMENTS = 1024
"""Below this many embedded documents a collection is scanned exactly (no IVF index)."""

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int]:
    """Return ``(major, minor, patch)`` of an ArangoDB version string (``3.12.12-1``...).

    Raises:
        SchemaError: If the text holds no version number.
    """
    found = _VERSION.search(text)
    if found is None:
        wanted = ".".join(str(x) for x in MIN_SERVER_VERSION)
        msg = f"cannot read the ArangoDB server version {text!r}; ArangoDB {wanted}+ is required"
        raise SchemaError(msg)
    major, minor, patch = (int(x) for x in found.groups())
    return major, minor, patch


def check_version(text: str, where: str) -> None:
    """Reject servers older than :data:`MIN_SERVER_VERSION`.

    Raises:
        SchemaError: Naming the version found and the one required.
    """
    if parse_version(text) < MIN_SERVER_VERSION:
        wanted = ".".join(str(x) for x in MIN_SERVER_VERSION)
        msg = (
            f"ArangoDB at {where} runs version {text}, but {wanted} or newer is required (sparse "
            "vector indexes); upgrade the server (docker-compose.yml pins "
            "arangodb/arangodb:3.12.12)"
        )
        raise SchemaError(msg)


def check_meta(meta: Doc, where: str, embedding_model: str, dim: int) -> None:
    """Reject a store built by a newer schema or with another embedding model.

    Raises:
        SchemaError: With what was found, what is configured and what to do.
    """
    version = int(meta.get("version", 0))
    if version > SCHEMA_VERSION:
        msg = (
            f"the ArangoDB store {where} has schema version {version} but this version of "
            f"graphrag reads version {SCHEMA_VERSION}; upgrade graphrag or use another database"
        )
        raise SchemaError(msg)
    stored_model, stored_dim = meta.get("embedding_model"), int(meta.get("dim", 0))
    if stored_model != embedding_model or stored_dim != dim:
        msg = (
            f"the ArangoDB store {where} was built with embedding model {stored_model!r} "
            f"(dim {stored_dim}) but {embedding_model!r} (dim {dim}) is configured; vectors of "
            "different models cannot be mixed: use another database (GRAPHRAG_ARANGO__DATABASE) "
            "or re-ingest everything into an empty database with the new model"
        )
        raise SchemaError(msg)


def create_database(sys_db: StandardDatabase, name: str, *, where: str, user: str) -> None:
    """Create database ``name`` through ``_system`` (a concurrent creation is fine).

    Raises:
        SchemaError: If the user may not create databases.
    """
    try:
        sys_db.create_database(name)
    except ArangoServerError as exc:
        if exc.error_code == ERR_DUPLICATE_NAME:
            return
        if exc.http_code in (401, 403) or exc.error_code == ERR_FORBIDDEN:
            msg = (
                f"database {name!r} does not exist at {where} and user {user!r} may not create "
                f"it; {SCHEMA_HINT} (a user with access to _system, e.g. root, set as "
                "GRAPHRAG_ARANGO__ADMIN_USERNAME/GRAPHRAG_ARANGO__ADMIN_PASSWORD)"
            )
            raise SchemaError(msg) from exc
        raise
    logger.info("created ArangoDB database %s", name)


def server_version(db: StandardDatabase, create: Callable[[], None]) -> str:
    """Return the server version read through ``db``, creating the database if missing.

    Args:
        db: The store's database handle.
        create: Creates the database (called once, only on "database not found").
    """
    try:
        return str(db.version())
    except ArangoServerError as exc:
        if exc.error_code != ERR_DATABASE_NOT_FOUND:
            raise
    create()
    return str(db.version())


def _cluster_options(settings: ArangoSettings) -> Doc:
    options: Doc = {}
    if settings.shards > 1:
        options["shard_count"] = settings.shards
    if settings.replication_factor > 1:
        options["replication_factor"] = settings.replication_factor
    return options


def _create(what: str, fn: Callable[[], object]) -> None:
    """Run a create call; another process creating the same object meanwhile is fine."""
    try:
        fn()
    except ArangoServerError as exc:
        if exc.error_code not in (ERR_DUPLICATE_NAME, ERR_GRAPH_DUPLICATE):
            raise
        logger.info("%s was created concurrently", what)
        return
    logger.info("created %s", what)


def _ensure_collections(db: StandardDatabase, settings: ArangoSettings) -> None:
    existing = {c["name"] for c in cast(list[Doc], db.collections())}
    options = _cluster_options(settings)
    for name in ALL_COLLECTIONS:
        if name not in existing:
            edge = name in EDGE_COLLECTIONS
            _create(
                f"collection {name}",
                lambda n=name, e=edge: db.create_collection(n, edge=e, **options),  # type: ignore[misc]
            )


def _ensure_graph(db: StandardDatabase, settings: ArangoSettings) -> None:
    definitions: list[Doc] = [
        {
            "edge_collection": edge,
            "from_vertex_collections": list(sources),
            "to_vertex_collections": list(targets),
        }
        for edge, sources, targets in EDGE_DEFINITIONS
    ]
    name = settings.graph_name
    if not db.has_graph(name):
        _create(
            f"named graph {name}",
            lambda: db.create_graph(
                name, edge_definitions=definitions, **_cluster_options(settings)
            ),
        )
        return
    graph = db.graph(name)
    present = {d["edge_collection"] for d in cast(list[Doc], graph.edge_definitions())}
    for definition in definitions:
        if definition["edge_collection"] not in present:
            graph.create_edge_definition(
                definition["edge_collection"],
                definition["from_vertex_collections"],
                definition["to_vertex_collections"],
            )
            logger.info("added edge definition %s to graph %s", definition["edge_collection"], name)


def _ensure_indexes(db: StandardDatabase) -> dict[str, list[Doc]]:
    """Create the missing persistent indexes, drop obsolete ones; return the lists read."""
    lists: dict[str, list[Doc]] = {}
    for collection, name, fields in PERSISTENT_INDEXES:
        coll = db.collection(collection)
        if collection not in lists:
            lists[collection] = index_list(coll)
        if name not in {str(i.get("name")) for i in lists[collection]}:
            coll.add_index(persistent_index_definition(name, fields))
            logger.info("created persistent index %s on %s %s", name, collection, list(fields))
    for collection, name in OBSOLETE_INDEXES:
        coll = db.collection(collection)
        if collection not in lists:
            lists[collection] = index_list(coll)
        for index in (i for i in lists[collection] if i.get("name") == name):
            drop_index(coll, index, "obsolete: no query uses it")
    for collection in EXACT_VECTOR_TARGETS:  # communities: exact scans only (see names)
        coll = db.collection(collection)
        for index in embedding_vector_indexes(index_list(coll)):
            drop_index(coll, index, "obsolete: communities are scanned exactly")
    return lists


def _ensure_search(db: StandardDatabase, chunk_indexes: list[Doc], wait: Wait) -> None:
    """The inverted index on ``chunks.text`` and ``chunks_view`` over it (idempotent).

    A store of an older version has ``inv_chunks_text`` without ``optimizeTopK``: the new
    index is built next to it, the view's index list is replaced by the new index (one
    call), then the old index is dropped.
    """
    chunks = db.collection(CHUNKS)
    names = {str(i.get("name")): i for i in chunk_indexes}
    if CHUNKS_TEXT_INDEX not in names:
        add_and_await(chunks, text_index_definition(), wait)
        logger.info(
            "created inverted index %s on chunks.text (%s, optimizeTopK %s)",
            CHUNKS_TEXT_INDEX, TEXT_ANALYZER, BM25_TOP_K,
        )  # fmt: skip
    members = {"indexes": [{"collection": CHUNKS, "index": CHUNKS_TEXT_INDEX}]}
    views = {v.get("name") for v in cast(list[Doc], db.views())}
    if CHUNKS_VIEW not in views:
        _create(
            f"search-alias view {CHUNKS_VIEW}",
            lambda: db.create_view(CHUNKS_VIEW, "search-alias", members),
        )
    legacy = names.get(LEGACY_CHUNKS_TEXT_INDEX)
    if legacy is not None:
        if CHUNKS_VIEW in views:
            db.replace_view(CHUNKS_VIEW, members)
            logger.info("search-alias view %s now uses %s", CHUNKS_VIEW, CHUNKS_TEXT_INDEX)
        drop_index(chunks, legacy, f"replaced by {CHUNKS_TEXT_INDEX}")


def read_meta(db: Database) -> Doc | None:
    """Return the ``meta/schema`` document, or ``None`` if there is none."""
    if not db.has_collection(META):
        return None
    return cast(Doc | None, db.collection(META).get(META_KEY))


def ensure_objects(
    db: StandardDatabase,
    settings: ArangoSettings,
    *,
    embedding_model: str,
    dim: int,
    where: str,
    version: str,
    wait: Wait | None = None,
) -> Doc:
    """Create what is missing, drop what is obsolete, check the embedding model (idempotent).

    Args:
        db: The store's database, opened with the admin credentials.
        settings: The connection settings (graph name, sharding).
        embedding_model: The configured embedding model.
        dim: Its dimension.
        where: ``location`` of the store, for messages.
        version: The server version (from :func:`server_version`).
        wait: How long a new inverted index whose create call timed out is awaited.

    Returns:
        The meta document.

    Raises:
        SchemaError: On an old server, another model or dimension, or a newer schema.
    """
    check_version(version, where)
    meta = read_meta(db)
    if meta is not None:
        check_meta(meta, where, embedding_model, dim)
    _ensure_collections(db, settings)
    _ensure_graph(db, settings)
    lists = _ensure_indexes(db)
    _ensure_search(db, lists.get(CHUNKS) or [], wait or Wait())
    if meta is None:
        meta = {
            "_key": META_KEY,
            "version": SCHEMA_VERSION,
            "embedding_model": embedding_model,
            "dim": dim,
            "vector_index": False,
            "vector_feature": None,
            "vector_indexes": {},
            "created_at": now_text(),
        }
        db.collection(META).insert(meta)
        logger.info("recorded schema version %d (%s, dim %d)", SCHEMA_VERSION, embedding_model, dim)
    elif int(meta.get("version", 0)) < SCHEMA_VERSION:
        if int(meta.get("version", 0)) < PROVENANCE_VERSION:
            migrate_provenance(db)
        db.collection(META).update({"_key": META_KEY, "version": SCHEMA_VERSION})
        meta["version"] = SCHEMA_VERSION
    return meta


PROVENANCE_VERSION = 5
"""The schema version that moved provenance out of the vertex and edge documents."""

MIGRATION_BATCH = 1000
"""Relations and entities converted per query by :func:`migrate_provenance`."""


def migrate_provenance(db: Database) -> int:
    """Convert the provenance arrays of a version 4 store (``migrate_provenance.aql``).

    Pages through relations and entities by key, pass after pass, until a whole pass converts
    nothing: a second pass finds what a writer of an older version added meanwhile (stop those
    writers first, see docs/arango.md). Idempotent: an interrupted run is resumed by the next
    ``ensure_schema``, which sees the version still below 5. Returns the number of relations
    and entities converted.
    """
    queries = Queries()
    total = 0
    while True:
        converted = _migration_pass(db, queries)
        total += converted
        if converted == 0:
            break
    if total:
        logger.info("moved the provenance of %d relations and entities (schema version 5)", total)
    return total


def _migration_pass(db: Database, queries: Queries) -> int:
    """Run ``migrate_provenance.aql`` from the first key to the last; return the conversions."""
    after = {"relation": "", "entity": ""}
    converted = 0
    while True:
        row = (
            queries.one(
                db,
                "migrate_provenance",
                {
                    "limit": MIGRATION_BATCH,
                    "sample": PROVENANCE_SAMPLE,
                    "after_relation": after["relation"],
                    "after_entity": after["entity"],
                },
            )
            or {}
        )
        counts = {kind: int(row.get(f"{kind}s") or 0) for kind in after}
        converted += sum(counts.values())
        for kind, count in counts.items():
            if count:
                after[kind] = str(row[f"last_{kind}"])
        if max(counts.values()) < MIGRATION_BATCH:
            return converted


def require_meta(db: StandardDatabase, where: str) -> Doc:
    """Return the meta document of a store whose schema must exist.

    Raises:
        SchemaError: If the schema was never created, or predates schema version 5 (its
            relation evidence is still on the edges: the reads would find none).
    """
    meta = read_meta(db)
    if meta is None:
        msg = f"the ArangoDB store {where} has no schema yet; {SCHEMA_HINT}"
        raise SchemaError(msg)
    version = int(meta.get("version", 0))
    if version < PROVENANCE_VERSION:
        msg = (
            f"the ArangoDB store {where} has schema version {version}, which keeps provenance "
            f"on the entity and relation documents; version {SCHEMA_VERSION} reads it from "
            f"the evidence collection: convert the store first; {SCHEMA_HINT}"
        )
        raise SchemaError(msg)
    return meta


# --------------------------------------------------------------------------- vector indexes


def build_vector_indexes(
    db: StandardDatabase,
    queries: Queries,
    settings: ArangoSettings,
    *,
    dim: int,
    min_documents: int = DEFAULT_MIN_VECTOR_DOCUMENTS,
    build_timeout: float = DEFAULT_VECTOR_BUILD_TIMEOUT,
    wait: Wait | None = None,
) -> Doc:
    """Rebuild the vector indexes of chunks, entities and keys (build, then swap).

    Per collection a new index is created in the background next to the current one and
    its ``trainingState`` polled; once it is ready the previous index is dropped, so
    searches keep using the previous index until then (see
    :func:`~graphrag.stores.arango.indexes.build_target`). Communities are always scanned
    exactly; a vector index on them is dropped.

    Args:
        db: The store's database, opened with the admin credentials.
        queries: The AQL queries.
        settings: ``n_lists`` and ``n_probe``.
        dim: The embedding dimension.
        min_documents: Below this many embedded documents the collection is scanned exactly
            (its vector index, if any, is dropped).
        build_timeout: Seconds one index may take to build and train (its own deadline,
            not the HTTP timeout); when they pass, the new index is dropped and the previous
            one kept.
        wait: The clock of the builds (tests); default ``Wait(build_timeout)``.

    Returns:
        Per collection ``{usable, documents, n_lists?, name?, reason}``, plus
        ``vector_feature``.
    """
    meta = require_meta(db, db.name)
    wait = wait or Wait(build_timeout)
    # probed anew on every build: a server restarted with --vector-index must get indexes
    feature: bool | None = None
    report: Doc = {}
    for collection in EXACT_VECTOR_TARGETS:  # communities: exact scans only (see names)
        drop_vector_indexes(db, collection, "communities are scanned exactly")
    for collection in VECTOR_TARGETS:
        documents = queries.count_embeddings(db, collection)
        entry: Doc = {"usable": False, "documents": documents}
        if documents < max(min_documents, 1):
            drop_vector_indexes(db, collection, f"{documents} embedded documents")
            entry["reason"] = f"{documents} embedded documents < {min_documents}: exact scans"
        elif feature is False:
            entry["reason"] = "the server runs without --vector-index: exact scans"
        else:
            try:
                entry = build_target(db, collection, documents, settings, dim, wait)
                feature = True
            except IndexCreateError as exc:
                if not _feature_disabled(exc):
                    raise
                feature = False
                _warn_feature(exc)
                entry["reason"] = "the server runs without --vector-index: exact scans"
        report[collection] = entry
        _log_choice(collection, entry)
    if feature is None:  # nothing was tried (small collections): keep what is known
        feature = meta.get("vector_feature")
    usable = any(bool(v.get("usable")) for v in report.values())
    update = {"_key": META_KEY, "vector_feature": feature, "vector_index": usable}
    db.collection(META).update({**update, "vector_indexes": report}, merge=False)
    return {**report, "vector_feature": feature}


def _warn_feature(exc: IndexCreateError) -> None:
    logger.warning(
        "ArangoDB runs without --vector-index (%s); vector search uses exact "
        "COSINE_SIMILARITY scans; restart it with --vector-index=true "
        "(docker-compose.yml does) and build the indexes again",
        exc.error_message,
    )


def _log_choice(collection: str, entry: Doc) -> None:
    if entry.get("usable"):
        logger.info(
            "vector index %s on %s.embedding: %d documents, nLists %s (%s)",
            entry.get("name"), collection, entry["documents"], entry.get("n_lists"),
            entry.get("reason"),
        )  # fmt: skip
    else:
        logger.info("no vector index on %s.embedding (%s)", collection, entry.get("reason"))
