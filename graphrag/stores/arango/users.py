"""Administration helpers: least-privilege users, analyst saved queries, throw-away databases.

All functions here log in as the admin (``admin_username``/``admin_password``, else
``username``/``password``) on ``_system`` and never log passwords.

Least privilege (docs/arango.md): ``kg_writer`` gets database access ``ro`` and ``rw`` on the
store's collections (ingestion); ``kg_reader`` and ``kg_analyst`` get ``ro`` on both (query
service, LLM-written AQL, web UI). Schema changes (collections, indexes, views) need
database ``rw`` and stay with the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from arango.database import StandardDatabase

from graphrag.config import ArangoSettings
from graphrag.stores.arango.connection import SYSTEM_DATABASE, ArangoConnection
from graphrag.stores.arango.names import ALL_COLLECTIONS

logger = logging.getLogger(__name__)

WRITER = "kg_writer"
READER = "kg_reader"
ANALYST = "kg_analyst"


def _set_user(sys_db: StandardDatabase, username: str, password: str) -> None:
    if sys_db.has_user(username):
        sys_db.update_user(username, password=password, active=True)
        logger.info("updated ArangoDB user %s", username)
    else:
        sys_db.create_user(username, password=password, active=True)
        logger.info("created ArangoDB user %s", username)


def _grant(sys_db: StandardDatabase, username: str, database: str, collection_level: str) -> None:
    sys_db.update_permission(username, "ro", database)
    for collection in ALL_COLLECTIONS:
        sys_db.update_permission(username, collection_level, database, collection=collection)
    logger.info(
        "granted %s: database %s ro, its collections %s", username, database, collection_level
    )


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

    Run after ``ensure_schema``: collection grants name the existing collections.

    Args:
        settings: The connection; the admin user must have access to ``_system``.
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
    users = [(writer, writer_password, "rw"), (reader, reader_password, "ro")]
    if analyst_password is not None:
        users.append((analyst, analyst_password, "ro"))
    conn = ArangoConnection(settings)

    def work(sys_db: StandardDatabase) -> list[str]:
        for username, password, level in users:
            _set_user(sys_db, username, password)
            _grant(sys_db, username, settings.database, level)
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
    kept, and a query with the same name is replaced. Users may edit themselves, so the
    admin credentials are only needed for someone else.

    Args:
        settings: The connection (admin, or ``username`` itself).
        username: The user whose saved queries change.
        queries: ``{"name", "value", "parameter"}`` objects.

    Returns:
        The number of saved queries the user has afterwards.
    """
    conn = ArangoConnection(settings)

    def work(sys_db: StandardDatabase) -> int:
        user = cast(dict[str, Any], sys_db.user(username))
        extra = dict(user.get("extra") or {})
        extra["queries"] = merge_saved_queries(extra.get("queries") or [], list(queries))
        sys_db.update_user(username, extra=extra)
        logger.info("installed %d saved queries for %s", len(queries), username)
        return len(extra["queries"])

    try:
        return await conn.run(
            f"saving queries for {username}", work, admin=True, database=SYSTEM_DATABASE
        )
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
