"""Schema of the ArangoDB store: collections, named graph, indexes, view, meta document.

:func:`ensure_objects` is idempotent and only writes what is missing, so a read-only user
can run it against a complete schema (it then only reads). :func:`build_vector_indexes`
(re)creates the IVF vector indexes after a load: they are trained on the data present, so
they are dropped and recreated, sized ``nLists = n_lists or clamp(4 * sqrt(N), 1, N)``, and
skipped (exact ``COSINE_SIMILARITY`` scans instead) below a minimum document count or when
the server runs without ``--vector-index``. Every choice is logged and recorded in the meta
document ``meta/schema``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, cast

from arango.collection import StandardCollection
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
    PERSISTENT_INDEXES,
    n_lists_for,
    persistent_index_definition,
    vector_index_definition,
)
from graphrag.stores.arango.mapping import now_text
from graphrag.stores.arango.names import (
    ALL_COLLECTIONS,
    CHUNKS,
    CHUNKS_TEXT_INDEX,
    CHUNKS_VIEW,
    EDGE_COLLECTIONS,
    EDGE_DEFINITIONS,
    EXACT_VECTOR_TARGETS,
    META,
    META_KEY,
    MIN_SERVER_VERSION,
    SCHEMA_VERSION,
    TEXT_ANALYZER,
    VECTOR_TARGETS,
)
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)

Doc = dict[str, Any]

DEFAULT_MIN_VECTOR_DOCUMENTS = 1024
"""Below this many embedded documents a collection is scanned exactly (no IVF index)."""

TRAINING_POLL_SECONDS = 1.0
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int]:
    """Return ``(major, minor, patch)`` of an ArangoDB version string (``3.12.12-1``...).

    Raises:
        SchemaError: If the text holds no version number.
    """
    found = _VERSION.search(text)
    if found is None:
        msg = f"cannot read the ArangoDB server version {text!r}; ArangoDB 3.12.4+ is required"
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
            f"ArangoDB at {where} runs version {text}, but {wanted} or newer is required (vector "
            "indexes); upgrade the server (docker-compose.yml pins arangodb/arangodb:3.12.12)"
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


def _index_names(collection: StandardCollection) -> set[str]:
    return {str(i.get("name")) for i in cast(list[Doc], collection.indexes())}


def _ensure_indexes(db: StandardDatabase) -> None:
    names: dict[str, set[str]] = {}
    for collection, name, fields in PERSISTENT_INDEXES:
        coll = db.collection(collection)
        if collection not in names:
            names[collection] = _index_names(coll)
        if name not in names[collection]:
            coll.add_index(persistent_index_definition(name, fields))
            logger.info("created persistent index %s on %s %s", name, collection, list(fields))
    chunks = db.collection(CHUNKS)
    if CHUNKS_TEXT_INDEX not in names.get(CHUNKS, set()):
        chunks.add_index(
            {
                "type": "inverted",
                "name": CHUNKS_TEXT_INDEX,
                "fields": [{"name": "text", "analyzer": TEXT_ANALYZER}],
            }
        )
        logger.info(
            "created inverted index %s on chunks.text (%s)", CHUNKS_TEXT_INDEX, TEXT_ANALYZER
        )


def _ensure_view(db: StandardDatabase) -> None:
    views = {v.get("name") for v in cast(list[Doc], db.views())}
    if CHUNKS_VIEW not in views:
        _create(
            f"search-alias view {CHUNKS_VIEW}",
            lambda: db.create_view(
                CHUNKS_VIEW,
                "search-alias",
                {"indexes": [{"collection": CHUNKS, "index": CHUNKS_TEXT_INDEX}]},
            ),
        )


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
) -> Doc:
    """Create what is missing and check the recorded embedding model (idempotent).

    Args:
        db: The store's database, opened with the admin credentials.
        settings: The connection settings (graph name, sharding).
        embedding_model: The configured embedding model.
        dim: Its dimension.
        where: ``location`` of the store, for messages.
        version: The server version (from :func:`server_version`).

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
    _ensure_indexes(db)
    _ensure_view(db)
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
        db.collection(META).update({"_key": META_KEY, "version": SCHEMA_VERSION})
        meta["version"] = SCHEMA_VERSION
    return meta


def require_meta(db: StandardDatabase, where: str) -> Doc:
    """Return the meta document of a store whose schema must exist.

    Raises:
        SchemaError: If the schema was never created.
    """
    meta = read_meta(db)
    if meta is None:
        msg = f"the ArangoDB store {where} has no schema yet; {SCHEMA_HINT}"
        raise SchemaError(msg)
    return meta


# --------------------------------------------------------------------------- vector indexes


def training_state(index: Doc) -> str | None:
    """Return an index's training state (raw or python-arango-formatted key)."""
    state = index.get("trainingState", index.get("training_state"))
    return None if state is None else str(state)


def _drop_vector_indexes(coll: StandardCollection) -> None:
    for index in cast(list[Doc], coll.indexes()):
        if index.get("type") == "vector":
            coll.delete_index(str(index["id"]), ignore_missing=True)
            logger.info("dropped vector index %s on %s", index.get("name"), coll.name)


def _wait_trained(coll: StandardCollection, name: str, timeout: float) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout
    while True:
        found = [i for i in cast(list[Doc], coll.indexes()) if i.get("name") == name]
        if not found:
            return False, "the index disappeared after creation"
        state = training_state(found[0])
        if state in (None, "ready"):
            return True, "ready"
        if state == "unusable" or time.monotonic() > deadline:
            reason = found[0].get("error_message") or found[0].get("errorMessage") or state
            return False, f"training state {state}: {reason}"
        time.sleep(TRAINING_POLL_SECONDS)


def _feature_disabled(exc: ArangoServerError) -> bool:
    message = str(exc.error_message or exc.message or "").lower()
    return exc.http_code == 400 and "vector" in message and "not enabled" in message


def _build_one(
    db: StandardDatabase, collection: str, documents: int, settings: ArangoSettings, dim: int
) -> Doc:
    coll = db.collection(collection)
    n_lists = n_lists_for(documents, settings.n_lists)
    definition = vector_index_definition(collection, dim, n_lists, settings.n_probe)
    name = str(definition["name"])
    try:
        info = cast(Doc, coll.add_index(definition))
    except IndexCreateError as exc:
        if _feature_disabled(exc) or exc.http_code in (401, 403, 503):
            raise
        # <= 3.12.9 a failed training is an error (1555...) and leaves an unusable index;
        # 3.12.4/5 reject sparse indexes over documents without embeddings: exact scans
        logger.warning(
            "vector index on %s.embedding could not be built (%s); using exact scans",
            collection, exc.message,
        )  # fmt: skip
        _drop_vector_indexes(coll)
        reason = f"creation failed: [{exc.error_code}] {exc.error_message or exc.message}"
        return {"usable": False, "documents": documents, "reason": reason}
    if training_state(info) == "unusable":  # >= 3.12.10 reports failed training this way
        usable, reason = False, str(info.get("errorMessage") or "training failed")
    else:  # confirm through the index list (trainingState since 3.12.9)
        usable, reason = _wait_trained(coll, name, settings.request_timeout)
    if not usable:
        _drop_vector_indexes(coll)
    return {"usable": usable, "documents": documents, "n_lists": n_lists, "reason": reason}


def build_vector_indexes(
    db: StandardDatabase,
    queries: Queries,
    settings: ArangoSettings,
    *,
    dim: int,
    min_documents: int = DEFAULT_MIN_VECTOR_DOCUMENTS,
) -> Doc:
    """Drop and recreate the vector indexes of chunks, entities and keys.

    Communities are always scanned exactly; a vector index on them (built by an older
    version) is dropped.

    Args:
        db: The store's database, opened with the admin credentials.
        queries: The AQL queries.
        settings: ``n_lists``, ``n_probe`` and the request timeout (training wait).
        dim: The embedding dimension.
        min_documents: Below this many embedded documents the collection is scanned exactly.

    Returns:
        Per collection ``{usable, documents, n_lists?, reason}``, plus ``vector_feature``.
    """
    meta = require_meta(db, db.name)
    # probed anew on every build: a server restarted with --vector-index must get indexes
    feature: bool | None = None
    report: Doc = {}
    for collection in EXACT_VECTOR_TARGETS:  # communities: exact scans only (see names)
        _drop_vector_indexes(db.collection(collection))
    for collection in VECTOR_TARGETS:
        documents = queries.count_embeddings(db, collection)
        _drop_vector_indexes(db.collection(collection))
        if documents < max(min_documents, 1):
            reason = f"{documents} embedded documents < {min_documents}: exact scans"
            report[collection] = {"usable": False, "documents": documents, "reason": reason}
        elif feature is False:
            reason = "the server runs without --vector-index: exact scans"
            report[collection] = {"usable": False, "documents": documents, "reason": reason}
        else:
            try:
                report[collection] = _build_one(db, collection, documents, settings, dim)
                feature = True
            except IndexCreateError as exc:
                if not _feature_disabled(exc):
                    raise
                feature = False
                logger.warning(
                    "ArangoDB runs without --vector-index (%s); vector search uses exact "
                    "COSINE_SIMILARITY scans; restart it with --vector-index=true "
                    "(docker-compose.yml does) and build the indexes again",
                    exc.error_message,
                )
                reason = "the server runs without --vector-index: exact scans"
                report[collection] = {"usable": False, "documents": documents, "reason": reason}
        _log_choice(collection, report[collection])
    if feature is None:  # nothing was tried (small collections): keep what is known
        feature = meta.get("vector_feature")
    usable = any(bool(v.get("usable")) for v in report.values())
    update = {"_key": META_KEY, "vector_feature": feature, "vector_index": usable}
    db.collection(META).update({**update, "vector_indexes": report}, merge=False)
    return {**report, "vector_feature": feature}


def _log_choice(collection: str, entry: Doc) -> None:
    if entry.get("usable"):
        logger.info(
            "vector index on %s.embedding: %d documents, nLists %s",
            collection, entry["documents"], entry.get("n_lists"),
        )  # fmt: skip
    else:
        logger.info("no vector index on %s.embedding (%s)", collection, entry.get("reason"))
