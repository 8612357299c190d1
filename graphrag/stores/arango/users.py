"""Administration helpers: least-privilege users, analyst saved queries, throw-away databases.

Least privilege (docs/arango.md, "Users and least privilege"): every grant names a collection
of :data:`~graphrag.stores.arango.names.ALL_COLLECTIONS`, never the ``*`` wildcard (which
would also cover collections created later).

- ``kg_writer`` (ingestion, the HTTP API, ``graphrag analyze``): database ``ro`` (*Access*:
  no collection, index or view changes), ``rw`` on :data:`WRITER_COLLECTIONS` (what
  ingestion, deletion, entity resolution, jobs, API keys and the graph analysis write:
  ``entity_ranks``, ``communities``, ``member_of``, ``analysis``) and ``ro`` on
  :data:`WRITER_READ_ONLY`: ``meta`` (the schema record), which only ``graphrag schema``
  writes (run it as the admin).
- ``kg_reader`` and ``kg_analyst`` (query service, LLM-written AQL, web UI): database ``ro``,
  ``ro`` on every collection.

Granting needs the *Administrate* server access level (``_system`` database ``rw``, e.g.
root); passwords are never logged. ``deploy/arango-init/create-users.js`` applies the same
plan inside the Docker image (tests/unit/stores/arango/test_privileges.py keeps them in step).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from arango.database import StandardDatabase
from arango.exceptions import PermissionResetError

from graphrag.config import ArangoSettings
from graphrag.stores.arango.connection import SYSTEM_DATABASE, ArangoConnection
from graphrag.stores.arango.names import (
    ALL_COLLECTIONS,
    ANALYSIS_WRITES,
    RECORD_COLLECTIONS,
    WRITE_COLLECTIONS,
)

logger = logging.getLogger(__name__)

WRITER = "kg_writer"
READER = "kg_reader"
ANALYST = "kg_analyst"

WRITER_COLLECTIONS: Final = tuple(
    dict.fromkeys((*WRITE_COLLECTIONS, *RECORD_COLLECTIONS, *ANALYSIS_WRITES))
)
"""Collections the writer may change: those of document writes, deletes and entity resolution
(:data:`~graphrag.stores.arango.names.WRITE_COLLECTIONS`), the API's jobs and API keys, and
those of the graph analysis (:data:`~graphrag.stores.arango.names.ANALYSIS_WRITES`)."""

WRITER_READ_ONLY: Final = tuple(c for c in ALL_COLLECTIONS if c not in WRITER_COLLECTIONS)
"""The other collections (``meta``, the schema record): the writer only reads them."""


def collection_grants(collection_level: str, read_only: Sequence[str] = ()) -> dict[str, str]:
    """Return the grant of every store collection: ``collection_level``, ``ro`` for ``read_only``.

    Args:
        collection_level: ``rw`` or ``ro``.
        read_only: Collections that get ``ro`` whatever ``collection_level`` is.
    """
    return {c: "ro" if c in read_only else collection_level for c in ALL_COLLECTIONS}


def writer_grants() -> dict[str, str]:
    """Return the writer's collection grants (``rw`` except :data:`WRITER_READ_ONLY`)."""
    return collection_grants("rw", WRITER_READ_ONLY)


def reader_grants() -> dict[str, str]:
    """Return the grants of the read-only users (``ro`` on every collection)."""
    return collection_grants("ro")


def _set_user(sys_db: StandardDatabase, username: str, password: str) -> None:
    if sys_db.has_user(username):
        sys_db.update_user(username, password=password, active=True)
        logger.info("updated ArangoDB user %s", username)
    else:
        sys_db.create_user(username, password=password, active=True)
        logger.info("created ArangoDB user %s", username)


def _grant(
    sys_db: StandardDatabase, username: str, database: str, grants: Mapping[str, str]
) -> None:
    """Database ``ro``, then one explicit grant per collection; an old wildcard is cleared."""
    sys_db.update_permission(username, "ro", database)
    try:  # a wildcard of an earlier version would cover collections created later
        sys_db.reset_permission(username, database, collection="*")
    except PermissionResetError as exc:
        logger.debug("no collection wildcard to clear for %s: %s", username, exc.message)
    for collection, level in grants.items():
        sys_db.update_permission(username, level, database, collection=collection)
    read_only = sorted(c for c, level in grants.items() if level == "ro")
    logger.info(
        "granted %s on %s: database ro, collections rw except %s (ro)",
        username, database, ", ".join(read_only) or "none",
    )  # fmt: skip


async def create_users(
    settings: ArangoSettings,
    *,
    writer_password: str,
    reader_password: str,
    analyst_password: str | None = None,
    writer: str = WRITER,
    reader: str = READER,
    analyst: str = ANALYST,
) -> list[str]:
    """Create (or update) the least-privilege users of the store's database.

    Run after ``ensure_schema`` (``graphrag schema --store arango``), and again after a schema
    upgrade that adds collections or whenever collections were dropped and created again:
    ArangoDB only grants access to collections that exist, and dropping a collection drops
    its grants.

    Args:
        settings: The connection; the admin user (``admin_username``, else ``username``)
            needs the *Administrate* server access level (``_system`` ``rw``, e.g. root).
        writer_password: Password of the ingestion user.
        reader_password: Password of the query user.
        analyst_password: Password of the web-UI user (skipped when ``None``).
        writer: Name of the ingestion user.
        reader: Name of the query user.
        analyst: Name of the web-UI user.

    Returns:
        The user names configured.

    Raises:
        StoreAuthError: If the admin may not manage users.
    """
    users = [(writer, writer_password, writer_grants()), (reader, reader_password, reader_grants())]
    if analyst_password is not None:
        users.append((analyst, analyst_password, reader_grants()))
    conn = ArangoConnection(settings)

    def work(sys_db: StandardDatabase) -> list[str]:
        for username, password, grants in users:
            _set_user(sys_db, username, password)
            _grant(sys_db, username, settings.database, grants)
        return [u for u, _, _ in users]

    try:
        return await conn.run("creating users", work, admin=True, database=SYSTEM_DATABASE)
    finally:
        conn.close()


def merge_saved_queries(current: Sequence[Any], new: Sequence[dict[str, Any]]) -> list[Any]:
    """Merge saved queries by name: new ones replace those with the same name, others stay."""
    names = {q["name"] for q in new}
    kept = [q for q in current if not (isinstance(q, dict) and q.get("name") in names)]
    return [*kept, *new]


async def install_saved_queries(
    settings: ArangoSettings, *, username: str, queries: Sequence[dict[str, Any]]
) -> int:
    """Store queries in a user's web-UI saved queries (``extra.queries`` of the user).

    The web UI (Queries tab, "Saved queries") reads ``{name, value, parameter}`` objects
    from the user's ``extra.queries``; other ``extra`` attributes (graph viewer settings) are
    kept, and a query with the same name is replaced.

    Users are server-wide, and the users API answers on any database the caller may read, so
    the request goes to the store's database (``settings.database``), never ``_system``:

    - ``username`` is ``settings.username``: the user edits their own profile with their own
      credentials (ArangoDB lets every user change their own data), so a read-only analyst
      without access to ``_system`` can run it;
    - another user: the admin credentials (``admin_username``, else ``username``), which
      need the *Administrate* server access level (e.g. root).

    Args:
        settings: The connection.
        username: The user whose saved queries change.
        queries: ``{"name", "value", "parameter"}`` objects.

    Returns:
        The number of saved queries the user has afterwards.

    Raises:
        StoreAuthError: If the credentials may not read or change that user (401/403).
    """
    conn = ArangoConnection(settings)
    admin = username != settings.username

    def work(db: StandardDatabase) -> int:
        user = cast(dict[str, Any], db.user(username))
        extra = dict(user.get("extra") or {})
        extra["queries"] = merge_saved_queries(extra.get("queries") or [], list(queries))
        db.update_user(username, extra=extra)
        logger.info("installed %d saved queries for %s", len(queries), username)
        return len(extra["queries"])

    try:
        return await conn.run(f"saving queries for {username}", work, admin=admin)
    finally:
        conn.close()


async def drop_database(settings: ArangoSettings, name: str) -> bool:
    """Drop database ``name`` (admin on ``_system``); return whether it existed."""
    conn = ArangoConnection(settings)
    try:
        return await conn.run(
            f"dropping database {name}",
            lambda sys_db: bool(sys_db.delete_database(name, ignore_missing=True)),
            admin=True,
            database=SYSTEM_DATABASE,
        )
    finally:
        conn.close()
