"""LangChainChatModel against a stub OpenAI-compatible server on a loopback port."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest

from graphrag.config import LLMSettings
from graphrag.errors import ConfigError, LLMError
from graphrag.llm import ChatMessage, make_chat_model
from graphrag.llm.chat_openai import LangChainChatModel
from graphrag.llm.errors import (
    LLMConfigError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from tests.unit.llm.stub_server import StubServer, completion, error, stream

SECRET = "sk-test-0123456789abcdef"
MESSAGES = [ChatMessage.system("Be brief."), ChatMessage.user("Capital of France?")]


def settings(stub: StubServer, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "base_url": stub.url,
        "model": "stub-model",
        "api_key": SECRET,
        "timeout": 5.0,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "cache": False,
    }
    return LLMSettings(**{**values, **overrides})


async def test_complete_returns_text_usage_model_and_sends_limits(stub: StubServer) -> None:
    stub.add(completion("Paris.", prompt=11, completion=2))
    model = LangChainChatModel(settings(stub))

    result = await model.complete(MESSAGES, max_tokens=16, temperature=0.3)

    assert (result.text, result.model, result.finish_reason) == ("Paris.", "stub-model", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 2)
    assert not result.usage.estimated
    assert not result.cached
    request = stub.chat_requests()[0]
    assert request.body["max_completion_tokens"] == 16
    assert request.body["max_tokens"] == 16  # llama.cpp ignores max_completion_tokens
    assert request.body["temperature"] == 0.3
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert request.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("field", "expected"),
    [("max_tokens", {"max_tokens"}), ("max_completion_tokens", {"max_completion_tokens"})],
)
async def test_token_limit_field(stub: StubServer, field: str, expected: set[str]) -> None:
    stub.add(completion("ok"))
    model = LangChainChatModel(settings(stub, token_limit_field=field))

    await model.complete(MESSAGES, max_tokens=8, temperature=0.0)

    body = stub.chat_requests()[0].body
    assert {"max_tokens", "max_completion_tokens"} & set(body) == expected


async def test_json_mode_asks_for_a_json_object(stub: StubServer) -> None:
    stub.add(completion('{"a": '))
    model = LangChainChatModel(settings(stub))

    result = await model.complete(MESSAGES, max_tokens=8, temperature=0.0, json_mode=True)

    assert result.text == '{"a": '  # malformed output is returned as written
    assert stub.chat_requests()[0].body["response_format"] == {"type": "json_object"}


async def test_json_mode_reply_cut_by_the_limit_is_returned_not_raised(stub: StubServer) -> None:
    stub.add(completion('{"entities": [{"name": "Vel', completion=8, finish="length"))
    model = LangChainChatModel(settings(stub))

    result = await model.complete(MESSAGES, max_tokens=8, temperature=0.0, json_mode=True)

    assert result.text == '{"entities": [{"name": "Vel'
    assert result.finish_reason == "length"


async def test_fold_system_prompt_sends_it_in_the_first_user_message(stub: StubServer) -> None:
    stub.add(completion("ok"))
    model = LangChainChatModel(settings(stub, fold_system_prompt=True))

    await model.complete(MESSAGES, max_tokens=8, temperature=0.0)

    assert stub.chat_requests()[0].body["messages"] == [
        {"role": "user", "content": "Be brief.\n\nCapital of France?"}
    ]


def test_fold_system_without_a_user_message() -> None:
    from graphrag.llm.chat_openai import fold_system

    assert fold_system([ChatMessage.system("s"), ChatMessage.assistant("a")]) == [
        ChatMessage.user("s"),
        ChatMessage.assistant("a"),
    ]
    assert fold_system([ChatMessage.user("u")]) == [ChatMessage.user("u")]


async def test_no_key_sends_a_placeholder_never_the_environment_key(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    stub.add(completion("ok"))
    model = LangChainChatModel(settings(stub, api_key=None))

    await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert stub.chat_requests()[0].headers["authorization"] == "Bearer not-needed"


async def test_401_names_the_api_key_setting_without_the_key(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.add(error(401, f"Incorrect API key provided: {SECRET}"))
    model = make_chat_model(settings(stub))
    assert model is not None

    with pytest.raises(LLMConfigError) as caught:
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    message = str(caught.value)
    assert "GRAPHRAG_LLM__API_KEY" in message
    assert "401" in message
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, LLMError)
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert len(stub.chat_requests()) == 1  # not retried


async def test_404_names_the_model_setting(stub: StubServer) -> None:
    stub.add(error(404, "model 'nope' not found"))
    model = LangChainChatModel(settings(stub, model="nope"))

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__MODEL") as caught:
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert "'nope'" in str(caught.value)


async def test_429_then_200_is_retried_with_backoff(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    stub.add(error(429, "slow down", **{"Retry-After": "0"}), completion("Paris."))
    model = make_chat_model(settings(stub))
    assert model is not None

    result = await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert result.text == "Paris."
    assert len(stub.chat_requests()) == 2
    assert "retry 1 of 3" in caplog.text


async def test_429_maps_to_rate_limit_with_retry_after(stub: StubServer) -> None:
    stub.add(error(429, "slow down", **{"Retry-After": "7"}))
    model = LangChainChatModel(settings(stub))

    with pytest.raises(LLMRateLimitError) as caught:
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert caught.value.retry_after == 7.0
    assert "GRAPHRAG_LLM__MAX_CONCURRENCY" in str(caught.value)


async def test_500_is_retried_then_raised(stub: StubServer) -> None:
    stub.add(error(500, "boom"), error(502, "bad gateway"))
    model = make_chat_model(settings(stub, max_retries=1))
    assert model is not None

    with pytest.raises(LLMServerError, match="HTTP 502"):
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert len(stub.chat_requests()) == 2


async def test_400_is_an_llm_error_not_retried(stub: StubServer) -> None:
    stub.add(error(400, "context too long"))
    model = make_chat_model(settings(stub))
    assert model is not None

    with pytest.raises(LLMError, match="HTTP 400"):
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert len(stub.chat_requests()) == 1


async def test_timeout_names_the_timeout_setting(stub: StubServer) -> None:
    reply = completion("late")
    reply.delay = 1.0
    stub.add(reply)
    model = LangChainChatModel(settings(stub, timeout=0.2))

    with pytest.raises(LLMTimeoutError, match="GRAPHRAG_LLM__TIMEOUT"):
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)


async def test_unreachable_endpoint_names_the_base_url_setting() -> None:
    unreachable = LLMSettings(
        base_url="http://127.0.0.1:9/v1?api-key=QUERYSECRET", model="m", timeout=2.0,
        max_retries=0, cache=False,
    )  # fmt: skip
    model = make_chat_model(unreachable)
    assert model is not None

    with pytest.raises(LLMUnavailableError, match="GRAPHRAG_LLM__BASE_URL") as caught:
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    assert "QUERYSECRET" not in str(caught.value)
    assert "http://127.0.0.1:9/v1?*** " in str(caught.value)


async def test_a_key_in_the_query_string_never_shows_in_messages(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    import traceback

    for name in ("httpx", "httpx2"):  # the HTTP client logs every request URL
        caplog.set_level(logging.INFO, logger=name)
    caplog.set_level(logging.DEBUG, logger="graphrag")
    stub.models = None
    stub.add(error(500, "no route for /v1?api-key=QUERYSECRET"), error(401, "bad QUERYSECRET"))
    model = LangChainChatModel(settings(stub, base_url=f"{stub.url}?api-key=QUERYSECRET"))

    with pytest.raises(LLMServerError) as checked:
        await model.check()
    with pytest.raises(LLMConfigError) as refused:
        await model.complete(MESSAGES, max_tokens=4, temperature=0.0)

    for caught in (checked, refused):
        assert f"{stub.url}?***" in str(caught.value)
        assert "QUERYSECRET" not in "".join(traceback.format_exception(caught.value))
    assert "HTTP Request: POST" in caplog.text
    assert "QUERYSECRET" not in caplog.text


async def test_stream_yields_pieces_and_usage_from_the_last_chunk(stub: StubServer) -> None:
    stub.add(stream(["Par", "is", "."], prompt=9))
    model = LangChainChatModel(settings(stub))

    chat_stream = model.stream(MESSAGES, max_tokens=8, temperature=0.0)
    pieces = [piece async for piece in chat_stream]

    assert pieces == ["Par", "is", "."]
    result = chat_stream.result
    assert result.text == "Paris."
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    body = stub.chat_requests()[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_stream_without_usage_is_estimated(stub: StubServer) -> None:
    stub.add(stream(["Hel", "lo", " wor", "ld"], usage=False))
    model = LangChainChatModel(settings(stub, stream_usage=False))

    result = await model.stream(MESSAGES, max_tokens=8, temperature=0.0).collect()

    assert result.text == "Hello world"
    assert result.usage.estimated
    assert result.usage.completion_tokens == 4  # one per piece (more than 11 chars / 4)
    assert result.usage.prompt_tokens > 0
    assert "stream_options" not in stub.chat_requests()[0].body


async def test_stream_error_is_mapped(stub: StubServer) -> None:
    stub.add(error(401, "bad key"))
    model = LangChainChatModel(settings(stub))

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__API_KEY"):
        await model.stream(MESSAGES, max_tokens=8, temperature=0.0).collect()


async def test_check_passes_when_the_model_is_listed(stub: StubServer) -> None:
    model = LangChainChatModel(settings(stub))

    await model.check()

    assert [r.path for r in stub.requests] == ["/v1/models"]


async def test_check_unknown_model_lists_what_the_server_serves(stub: StubServer) -> None:
    stub.models = ["gemma-3-270m", "other"]
    model = LangChainChatModel(settings(stub, model="gpt-x"))

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__MODEL") as caught:
        await model.check()

    assert "'gpt-x'" in str(caught.value)
    assert "gemma-3-270m, other" in str(caught.value)
    assert stub.chat_requests() == []  # decided from the list, no call made


async def test_check_accepts_ollama_latest_tags(stub: StubServer) -> None:
    stub.models = ["llama3.1:latest"]
    await LangChainChatModel(settings(stub, model="llama3.1")).check()


async def test_check_without_models_endpoint_and_unknown_model(stub: StubServer) -> None:
    stub.models = None
    stub.add(error(404, "The model 'gpt-x' does not exist"))
    model = LangChainChatModel(settings(stub, model="gpt-x"))

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__MODEL"):
        await model.check()


async def test_check_without_models_endpoint_makes_a_one_token_call(stub: StubServer) -> None:
    stub.models = None
    stub.add(completion("p"))
    model = LangChainChatModel(settings(stub))

    await model.check()

    assert stub.chat_requests()[0].body["max_tokens"] == 1


async def test_check_wrong_key(stub: StubServer) -> None:
    stub.add(error(401, "no"))
    model = make_chat_model(settings(stub))
    assert model is not None

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__API_KEY"):
        await model.check()


async def test_check_unreachable() -> None:
    model = LangChainChatModel(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))

    with pytest.raises(LLMUnavailableError, match="GRAPHRAG_LLM__BASE_URL"):
        await model.check()


def test_half_configured_names_the_missing_setting() -> None:
    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__MODEL"):
        make_chat_model(LLMSettings(base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__BASE_URL"):
        make_chat_model(LLMSettings(model="m"))


def test_importing_and_building_touch_no_network_and_import_loads_no_langchain() -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise RuntimeError('network used')\n"
        "socket.socket.connect = refuse\n"
        "import graphrag.llm\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'langchain_core', 'langchain_openai', 'openai'}))\n"
        "from graphrag.config import LLMSettings\n"
        "s = LLMSettings(base_url='http://127.0.0.1:9/v1', model='m', cache=False)\n"
        "graphrag.llm.make_chat_model(s)\n"
        "print('built')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["[]", "built"]


def test_one_model_works_in_several_event_loops(stub: StubServer) -> None:
    import asyncio

    stub.add(completion("first"), completion("second"))
    model = LangChainChatModel(settings(stub))

    first = asyncio.run(model.complete(MESSAGES, max_tokens=4, temperature=0.0))
    second = asyncio.run(model.complete(MESSAGES, max_tokens=4, temperature=0.0))

    assert (first.text, second.text) == ("first", "second")
