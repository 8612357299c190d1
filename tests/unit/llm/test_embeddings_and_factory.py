"""The optional OpenAI-compatible embedder, the factory and the llm settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphrag.config import LLMSettings, Settings, load_settings
from graphrag.errors import ConfigError, EmbeddingError
from graphrag.llm import (
    CachedChatModel,
    MeteredChatModel,
    RetryingChatModel,
    ScriptedChatModel,
    UsageMeter,
    make_chat_model,
    make_llm_embedder,
)
from graphrag.llm.chat_openai import LangChainChatModel
from graphrag.llm.embeddings import OpenAIEmbedder
from graphrag.ports import Embedder
from tests.unit.llm.stub_server import Reply, StubServer, error


def embedding_settings(stub: StubServer, **overrides: object) -> LLMSettings:
    values: dict[str, object] = {
        "embedding_provider": "openai",
        "embedding_model": "stub-embed",
        "embedding_dim": 3,
        "embedding_base_url": stub.url,
        "api_key": "sk-embed-secret-123",
        "max_retries": 0,
    }
    return LLMSettings(**{**values, **overrides})


def vectors(*rows: list[float]) -> Reply:
    data = [{"object": "embedding", "index": i, "embedding": r} for i, r in enumerate(rows)]
    return Reply(body={"object": "list", "data": data, "model": "stub-embed"})


async def test_openai_embedder_returns_normalised_float32_vectors(stub: StubServer) -> None:
    stub.add(vectors([3.0, 4.0, 0.0], [0.0, 0.0, 2.0]))
    embedder = make_llm_embedder(embedding_settings(stub))
    assert isinstance(embedder, OpenAIEmbedder)
    assert isinstance(embedder, Embedder)

    matrix = await embedder.embed(["Lantern Bridge", ""], kind="query")

    assert matrix.dtype == np.float32
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], rtol=1e-6)
    assert (embedder.model_name, embedder.dim) == ("stub-embed", 3)
    request = stub.requests[0]
    assert request.path == "/v1/embeddings"
    assert request.body["input"] == ["Lantern Bridge", " "]
    assert request.body["model"] == "stub-embed"
    assert (await embedder.embed([])).shape == (0, 3)


async def test_wrong_dimension_names_the_setting(stub: StubServer) -> None:
    stub.add(vectors([1.0, 0.0]))
    embedder = OpenAIEmbedder(embedding_settings(stub))

    with pytest.raises(EmbeddingError, match="GRAPHRAG_LLM__EMBEDDING_DIM"):
        await embedder.embed(["x"])


async def test_embedding_errors_name_the_embedding_settings(stub: StubServer) -> None:
    stub.add(error(404, "no such model"), error(401, "Incorrect API key sk-embed-secret-123"))
    embedder = OpenAIEmbedder(embedding_settings(stub))

    with pytest.raises(EmbeddingError, match="GRAPHRAG_LLM__EMBEDDING_MODEL"):
        await embedder.embed(["x"])
    with pytest.raises(EmbeddingError, match="GRAPHRAG_LLM__API_KEY") as caught:
        await embedder.embed(["x"])
    assert "sk-embed-secret-123" not in str(caught.value)


def test_embedder_default_is_the_bundled_model() -> None:
    assert make_llm_embedder(Settings()) is None


def test_openai_embeddings_need_model_dim_and_url() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(llm={"embedding_provider": "openai"})
    message = str(caught.value)
    for name in ("EMBEDDING_MODEL", "EMBEDDING_DIM", "EMBEDDING_BASE_URL"):
        assert f"GRAPHRAG_LLM__{name}" in message
    ok = load_settings(
        llm={"embedding_provider": "openai", "embedding_model": "e", "embedding_dim": 8,
             "base_url": "http://127.0.0.1:9/v1"}
    )  # fmt: skip
    assert ok.llm.embedding_provider == "openai"


def test_no_llm_configured_means_no_model() -> None:
    assert make_chat_model(Settings()) is None
    assert not Settings().llm.enabled


def test_the_stack_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        llm={"base_url": "http://127.0.0.1:9/v1", "model": "m", "cache_path": tmp_path / "c.db",
             "max_cost": 1.5, "price_per_1k_prompt": 0.1}
    )  # fmt: skip

    model = make_chat_model(settings)

    assert isinstance(model, CachedChatModel)
    assert model.cache.path == tmp_path / "c.db"
    metered = model._inner
    assert isinstance(metered, MeteredChatModel)
    assert model.meter is metered.meter
    assert metered.meter.budget.max_cost == 1.5
    assert metered.meter.pricing.per_1k_prompt == 0.1
    retrying = metered._inner
    assert isinstance(retrying, RetryingChatModel)
    assert isinstance(retrying.inner, LangChainChatModel)
    assert model.model_name == "m"
    assert not (tmp_path / "c.db").exists()  # nothing opened before the first call


def test_the_stack_without_cache_and_with_a_given_meter() -> None:
    meter = UsageMeter()
    model = make_chat_model(LLMSettings(cache=False), meter=meter, inner=ScriptedChatModel([]))
    assert isinstance(model, MeteredChatModel)
    assert model.meter is meter


def test_llm_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_LLM__MAX_TOKENS_PER_RUN", "5000")
    monkeypatch.setenv("GRAPHRAG_LLM__TOKEN_LIMIT_FIELD", "max_tokens")
    monkeypatch.setenv("GRAPHRAG_LLM__API_KEY", "sk-env")
    settings = load_settings()
    assert settings.llm.max_tokens_per_run == 5000
    assert settings.llm.token_limit_field == "max_tokens"
    assert "sk-env" not in repr(settings.llm)
    with pytest.raises(ConfigError, match="GRAPHRAG_LLM__MAX_CONCURRENCY"):
        load_settings(llm={"max_concurrency": 0})


async def test_scripted_model_through_the_whole_stack(tmp_path: Path) -> None:
    chat = ScriptedChatModel(["not json {"])
    model = make_chat_model(LLMSettings(cache_path=tmp_path / "c.db"), inner=chat)
    assert model is not None
    from graphrag.llm import ChatMessage

    first = await model.complete(
        [ChatMessage.user("x")], max_tokens=4, temperature=0.0, json_mode=True
    )
    second = await model.complete(
        [ChatMessage.user("x")], max_tokens=4, temperature=0.0, json_mode=True
    )

    assert first.text == second.text == "not json {"
    assert second.cached
    assert len(chat.calls) == 1
    await model.check()
    assert chat.checks == 1


def test_lazy_exports() -> None:
    import graphrag.llm

    assert graphrag.llm.LangChainChatModel is LangChainChatModel
    assert graphrag.llm.OpenAIEmbedder is OpenAIEmbedder
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = graphrag.llm.no_such_name  # type: ignore[attr-defined]
