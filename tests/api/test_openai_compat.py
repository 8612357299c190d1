"""The OpenAI-compatible endpoint over ASGI: plain and streamed replies, models, bad input."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.api.test_api import assert_error
from tests.api.test_stream_llm import llm_api, read, use_llm

scripted_api = llm_api
"""A fresh app whose default workspace answers with a scripted LLM (``use_llm``)."""

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


HALLUCINATED = (
    "Brennick & Vale built the Lantern Bridge [1]. Its founder studied at an institute [2][42]."
)


def assert_extension(extension: dict[str, Any], citations: list[dict[str, Any]]) -> None:
    """The ``graphrag`` extension object carries the notes, citations, mode and kind."""
    assert any(note.startswith("Removed citation(s) [42]") for note in extension["notes"])
    assert extension["citations"] == citations
    assert [c["marker"] for c in citations] == [1, 2]
    assert extension["mode"] == "ppr"
    assert extension["kind"] == "generated"


async def test_completion_carries_the_answers_notes(scripted_api: tuple[Api, Any]) -> None:
    api, rag = scripted_api
    use_llm(rag, [HALLUCINATED])
    body = {"model": "graphrag-ppr", "messages": [{"role": "user", "content": QUESTION}]}
    reply = await api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert "[42]" not in data["choices"][0]["message"]["content"]
    assert_extension(data["graphrag"], data["citations"])


async def test_streamed_completion_carries_the_answers_notes_in_the_last_chunk(
    scripted_api: tuple[Api, Any],
) -> None:
    api, rag = scripted_api
    use_llm(rag, [HALLUCINATED])
    body = {
        "model": "graphrag-ppr",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    frames = [block for block in (await read(api, "/v1/chat/completions", body)).split("\n\n")]
    chunks = [json.loads(frame[6:]) for frame in frames if frame and frame != "data: [DONE]"]
    assert [c for c in chunks[:-1] if "graphrag" in c] == []
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert_extension(last["graphrag"], last["citations"])


async def test_an_extractive_completion_has_the_extension_too(api: Api) -> None:
    body = {"model": "graphrag-ppr", "messages": [{"role": "user", "content": QUESTION}]}
    reply = await api.client.post("/v1/chat/completions", json=body, headers=api.auth())
    data = reply.json()
    assert data["graphrag"]["kind"] == "extractive"
    assert data["graphrag"]["mode"] == "ppr"
    assert data["graphrag"]["citations"] == data["citations"]
    assert isinstance(data["graphrag"]["notes"], list)
