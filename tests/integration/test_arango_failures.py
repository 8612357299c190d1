"""Failures of the ArangoDB store that need a real server (ArangoDB 3.12).

Runs when ``GRAPHRAG_ARANGO__URL`` is set (``GRAPHRAG_ARANGO__PASSWORD``: the root password):
a wrong password, a missing database, the vector index or its exact fallback. The failures
that need no server are tested in tests/unit/stores/arango/test_failures.py.
"""

from __future__ import annotations

import os
import uuid

import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import SchemaError, StoreAuthError
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango.testing import SKIP_REASON
from tests.sample_graphs import DIM, sample_graphs

SECRET = "s3cret-Pa55word"
URL = os.environ.get("GRAPHRAG_ARANGO__URL")
ROOT_PASSWORD = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")
pytestmark = [
    pytest.mark.arango,
    pytest.mark.skipif(
        not URL,
        reason=SKIP_REASON,
    ),
]


async def test_wrong_password_is_an_auth_error_naming_user_and_variable() -> None:
    assert URL is not None
    settings = ArangoSettings(url=URL, username="root", password=SecretStr("wrong-" + SECRET))
    store = ArangoGraphStore.from_settings(settings)
    with pytest.raises(StoreAuthError) as err:
        await store.stats()
    assert "'root'" in str(err.value)
    assert "GRAPHRAG_ARANGO__PASSWORD" in str(err.value)
    assert SECRET not in str(err.value)
    await store.close()


async def test_missing_database_is_a_schema_error_asking_for_graphrag_schema() -> None:
    assert URL is not None
    name = f"graphrag_missing_{uuid.uuid4().hex}"
    settings = ArangoSettings(
        url=URL, database=name, username="root", password=SecretStr(ROOT_PASSWORD)
    )
    store = ArangoGraphStore.from_settings(settings)
    with pytest.raises(SchemaError, match=r"graphrag schema --store arango"):
        await store.stats()
    await store.close()


async def test_vector_index_or_exact_fallback_gives_the_same_nearest_chunk() -> None:
    """On a server with --vector-index the index is built; without it the store falls back."""
    from graphrag.stores.arango.testing import arango_test_store

    assert URL is not None
    async with arango_test_store(URL, ROOT_PASSWORD, "hash", DIM) as store:
        graphs = sample_graphs()
        await store.upsert_documents(graphs)
        probe = graphs[0].chunks[0].embedding
        assert probe is not None
        before = await store.vector_search("chunks", probe, 1)
        report = await store.build_vector_indexes(min_documents=1)
        assert report["vector_feature"] in (True, False)
        after = await store.vector_search("chunks", probe, 1)
        assert [h.id for h in before] == [h.id for h in after] == [graphs[0].chunks[0].id]
