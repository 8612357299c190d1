"""A throw-away ArangoDB database for tests.

The contract suite uses :func:`arango_test_store` when ``GRAPHRAG_ARANGO__URL`` is set.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.stores.arango.store import ArangoGraphStore
from graphrag.stores.arango.users import drop_database

logger = logging.getLogger(__name__)


@asynccontextmanager
async def arango_test_store(
    url: str, password: str, embedding_model: str, dim: int
) -> AsyncIterator[ArangoGraphStore]:
    """Yield a store on a new database ``graphrag_test_<uuid hex>``, dropped afterwards.

    Args:
        url: The server URL (``GRAPHRAG_ARANGO__URL``).
        password: The ``root`` password (the database is created and dropped as root).
        embedding_model: Passed to ``ensure_schema``.
        dim: Passed to ``ensure_schema``.

    Yields:
        A store whose schema is ensured.
    """
    name = f"graphrag_test_{uuid.uuid4().hex}"
    settings = ArangoSettings(
        url=url, database=name, username="root", password=SecretStr(password), retries=1
    )
    store = ArangoGraphStore.from_settings(settings)
    try:
        await store.ensure_schema(embedding_model=embedding_model, dim=dim)
        yield store
    finally:
        await store.close()
        try:
            await drop_database(settings, name)
        except Exception as exc:  # the test's own failure matters more
            logger.warning("could not drop test database %s: %s", name, exc)
