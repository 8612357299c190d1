"""Request ids, the request timeout and the one error shape, on a tiny app (no models)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from api import errors
from api.metrics import RequestMiddleware
from api.timeouts import TimeoutMiddleware


def tiny_app(seconds: float) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"never": "sent"}

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        msg = "secret internals /srv/app/db.sqlite"
        raise RuntimeError(msg)

    @app.get("/fast")
    async def fast() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(TimeoutMiddleware, seconds=seconds)
    app.add_middleware(RequestMiddleware)
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=tiny_app(0.3), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_slow_request_gets_504_in_the_error_shape(client: httpx.AsyncClient) -> None:
    reply = await client.get("/slow")
    assert reply.status_code == 504
    error = reply.json()["error"]
    assert error["code"] == "timeout"
    assert error["request_id"] == reply.headers["x-request-id"]


async def test_unexpected_error_reveals_nothing(client: httpx.AsyncClient) -> None:
    reply = await client.get("/boom")
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal"
    assert "secret" not in reply.text
    assert "Traceback" not in reply.text


async def test_request_id_is_kept_when_well_formed_and_replaced_otherwise(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/fast", headers={"X-Request-ID": "client-id-12345"})
    assert kept.headers["x-request-id"] == "client-id-12345"
    replaced = await client.get("/fast", headers={"X-Request-ID": "bad id\r\ninjected"})
    assert replaced.headers["x-request-id"] != "bad id\r\ninjected"
    assert len(replaced.headers["x-request-id"]) == 16


def test_app_from_env_builds_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import app_from_env
    from tests.api.conftest import SECRET

    monkeypatch.setenv("GRAPHRAG_API__JWT_SECRET", SECRET)
    app = app_from_env()
    assert app.title == "GraphRAG on ArangoDB"
    assert "/v1/query" in app.openapi()["paths"]
