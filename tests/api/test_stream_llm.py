"""The streaming endpoints with a (scripted) LLM: the model's tokens go out as they come.

The app is built as ``conftest.api`` builds it (real store with the sample corpus, real
models); the default workspace's answerer is then replaced by an
:class:`~graphrag.answer.LLMAnswerer` over a scripted chat model behind the real stack
(``make_chat_model(settings, inner=...)``: cache off, budget, retries). ``WorkspaceManager``
takes no chat model yet, so the opened workspace is rewired in place.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphrag.answer import LLMAnswerer
from graphrag.config import load_settings
from graphrag.llm import LLMRateLimitError, ScriptedChatModel, make_chat_model
from graphrag.llm.scripted import ScriptItem
from tests.api.conftest import Api, api_settings
from tests.api.test_api import QUESTION, parse_sse

REPLY = "Brennick & Vale built the Lantern Bridge [1]. Its founder studied at an institute [2][42]."


@pytest.fixture
async def llm_api(
    tmp_path: Path, sample_store: Path, embedder: Any, extractor: Any, analyzer: Any
) -> AsyncIterator[tuple[Api, Any]]:
    """A fresh app over a copy of the sample store, and its opened default workspace."""
    from api.app import create_app
    from graphrag.workspaces import WorkspaceManager

    store = tmp_path / "default.db"
    shutil.copy(sample_store, store)
    settings = api_settings(tmp_path, store)
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    async with app.router.lifespan_context(app):
        rag = await manager.get(manager.default_workspace)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, settings=settings, app=app), rag


def use_llm(rag: Any, script: list[ScriptItem]) -> ScriptedChatModel:
    """Answer in ``rag`` with a scripted model behind the real stack; return the script."""
    inner = ScriptedChatModel(script)
    model = make_chat_model(
        load_settings(llm={"cache": False, "retry_base_delay": 0.0, "retry_max_delay": 0.0}),
        inner=inner,
    )
    assert model is not None
    rag.components.llm = model
    rag.components.answerer = LLMAnswerer(model, max_tokens=128)
    return inner


async def read(api: Api, path: str, body: dict[str, Any]) -> str:
    async with api.client.stream("POST", path, json=body, headers=api.auth()) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        return "".join([part async for part in reply.aiter_text()])


async def test_query_stream_sends_the_models_tokens_and_checked_citations(
    llm_api: tuple[Api, Any],
) -> None:
    api, rag = llm_api
    inner = use_llm(rag, [REPLY])
    events = parse_sse(await read(api, "/v1/query/stream", {"question": QUESTION}))
    names = [name for name, _ in events]

    assert names[0] == "context"
    assert names[-1] == "done"
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 5  # the model's pieces, not one block
    done = events[-1][1]
    assert "".join(deltas) == done["text"]
    assert done["text"] == (
        "Brennick & Vale built the Lantern Bridge [1]. Its founder studied at an institute [2]."
    )
    assert done["kind"] == "generated"
    assert done["usage"]["model"] == "scripted"
    assert "first_token" in done["timings"]
    assert any("[42]" in note for note in done["notes"])
    citations = [data for name, data in events if name == "citation"]
    assert [c["marker"] for c in citations] == [1, 2]
    chunks = {c["id"]: c for c in events[0][1]["chunks"]}
    for citation in citations:
        chunk = chunks[citation["chunk_id"]]
        start, end = citation["span"]
        assert chunk["text"][start:end] == citation["quote"]
    assert len(inner.calls) == 1
    assert inner.calls[0].stream is True


async def test_a_failing_llm_ends_the_stream_with_an_error_event(
    llm_api: tuple[Api, Any],
) -> None:
    api, rag = llm_api
    use_llm(rag, [LLMRateLimitError("slow down")] * 4)  # the first try and 3 retries
    events = parse_sse(await read(api, "/v1/query/stream", {"question": QUESTION}))
    assert events[0][0] == "context"
    name, data = events[-1]
    assert name == "error"
    assert "slow down" in data["error"]["message"]
    assert "Traceback" not in json.dumps(data)


async def test_chat_completions_stream_real_tokens_then_the_sources(
    llm_api: tuple[Api, Any],
) -> None:
    api, rag = llm_api
    inner = use_llm(rag, [REPLY, REPLY])
    body = {
        "model": "graphrag",
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    raw = await read(api, "/v1/chat/completions", body)
    frames = [block for block in raw.split("\n\n") if block]
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(frame[6:]) for frame in frames[:-1]]
    contents = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    text = "".join(contents)
    answer_text = text.split("\n\nSources:\n")[0]
    assert answer_text.endswith("studied at an institute [2].")
    assert "[42]" not in text
    assert len([c for c in contents if c]) > 5
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert [c["marker"] for c in chunks[-1]["citations"]] == [1, 2]

    plain = await api.client.post(
        "/v1/chat/completions", json={**body, "stream": False}, headers=api.auth()
    )
    assert plain.status_code == 200, plain.text
    data = plain.json()
    assert data["choices"][0]["message"]["content"] == text
    assert data["usage"]["completion_tokens"] == len(REPLY.split())
    assert len(inner.calls) == 2


async def test_an_unusable_llm_stops_the_api_at_start_up(
    tmp_path: Path, sample_store: Path, embedder: Any, extractor: Any, analyzer: Any
) -> None:
    from api.app import create_app
    from graphrag.llm import LLMConfigError
    from graphrag.workspaces import WorkspaceManager

    store = tmp_path / "default.db"
    shutil.copy(sample_store, store)
    settings = api_settings(tmp_path, store)
    wrong = LLMConfigError("the server does not serve model 'gpt-9': set GRAPHRAG_LLM__MODEL")
    model = ScriptedChatModel([], check_error=wrong)
    manager = WorkspaceManager(
        settings, embedder=embedder, extractor=extractor, analyzer=analyzer, chat_model=model
    )
    app = create_app(settings, workspaces=manager)

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__MODEL"):
        async with app.router.lifespan_context(app):
            pass
    assert app.state.ready is False
    assert model.checks == 1


async def test_the_llm_budget_applies_per_request_in_the_service(
    llm_api: tuple[Api, Any],
) -> None:
    from graphrag.llm import estimate_prompt_tokens

    api, rag = llm_api
    inner = use_llm(rag, [REPLY])  # learn what one answer's prompt is
    first = await api.client.post("/v1/query", json={"question": QUESTION}, headers=api.auth())
    assert first.status_code == 200
    prompt = estimate_prompt_tokens(list(inner.calls[0].messages))
    budget = prompt + 128 + 64  # one answer fits (reply limit 128), two never do
    model = make_chat_model(
        load_settings(llm={"cache": False, "max_tokens_per_run": budget}),
        inner=ScriptedChatModel([REPLY], repeat_last=True),
    )
    assert model is not None
    rag.components.llm = model
    rag.components.answerer = LLMAnswerer(model, max_tokens=128)

    for _ in range(3):  # before: the second request got 429 llm_budget until a restart
        reply = await api.client.post("/v1/query", json={"question": QUESTION}, headers=api.auth())
        assert reply.status_code == 200, reply.text
    events = parse_sse(await read(api, "/v1/query/stream", {"question": QUESTION}))
    assert events[-1][0] == "done"
