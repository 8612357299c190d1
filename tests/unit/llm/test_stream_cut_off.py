"""A stream the server cuts off (no finish reason, no ``[DONE]``) is an error, never cached.

It is an :class:`~graphrag.llm.errors.LLMServerError` (transient): the retry layer retries
it while nothing was yielded, and raises it once pieces went out (a retry would repeat text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphrag.config import LLMSettings
from graphrag.llm import ChatMessage, ChatStream, LLMCache, make_chat_model
from graphrag.llm.chat_openai import LangChainChatModel
from graphrag.llm.errors import LLMServerError
from tests.unit.llm.stub_server import StubServer, stream, stream_cut

ASK = [ChatMessage.user("Who built the Lantern Bridge?")]
CUT = ["The ", "bridge ", "was ", "built "]


def settings(stub: StubServer, tmp_path: Path, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "base_url": stub.url,
        "model": "stub-model",
        "timeout": 5.0,
        "max_retries": 0,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "cache": True,
        "cache_path": tmp_path / "cache.db",
    }
    return LLMSettings(**{**values, **overrides})


async def drain(chat_stream: ChatStream, pieces: list[str]) -> None:
    async for piece in chat_stream:
        pieces.append(piece)


@pytest.mark.parametrize("how", ["close", "chunked"])
async def test_a_cut_off_stream_raises_names_the_endpoint_and_is_not_cached(
    stub: StubServer, tmp_path: Path, how: str
) -> None:
    stub.add(stream_cut(CUT, how=how))
    model = make_chat_model(settings(stub, tmp_path))
    assert model is not None

    pieces: list[str] = []
    chat_stream = model.stream(ASK, max_tokens=32, temperature=0.0)
    with pytest.raises(LLMServerError) as caught:
        await drain(chat_stream, pieces)

    message = str(caught.value)
    assert stub.url in message
    assert "cut off" in message
    assert "not cached" in message
    assert pieces == CUT  # shown as they came, then the error: never passed off as complete
    assert len(stub.chat_requests()) == 1  # pieces were yielded: not retried
    assert len(LLMCache(tmp_path / "cache.db")) == 0

    stub.add(stream(["The bridge ", "was built ", "in 1911."]))
    again = model.stream(ASK, max_tokens=32, temperature=0.0)
    result = await again.collect()

    assert result.text == "The bridge was built in 1911."
    assert result.finish_reason == "stop"
    assert not result.cached
    assert len(stub.chat_requests()) == 2
    assert len(LLMCache(tmp_path / "cache.db")) == 1


async def test_a_stream_cut_before_any_piece_is_retried(stub: StubServer, tmp_path: Path) -> None:
    stub.add(stream_cut([]), stream(["Paris."]))  # only the role chunk, then a hang-up
    model = make_chat_model(settings(stub, tmp_path, max_retries=1))
    assert model is not None

    result = await model.stream(ASK, max_tokens=8, temperature=0.0).collect()

    assert result.text == "Paris."
    assert len(stub.chat_requests()) == 2


async def test_the_adapter_alone_raises_for_a_stream_without_finish_reason(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.add(stream_cut(CUT))
    model = LangChainChatModel(settings(stub, tmp_path))

    with pytest.raises(LLMServerError, match="cut off the reply after 4 piece"):
        await model.stream(ASK, max_tokens=8, temperature=0.0).collect()
