"""LangChain's own standard retriever suite, against a real store built from the samples."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the llm extra (langchain-core) is not installed")
pytest.importorskip("langchain_tests", reason="langchain-tests (dev dependency) is not installed")

from langchain_tests.integration_tests import RetrieversIntegrationTests

from graphrag.facade import GraphRAG
from graphrag.integrations.langchain import GraphRAGRetriever

pytestmark = pytest.mark.slow


class TestGraphRAGRetrieverStandard(RetrieversIntegrationTests):
    """``RetrieversIntegrationTests`` with the retriever over the sample corpus graph."""

    rag: GraphRAG

    @pytest.fixture(autouse=True)
    def _sample_rag(self, sample_rag: GraphRAG) -> None:
        self.rag = sample_rag

    @property
    def retriever_constructor(self) -> type[GraphRAGRetriever]:
        return GraphRAGRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"rag": self.rag, "mode": "ppr", "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Who built the Lantern Bridge?"
