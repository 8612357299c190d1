"""Migration through ArangoDB and back keeps the graph (needs a real ArangoDB 3.12).

Runs when ``GRAPHRAG_ARANGO__URL`` is set (``GRAPHRAG_ARANGO__PASSWORD``: the root password);
the embedded -> embedded migration is tested in tests/unit/pipelines/test_migrate.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graphrag.operations.migrate import migrate
from graphrag.stores.arango.testing import SKIP_REASON
from tests.sample_graphs import DIM, MODEL, open_embedded, sample_graphs, snapshot

URL = os.environ.get("GRAPHRAG_ARANGO__URL")
ROOT_PASSWORD = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")
pytestmark = [
    pytest.mark.arango,
    pytest.mark.skipif(
        not URL,
        reason=SKIP_REASON,
    ),
]


async def test_migrate_round_trip_through_arango_keeps_the_graph(tmp_path: Path) -> None:
    from graphrag.stores.arango.testing import arango_test_store

    assert URL is not None
    source = await open_embedded(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    back = await open_embedded(tmp_path / "back.db")
    async with arango_test_store(URL, ROOT_PASSWORD, MODEL, DIM) as arango:
        there = await migrate(source, arango, batch_size=2)
        assert there.finalized  # the vector indexes were (re)built
        assert (await arango.stats()).documents == 3
        home = await migrate(arango, back)
        assert home.documents == 3
    assert await snapshot(back) == await snapshot(source)
    await source.close()
    await back.close()
