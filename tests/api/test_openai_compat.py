"""The OpenAI-compatible endpoint over ASGI: plain and streamed replies, models, bad input."""

from __future__ import annotations

import json

from tests.api.conftest import Api
from tests.api.test_api import assert_error

QUESTION = "Who built the Lantern Bridge?"


async def test_models_list_every_mode(api: Api) -> None:
    reply = await api.client.get("/v1/models", headers=api.auth())
    ids = [m["id"] for m in reply.json()["data"]]
    assert ids[0] == "graphrag"
    assert {"graphrag-ppr", "graphrag-hybrid", "graphrag-naive"} <= set(ids)


async def test_completion_answers_the_last_user_message_with_sources(api: Api) -> None:
    body = {
        "model": "graphrag-ppr",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
        "temperature": 0.3,
        "max_tokens": 50,
    }
    reply = await api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["object"] == "chat.completion"
    message = data["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert "Sources:" in message["content"]
    assert data["citations"]
    assert f"[{data['citations'][0]['marker']}]" in message["content"]
    assert data["usage"]["total_tokens"] == (
        data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )


async def test_streamed_completion_is_openai_framed(api: Api) -> None:
    body = {
        "model": "graphrag",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    async with api.client.stream(
        "POST", "/v1/chat/completions", json=body, headers=api.auth()
    ) as reply:
        assert reply.status_code == 200
        raw = "".join([part async for part in reply.aiter_text()])
    frames = [block for block in raw.split("\n\n") if block]
    assert all(frame.startswith("data: ") for frame in frames)
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(frame[6:]) for frame in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Sources:" in text


async def test_bad_chat_requests(api: Api) -> None:
    headers = api.auth()
    unknown = {"model": "gpt-4", "messages": [{"role": "user", "content": QUESTION}]}
    error = assert_error(
        await api.client.post("/v1/chat/completions", json=unknown, headers=headers),
        404,
        "model_not_found",
    )
    assert "graphrag-ppr" in error["message"]
    no_user = {"model": "graphrag", "messages": [{"role": "system", "content": "x"}]}
    assert_error(
        await api.client.post("/v1/chat/completions", json=no_user, headers=headers),
        422,
        "invalid_request",
    )
    empty = {"model": "graphrag", "messages": [{"role": "user", "content": "   "}]}
    assert_error(
        await api.client.post("/v1/chat/completions", json=empty, headers=headers),
        422,
        "invalid_query",
    )
