"""Workspaces on ArangoDB: one database each, created, listed and dropped through ``_system``.

The default workspace is ``settings.database``; workspace ``<name>`` is the database
``<settings.database>_<name>``. Managing databases needs a user with access to ``_system``
(``admin_username``/``admin_password``, else ``username``/``password``); failures become
the library's errors (:func:`~graphrag.stores.arango.errors.translate_error`): a user who
may not do it gets a :class:`~graphrag.errors.StoreAuthError`.

ArangoDB's traditional database names are 1-64 bytes of letters, digits, ``_`` and ``-``,
starting with a letter; workspace names (``[a-z][a-z0-9-]*``) keep a valid base name valid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar, cast

from arango.database import StandardDatabase
from arango.exceptions import ArangoServerError

from graphrag.config import ArangoSettings
from graphrag.errors import InvalidArgumentError
from graphrag.stores.arango.connection import SYSTEM_DATABASE, ArangoConnection
from graphrag.stores.arango.errors import ERR_DATABASE_NOT_FOUND, ERR_DUPLICATE_NAME

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DATABASE_NAME = 64
"""Longest database name ArangoDB accepts (bytes)."""


def workspace_database(base: str, workspace: str) -> str:
    """Return the database of a (non-default) workspace: ``<base>_<workspace>``.

    Raises:
        InvalidArgumentError: If the name would be longer than ArangoDB allows.
    """
    name = f"{base}_{workspace}"
    if len(name.encode()) > MAX_DATABASE_NAME:
        msg = (
            f"workspace name {workspace!r} is too long for database {base!r}: database "
            f"{name!r} would exceed {MAX_DATABASE_NAME} characters; choose a shorter name"
        )
        raise InvalidArgumentError(msg)
    return name


def workspace_databases(databases: list[str], base: str) -> list[str]:
    """Return the workspace parts of the databases named ``<base>_<workspace>``."""
    prefix = f"{base}_"
    return sorted(d[len(prefix) :] for d in databases if d.startswith(prefix) and d != prefix)


async def _on(
    settings: ArangoSettings, what: str, database: str, fn: Callable[[StandardDatabase], T]
) -> T:
    conn = ArangoConnection(settings)
    try:
        return await conn.run(what, fn, admin=True, database=database)
    finally:
        conn.close()


async def list_databases(settings: ArangoSettings) -> list[str]:
    """Return the names of every database of the server (admin on ``_system``)."""

    def work(sys_db: StandardDatabase) -> list[str]:
        return [str(name) for name in cast(list[str], sys_db.databases())]

    return await _on(settings, "listing databases", SYSTEM_DATABASE, work)


async def database_exists(settings: ArangoSettings, name: str) -> bool:
    """Whether database ``name`` exists (asked of the database itself, as the admin)."""

    def probe(db: StandardDatabase) -> bool:
        try:
            db.version()
        except ArangoServerError as exc:
            if exc.error_code == ERR_DATABASE_NOT_FOUND:
                return False
            raise
        return True

    return await _on(settings, f"checking database {name}", name, probe)


async def create_database(settings: ArangoSettings, name: str) -> bool:
    """Create database ``name`` (admin on ``_system``); ``False`` if it existed already."""

    def work(sys_db: StandardDatabase) -> bool:
        try:
            sys_db.create_database(name)
        except ArangoServerError as exc:
            if exc.error_code == ERR_DUPLICATE_NAME:
                return False
            raise
        logger.info("created ArangoDB database %s", name)
        return True

    return await _on(settings, f"creating database {name}", SYSTEM_DATABASE, work)


async def drop_database(settings: ArangoSettings, name: str) -> bool:
    """Drop database ``name`` (admin on ``_system``); ``False`` if there was none."""

    def work(sys_db: StandardDatabase) -> bool:
        dropped = bool(sys_db.delete_database(name, ignore_missing=True))
        if dropped:
            logger.info("dropped ArangoDB database %s", name)
        return dropped

    return await _on(settings, f"dropping database {name}", SYSTEM_DATABASE, work)
