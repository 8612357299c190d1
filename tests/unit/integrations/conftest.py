"""One real store, built once for the integration tests: the sample corpus, real models.

Fixtures:
    sample_store: the settings of a store built from ``samples/corpus`` (package scope).
    sample_rag: an opened facade on that store with the session models (package scope).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from graphrag.config import Settings, load_settings
from graphrag.facade import GraphRAG

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "corpus"


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def sample_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, extractor: Any
) -> Settings:
    settings = load_settings(embedded={"path": tmp_path_factory.mktemp("langchain") / "graph.db"})
    async with await GraphRAG.open(settings, embedder=embedder, extractor=extractor) as rag:
        summary = await rag.ingest([SAMPLES])
        assert summary.ok, summary.failures
    return settings


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def sample_rag(
    sample_store: Settings, embedder: Any, extractor: Any
) -> AsyncIterator[GraphRAG]:
    async with await GraphRAG.open(sample_store, embedder=embedder, extractor=extractor) as rag:
        yield rag
