"""SQLite schema of the embedded store: DDL, connections and the ``meta`` checks.

One file holds everything. Provenance is derived: an entity's chunks come from ``mentions``,
a relation's weight and chunks from ``evidence``; nothing is counted twice.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from graphrag.errors import SchemaError, StoreUnavailableError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 5
"""Version of the tables below; a newer file is refused, an older one is migrated.

Version 2 added ``communities`` and ``community_members`` (graph analysis). Version 3 added
the resolution state: chunk extractions, ``surfaces``, ``keys``, ``key_links``,
``dirty_keys`` and the documents' ``derived`` flag. Version 4 added the operational records
of the HTTP API: ``jobs`` and ``api_keys``. Version 5 added ``communities.chunk_ids`` (the
chunks that support a community, for the ``global`` retrieval mode).
"""

BUSY_TIMEOUT_S = 30.0

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    mime TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    updated_at TEXT NOT NULL,
    derived INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS documents_status ON documents (status, updated_at);
CREATE INDEX IF NOT EXISTS documents_updated ON documents (updated_at);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents (id),
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    token_count INTEGER NOT NULL,
    embedding BLOB,
    extraction BLOB
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks (document_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO chunks_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    rank REAL,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS entities_type ON entities (type);
CREATE TABLE IF NOT EXISTS entity_names (
    norm TEXT NOT NULL,
    entity_id TEXT NOT NULL REFERENCES entities (id),
    PRIMARY KEY (norm, entity_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_names_entity ON entity_names (entity_id);
CREATE TABLE IF NOT EXISTS mentions (
    chunk_id TEXT NOT NULL REFERENCES chunks (id),
    entity_id TEXT NOT NULL REFERENCES entities (id),
    surface_forms TEXT NOT NULL DEFAULT '[]',
    spans TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (chunk_id, entity_id)
);
CREATE INDEX IF NOT EXISTS mentions_entity ON mentions (entity_id);
CREATE TABLE IF NOT EXISTS relations (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES entities (id),
    target_id TEXT NOT NULL REFERENCES entities (id),
    predicate TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT
);
CREATE INDEX IF NOT EXISTS relations_source ON relations (source_id);
CREATE INDEX IF NOT EXISTS relations_target ON relations (target_id);
CREATE TABLE IF NOT EXISTS evidence (
    relation_id TEXT NOT NULL REFERENCES relations (id),
    chunk_id TEXT NOT NULL REFERENCES chunks (id),
    sentence TEXT NOT NULL,
    weight REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_relation ON evidence (relation_id);
CREATE INDEX IF NOT EXISTS evidence_chunk ON evidence (chunk_id);
CREATE TABLE IF NOT EXISTS merges (
    id TEXT PRIMARY KEY,
    alias_id TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    alias_type TEXT NOT NULL,
    canonical_id TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    undone_at TEXT
);
CREATE INDEX IF NOT EXISTS merges_alias ON merges (alias_id);
"""

_COMMUNITY_TABLES = """
CREATE TABLE IF NOT EXISTS communities (
    id TEXT PRIMARY KEY,
    level INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    summary TEXT,
    embedding BLOB,
    chunk_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS communities_order ON communities (level, ordinal);
CREATE TABLE IF NOT EXISTS community_members (
    community_id TEXT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    entity_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (community_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS community_members_entity ON community_members (entity_id);
"""
"""Version 2: communities and their members. A member row goes with its entity (``ON DELETE
CASCADE``), so a community lists only live entities until the next analysis replaces it."""

_RESOLUTION_TABLES = """
CREATE INDEX IF NOT EXISTS documents_pending ON documents (id) WHERE derived = 0;
CREATE TABLE IF NOT EXISTS surfaces (
    chunk_id TEXT NOT NULL REFERENCES chunks (id),
    key TEXT NOT NULL,
    surface TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (chunk_id, key, surface)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS surfaces_key ON surfaces (key, chunk_id);
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY,
    norm TEXT NOT NULL,
    type TEXT NOT NULL,
    initials TEXT,
    entity_id TEXT,
    linked INTEGER NOT NULL DEFAULT 0,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS keys_norm ON keys (norm);
CREATE INDEX IF NOT EXISTS keys_initials ON keys (initials) WHERE initials IS NOT NULL;
CREATE INDEX IF NOT EXISTS keys_entity ON keys (entity_id);
CREATE TABLE IF NOT EXISTS key_links (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS key_links_b ON key_links (b);
CREATE TABLE IF NOT EXISTS dirty_keys (
    key TEXT PRIMARY KEY
) WITHOUT ROWID;
"""
"""Version 3: the resolution state. ``surfaces`` counts each key's surface forms per chunk
(the chunk's ``extraction`` is the raw fact it is computed from); ``keys`` holds each key's
name, type, embedding and the entity it resolves to; ``key_links`` the similar names;
``dirty_keys`` the keys to resolve again; ``documents.derived = 0`` marks documents whose
mentions and relations must be derived again."""

_RECORD_TABLES = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    heartbeat_at TEXT,
    worker TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at);
"""
"""Version 4: background jobs and API keys (:mod:`graphrag.records`). ``data`` holds the
whole record as JSON; the columns beside it are what queries filter and sort on (the job's
state columns are kept equal to its JSON by every write). Times are sortable UTC ISO
strings (:func:`graphrag.stores.codec.to_time`)."""

_V3_COLUMNS = (
    ("chunks", "extraction", "BLOB"),
    ("documents", "derived", "INTEGER NOT NULL DEFAULT 1"),
)

_V5_COLUMNS = (("communities", "chunk_ids", "TEXT NOT NULL DEFAULT '[]'"),)
_V5_INDEX = "CREATE INDEX IF NOT EXISTS community_members_order ON community_members (community_id, position, entity_id);"  # noqa: E501
"""Version 5: each community's supporting chunks (JSON ids; older communities keep ``[]`` and
no embedding until the next analysis) and the members in saved order, read without a sort."""

_COLUMNS: dict[int, tuple[tuple[str, str, str], ...]] = {2: _V3_COLUMNS, 4: _V5_COLUMNS}
"""Columns added when upgrading from the version (key) to the next one, before its DDL."""

_MIGRATIONS = {1: _COMMUNITY_TABLES, 2: _RESOLUTION_TABLES, 3: _RECORD_TABLES, 4: _V5_INDEX}
"""DDL that upgrades a file from the version (key) to the next one."""

_ALL_TABLES = _TABLES + _COMMUNITY_TABLES + _RESOLUTION_TABLES + _RECORD_TABLES + _V5_INDEX

_OUR_TABLES = frozenset(
    {
        "meta",
        "documents",
        "chunks",
        "entities",
        "entity_names",
        "mentions",
        "relations",
        "communities",
        "community_members",
        "surfaces",
        "keys",
        "key_links",
        "dirty_keys",
        "jobs",
        "api_keys",
    }
)


SQLITE_HEADER = b"SQLite format 3\x00"

DAMAGED_HINT = (
    "restore it from a backup, or rebuild it: re-ingest the documents into a new path "
    "(GRAPHRAG_EMBEDDED__PATH), or salvage what is readable with "
    "`sqlite3 DAMAGED.db .recover | sqlite3 NEW.db`"
)


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite reports a damaged file (pages or an FTS index that cannot be read)."""
    text = str(exc).lower()
    return "malformed" in text or "vtable constructor failed" in text or "corrupt" in text


def open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailableError:
    """Translate an SQLite failure to open or read a store file into a clear error.

    Distinguishes a file that is not SQLite at all, an SQLite file that is damaged, a file
    another process holds locked, and an unreadable file.
    """
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        msg = (
            f"the embedded store at {path} is locked by another process ({exc}); wait for it "
            "to finish and retry"
        )
    elif damaged(exc) or ("not a database" in text and _has_sqlite_header(path)):
        msg = f"the embedded store at {path} is damaged ({exc}); {DAMAGED_HINT}"
    elif "not a database" in text:
        msg = (
            f"cannot open the embedded store at {path}: the file is not an SQLite database, "
            "or its header is damaged; point GRAPHRAG_EMBEDDED__PATH at the store's file or "
            f"at a new path (if it was a graph store: {DAMAGED_HINT})"
        )
    else:
        msg = (
            f"cannot open the embedded store at {path}: {exc}; check that the file is "
            "readable and its folder writable, or use another GRAPHRAG_EMBEDDED__PATH"
        )
    return StoreUnavailableError(msg)


def probe(path: Path, *, embedding_model: str, dim: int) -> str:
    """Look at a store file read-only, changing nothing, before it is opened for writing.

    Returns:
        ``"missing"`` (no file or an empty one), ``"current"`` (a store of this version
        with this embedding model) or ``"outdated"`` (an older store to migrate).

    Raises:
        StoreUnavailableError: If the file is not SQLite, is damaged or locked.
        SchemaError: If it is an SQLite file of something else, of a newer version or built
            with another embedding model.
    """
    try:
        if not path.exists() or path.stat().st_size == 0:
            return "missing"
    except OSError as exc:
        msg = f"cannot access the embedded store at {path}: {exc}; check the path"
        raise StoreUnavailableError(msg) from exc
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
            isolation_level=None, check_same_thread=False,
        )  # fmt: skip
    except sqlite3.Error as exc:
        raise open_error(path, exc) from exc
    try:
        tables = {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "meta" not in tables:
            _refuse_foreign(path, tables)
            return "missing"
        meta = _meta(conn)
    except sqlite3.OperationalError as exc:
        if "no such column" in str(exc).lower():  # a "meta" table of another application
            _refuse_foreign(path, {*tables, "meta (not graphrag's)"})
        raise open_error(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        raise open_error(path, exc) from exc
    finally:
        conn.close()
    _check_meta(meta, path, embedding_model, dim)
    version = int(meta.get("schema_version", "0"))
    return "current" if version == SCHEMA_VERSION and tables >= _OUR_TABLES else "outdated"


def _refuse_foreign(path: Path, tables: set[str]) -> None:
    if tables - _OUR_TABLES - {"sqlite_sequence"}:
        tables = tables - {"meta"} if "meta (not graphrag's)" in tables else tables
        msg = (
            f"{path} is an SQLite database but not a graphrag embedded store (it has tables "
            f"{sorted(tables)[:5]}); nothing was changed; use another GRAPHRAG_EMBEDDED__PATH"
        )
        raise SchemaError(msg)


def connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """Open a connection in autocommit mode with the store's pragmas.

    Args:
        path: The SQLite file.
        read_only: Open a reader (``query_only``); writers get ``synchronous=NORMAL``.

    Returns:
        The open connection (usable from any thread; callers serialise its use).

    Raises:
        StoreUnavailableError: If the file cannot be opened, is not an SQLite database, is
            damaged or is locked.
    """
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise open_error(path, exc) from exc
    try:
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise open_error(path, exc) from exc
    return conn


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}


def _check_meta(meta: dict[str, str], path: Path, embedding_model: str, dim: int) -> None:
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        msg = (
            f"the embedded store at {path} has schema version {version} but this version of "
            f"graphrag reads version {SCHEMA_VERSION}; upgrade graphrag or use another store path"
        )
        raise SchemaError(msg)
    stored_model, stored_dim = meta.get("embedding_model"), int(meta.get("dim", "0"))
    if stored_model != embedding_model or stored_dim != dim:
        msg = (
            f"the embedded store at {path} was built with embedding model {stored_model!r} "
            f"(dim {stored_dim}) but {embedding_model!r} (dim {dim}) is configured; vectors of "
            "different models cannot be mixed: use a new store path (GRAPHRAG_EMBEDDED__PATH) "
            "or re-ingest everything into an empty store with the new model"
        )
        raise SchemaError(msg)


def ensure(conn: sqlite3.Connection, path: Path, *, embedding_model: str, dim: int) -> int:
    """Create the tables if missing and check the recorded embedding model.

    Args:
        conn: The write connection.
        path: The file (for messages).
        embedding_model: The embedder's model name.
        dim: The embedder's dimension.

    Returns:
        The schema version of the file.

    Raises:
        SchemaError: On another model/dimension, a newer schema, or a foreign SQLite file.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "meta" in tables:
            meta = _meta(conn)
            _check_meta(meta, path, embedding_model, dim)
            _migrate(conn, path, int(meta.get("schema_version", str(SCHEMA_VERSION))))
        else:
            _refuse_foreign(path, tables)
        for statement in _split_script(_ALL_TABLES):
            conn.execute(statement)
        defaults = {
            "schema_version": str(SCHEMA_VERSION),
            "embedding_model": embedding_model,
            "dim": str(dim),
            "write_counter": "0",
        }
        conn.executemany(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", list(defaults.items())
        )
        version = int(_meta(conn)["schema_version"])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    logger.debug("embedded store %s ready (schema v%d, %s/%d)", path, version, embedding_model, dim)
    return version


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Upgrade an older file to :data:`SCHEMA_VERSION` inside the caller's transaction."""
    for step in range(max(version, 1), SCHEMA_VERSION):
        _add_columns(conn, _COLUMNS.get(step, ()))
        for statement in _split_script(_MIGRATIONS[step]):
            conn.execute(statement)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(step + 1),))
        logger.info("migrated the embedded store %s from schema v%d to v%d", path, step, step + 1)


def _add_columns(conn: sqlite3.Connection, columns: tuple[tuple[str, str, str], ...]) -> None:
    """Add the columns a table lacks (``ALTER TABLE ... ADD COLUMN``)."""
    for table, column, declaration in columns:
        present = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def _split_script(script: str) -> list[str]:
    """Split the DDL into statements (triggers contain ``;`` inside ``BEGIN ... END``)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    return statements
