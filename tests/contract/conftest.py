"""Fixtures of the store contract suite: every test runs once per store backend.

``embedded`` always runs (a fresh SQLite file per test). ``arango`` runs only when
``GRAPHRAG_ARANGO__URL`` is set, each store in its own throw-away database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

StoreFactory = Callable[[], Awaitable[Any]]

ARANGO_SKIP = (
    "ArangoDB contract tests skipped: they need an ArangoDB 3.12 server (GRAPHRAG_ARANGO__URL, "
    "GRAPHRAG_ARANGO__PASSWORD = the root password); checklist in docs/arango.md, section "
    '"Verified against a server": docker compose up -d arangodb, then '
    "pytest -rs -m arango tests/integration and pytest -rs -k arango tests/contract"
)


@pytest.fixture(params=["embedded", "arango"])
async def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, hash_embedder: Any
) -> AsyncIterator[StoreFactory]:
    """A function creating fresh, ensured stores of the backend under test."""
    backend: str = request.param
    url = os.environ.get("GRAPHRAG_ARANGO__URL")
    if backend == "arango" and not url:
        pytest.skip(ARANGO_SKIP)
    model, dim = hash_embedder.model_name, hash_embedder.dim
    async with AsyncExitStack() as stack:
        created = 0

        async def make() -> Any:
            nonlocal created
            created += 1
            if backend == "embedded":
                from graphrag.stores.embedded import EmbeddedGraphStore

                store = EmbeddedGraphStore(tmp_path / f"store{created}" / "graph.db")
                await store.ensure_schema(embedding_model=model, dim=dim)
                stack.push_async_callback(store.close)
                return store
            from graphrag.stores.arango.testing import arango_test_store

            password = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")
            assert url is not None
            return await stack.enter_async_context(
                arango_test_store(url, password, embedding_model=model, dim=dim)
            )

        yield make


@pytest.fixture
async def store(store_factory: StoreFactory) -> Any:
    """A fresh, empty store with the HashEmbedder's model and dimension."""
    return await store_factory()


@pytest.fixture
async def filled(store: Any, hash_embedder: Any) -> Any:
    """A store holding the three documents of ``builder.CORPUS``."""
    from tests.contract.builder import CORPUS, build_all

    await store.upsert_documents(await build_all(hash_embedder, CORPUS))
    return store
