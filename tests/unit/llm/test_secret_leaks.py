"""The API key never leaks through an error: message, repr, chained exceptions, tracebacks.

A server that refuses the key may echo it ("Incorrect API key provided: sk-..."). The
adapters keep the scrubbed reason in their message and raise ``from None`` outside the
``except`` block, so the provider's exception is neither ``__cause__`` nor ``__context__``;
the API's lifespan re-raises only the scrubbed error (uvicorn prints the whole chain).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from graphrag.config import LLMSettings, load_settings
from graphrag.errors import EmbeddingError, LLMError
from graphrag.llm import ChatMessage, make_chat_model
from graphrag.llm.chat_openai import LangChainChatModel
from graphrag.llm.embeddings import OpenAIEmbedder
from graphrag.llm.errors import LLMConfigError, LLMServerError, safe_url, scrub, url_secrets
from tests.unit.llm.stub_server import StubServer, error

KEY = "sk-SECRETKEY-abc"
ECHO = f"Incorrect API key provided: {KEY}"
ASK = [ChatMessage.user("Capital of France?")]


def settings(stub: StubServer, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "base_url": stub.url,
        "model": "stub-model",
        "api_key": KEY,
        "timeout": 5.0,
        "max_retries": 0,
        "cache": False,
    }
    return LLMSettings(**{**values, **overrides})


def chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` through ``__cause__`` and ``__context__``."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__]
    return found


def assert_no_key(exc: BaseException, secret: str = KEY) -> None:
    for item in chain(exc):
        assert secret not in str(item), f"{type(item).__name__} holds the key"
        assert secret not in repr(item), f"{type(item).__name__} holds the key"
    assert len(chain(exc)) == 1, [type(e).__name__ for e in chain(exc)]
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert secret not in "".join(traceback.format_exception(exc))


async def raised(call: Callable[[], Awaitable[Any]]) -> BaseException:
    with pytest.raises(LLMError) as caught:
        await call()
    return caught.value


async def test_check_with_a_refused_key_that_the_server_echoes(stub: StubServer) -> None:
    stub.add(error(401, ECHO))  # GET /models answers the 401
    model = LangChainChatModel(settings(stub))

    exc = await raised(model.check)

    assert isinstance(exc, LLMConfigError)
    assert "GRAPHRAG_LLM__API_KEY" in str(exc)
    assert "Incorrect API key provided: ***" in str(exc)  # the scrubbed reason is kept
    assert_no_key(exc)


async def test_check_without_models_endpoint_falls_back_to_a_call(stub: StubServer) -> None:
    stub.models = None  # 404 on /models: the 1-token call gets the 401
    stub.add(error(401, ECHO))
    model = LangChainChatModel(settings(stub))

    exc = await raised(model.check)

    assert isinstance(exc, LLMConfigError)
    assert_no_key(exc)


async def test_complete_and_stream_with_a_refused_key(stub: StubServer) -> None:
    stub.add(error(401, ECHO), error(401, ECHO))
    model = LangChainChatModel(settings(stub))

    exc = await raised(lambda: model.complete(ASK, max_tokens=4, temperature=0.0))
    assert isinstance(exc, LLMConfigError)
    assert_no_key(exc)

    exc = await raised(lambda: model.stream(ASK, max_tokens=4, temperature=0.0).collect())
    assert isinstance(exc, LLMConfigError)
    assert_no_key(exc)


async def test_the_whole_stack_with_a_refused_key(
    stub: StubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.add(error(401, ECHO), error(401, ECHO), error(401, ECHO))
    model = make_chat_model(settings(stub, cache=True, cache_path=tmp_path / "c.db"))
    assert model is not None

    assert_no_key(await raised(model.check))
    assert_no_key(await raised(lambda: model.complete(ASK, max_tokens=4, temperature=0.0)))
    stream = model.stream(ASK, max_tokens=4, temperature=0.0)
    assert_no_key(await raised(stream.collect))
    assert KEY not in caplog.text


async def test_a_server_error_echoing_the_key_is_scrubbed_and_not_chained(
    stub: StubServer,
) -> None:
    stub.add(error(500, f"upstream said {KEY}"))
    model = LangChainChatModel(settings(stub))

    exc = await raised(lambda: model.complete(ASK, max_tokens=4, temperature=0.0))

    assert isinstance(exc, LLMServerError)
    assert_no_key(exc)


async def test_embeddings_with_a_refused_key(stub: StubServer) -> None:
    stub.add(error(401, ECHO))
    embedder = OpenAIEmbedder(
        settings(
            stub, embedding_provider="openai", embedding_model="e", embedding_dim=3,
        )
    )  # fmt: skip

    with pytest.raises(EmbeddingError) as caught:
        await embedder.embed(["text"])

    assert "GRAPHRAG_LLM__API_KEY" in str(caught.value)
    assert_no_key(caught.value)


def chained_check_error() -> LLMConfigError:
    """An error as another adapter might raise it: scrubbed, but chained to the raw one."""
    raw = RuntimeError(ECHO)
    exc = LLMConfigError("the API key was refused; set GRAPHRAG_LLM__API_KEY")
    exc.__cause__ = exc.__context__ = raw  # as `raise ... from raw` in an except block
    assert KEY in "".join(traceback.format_exception(exc))
    return exc


@pytest.mark.parametrize("llm", ["stub", "chained"])
async def test_api_lifespan_reraises_only_the_scrubbed_error(
    llm: str, stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import _lifespan
    from graphrag.llm import ScriptedChatModel

    monkeypatch.chdir(tmp_path)  # no developer .env
    if llm == "stub":
        stub.add(error(401, ECHO))
        model = make_chat_model(settings(stub))
    else:
        model = ScriptedChatModel([], check_error=chained_check_error())

    class Embedder:
        async def embed(self, texts: list[str], *, kind: str = "passage") -> None:
            return None

    class Manager:
        closed = False
        components = SimpleNamespace(embedder=Embedder(), llm=model, store=None)

        async def get(self, name: str) -> Any:
            return SimpleNamespace(components=self.components)

        async def close(self) -> None:
            self.closed = True

    manager = Manager()
    app_settings = load_settings(
        api={"audit_log": str(tmp_path / "audit.log"), "spool_dir": tmp_path / "spool"}
    )
    app = SimpleNamespace(state=SimpleNamespace(settings=app_settings, workspaces=manager))

    with pytest.raises(LLMConfigError) as caught:
        async with _lifespan(app):  # type: ignore[arg-type]
            pass

    assert manager.closed
    assert "GRAPHRAG_LLM__API_KEY" in str(caught.value)
    assert_no_key(caught.value)


def test_scrub_takes_several_secrets_and_url_secrets_finds_them() -> None:
    url = "http://127.0.0.1:1/v1?api-key=QUERYSECRET"
    secrets = (KEY, *url_secrets(url))

    text = scrub(f"bad key {KEY} for {url}", secrets)

    assert KEY not in text
    assert "QUERYSECRET" not in text
    assert safe_url(url) == "http://127.0.0.1:1/v1?***"
    assert url_secrets("http://bob:PASSWORDXYZ@h/v1") == ("bob", "PASSWORDXYZ")
    assert url_secrets(None) == ()
