"""Authentication and role dependencies (api.security.deps) in a tiny FastAPI app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from slowapi.errors import RateLimitExceeded
from starlette.requests import Request
from starlette.responses import JSONResponse

from api import errors
from api.security import (
    AuditLog,
    Principal,
    Role,
    create_key,
    make_limiter,
    mint_token,
    parse_key,
    rate_limit_key,
    rate_limit_response_headers,
    require,
    revoke_key,
)
from graphrag.config import Settings, load_settings
from graphrag.errors import ConfigError, NotFoundError
from tests.api.test_security_keys import MemoryKeyStore

SECRET = "Zr4Tq9Lm2Vx7Nc5Bw8Hk3Pj6Fs1Gd0Ya"  # a test fixture


class Workspaces:
    """The part of the workspace manager the dependencies use: ``exists`` and ``get``."""

    def __init__(self, stores: dict[str, MemoryKeyStore]) -> None:
        self.stores = stores
        self.opened: list[str] = []

    async def exists(self, name: str) -> bool:
        return name in self.stores

    async def get(self, name: str) -> Any:
        if name not in self.stores:
            raise NotFoundError(f"no workspace {name!r}")
        self.opened.append(name)
        return SimpleNamespace(components=SimpleNamespace(store=self.stores[name]))


def make_settings(tmp_path: Path, **api: Any) -> Settings:
    section = {"jwt_secret": SECRET, "audit_log": str(tmp_path / "audit.log"), **api}
    return load_settings(api=section)


def build_app(settings: Settings, workspaces: Workspaces) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.state.settings = settings
    app.state.workspaces = workspaces
    app.state.audit = AuditLog(settings.api.audit_log)

    @app.get("/read")
    async def read(principal: Annotated[Principal, Depends(require(Role.READER))]) -> Any:
        return {"subject": principal.subject, "workspace": principal.workspace}

    @app.post("/write")
    async def write(principal: Annotated[Principal, Depends(require(Role.WRITER))]) -> Any:
        return {"role": principal.role.value}

    @app.delete("/admin")
    async def admin(
        principal: Annotated[Principal, Depends(require(Role.ADMIN, action="key.revoke"))],
    ) -> Any:
        return {"via": principal.via}

    return app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def workspaces() -> Workspaces:
    return Workspaces({"default": MemoryKeyStore(), "team": MemoryKeyStore()})


@pytest.fixture
async def client(settings: Settings, workspaces: Workspaces) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, workspaces)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def bearer(settings: Settings, role: str, **kw: Any) -> dict[str, str]:
    token = mint_token(
        settings, subject=kw.pop("subject", f"u-{role}"), role=role, workspace="default", **kw
    )
    return {"Authorization": f"Bearer {token}"}


def audit_text(settings: Settings) -> str:
    return Path(settings.api.audit_log).read_text(encoding="utf-8")


def audit_lines(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_text(settings).splitlines()]


def assert_error(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


# --- 401 -------------------------------------------------------------------------------


async def test_missing_credentials(client: httpx.AsyncClient, settings: Settings) -> None:
    reply = await client.get("/read")
    message = assert_error(reply, 401, "unauthorized")
    assert message == "missing credentials: send Authorization: Bearer <token> or X-API-Key"
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    [line] = audit_lines(settings)
    assert line["action"] == "auth.failure"
    assert line["subject"] == "unknown"
    assert line["target"] == "/read"
    assert line["result"] == message


async def test_expired_token_is_audited_without_the_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = bearer(settings, "admin", ttl_minutes=1)
    token = headers["Authorization"].split()[1]
    expired = mint_token(settings, subject="old", role="admin", workspace="default")
    claims = jwt.decode(expired, options={"verify_signature": False})
    claims.update(iat=claims["iat"] - 7200, nbf=claims["nbf"] - 7200, exp=claims["exp"] - 7200)
    stale = jwt.encode(claims, SECRET, algorithm="HS256")
    reply = await client.get("/read", headers={"Authorization": f"Bearer {stale}"})
    assert assert_error(reply, 401, "unauthorized") == "token expired"
    ok = await client.get("/read", headers=headers)
    assert ok.status_code == 200
    log = audit_text(settings)
    assert stale not in log
    assert token not in log
    assert [line["result"] for line in audit_lines(settings)] == ["token expired"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": "Bearer not-a-token"}, "malformed token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unsupported Authorization scheme"),
        ({"X-API-Key": "grk_default_nope"}, "malformed API key"),
        ({"Authorization": "Bearer "}, "missing credentials"),
    ],
)
async def test_bad_credentials(
    client: httpx.AsyncClient, settings: Settings, headers: dict[str, str], reason: str
) -> None:
    reply = await client.get("/read", headers=headers)
    assert assert_error(reply, 401, "unauthorized").startswith(reason)
    log = audit_text(settings)
    assert "auth.failure" in log
    assert "not-a-token" not in log
    assert "dXNlcjpwYXNz" not in log


# --- roles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "read", "write", "admin"),
    [("reader", 200, 403, 403), ("writer", 200, 200, 403), ("admin", 200, 200, 200)],
)
async def test_roles(
    client: httpx.AsyncClient, settings: Settings, role: str, read: int, write: int, admin: int
) -> None:
    headers = bearer(settings, role)
    assert (await client.get("/read", headers=headers)).status_code == read
    assert (await client.post("/write", headers=headers)).status_code == write
    assert (await client.delete("/admin", headers=headers)).status_code == admin


async def test_forbidden_message_and_audit(client: httpx.AsyncClient, settings: Settings) -> None:
    reply = await client.post("/write", headers=bearer(settings, "reader"))
    assert assert_error(reply, 403, "forbidden") == "role reader may not POST /write; needs writer"
    reply = await client.delete("/admin", headers=bearer(settings, "writer"))
    assert assert_error(reply, 403, "forbidden") == "role writer may not key.revoke; needs admin"
    lines = audit_lines(settings)
    assert [(x["action"], x["result"], x["subject"]) for x in lines] == [
        ("auth.forbidden", "denied", "u-reader"),
        ("key.revoke", "denied", "u-writer"),
    ]


async def test_token_workspace(client: httpx.AsyncClient, settings: Settings) -> None:
    token = mint_token(settings, subject="t", role="reader", workspace="team")
    reply = await client.get("/read", headers={"Authorization": f"Bearer {token}"})
    assert reply.json() == {"subject": "t", "workspace": "team"}


# --- API keys --------------------------------------------------------------------------


async def test_api_key_in_either_header(
    client: httpx.AsyncClient, settings: Settings, workspaces: Workspaces
) -> None:
    record, text = await create_key(
        workspaces.stores["team"], workspace="team", name="ci", role="writer", created_by="a"
    )
    for headers in ({"X-API-Key": text}, {"Authorization": f"Bearer {text}"}):
        reply = await client.get("/read", headers=headers)
        assert reply.json() == {"subject": f"key:{record.id}", "workspace": "team"}
        assert (await client.post("/write", headers=headers)).status_code == 200
        assert (await client.delete("/admin", headers=headers)).status_code == 403


async def test_revoked_and_foreign_keys(
    client: httpx.AsyncClient, settings: Settings, workspaces: Workspaces
) -> None:
    team = workspaces.stores["team"]
    record, text = await create_key(team, workspace="team", name="ci", role="admin", created_by="a")
    await revoke_key(team, record.id)
    reply = await client.get("/read", headers={"X-API-Key": text})
    assert assert_error(reply, 401, "unauthorized") == "revoked API key"
    # A key of "team" presented as a key of "default": that store does not know it.
    moved = text.replace("grk_team_", "grk_default_", 1)
    reply = await client.get("/read", headers={"X-API-Key": moved})
    assert assert_error(reply, 401, "unauthorized") == "unknown API key"
    # A workspace that does not exist is never opened.
    ghost = text.replace("grk_team_", "grk_ghost_", 1)
    reply = await client.get("/read", headers={"X-API-Key": ghost})
    assert assert_error(reply, 401, "unauthorized") == "unknown API key"
    assert "ghost" not in workspaces.opened
    log = audit_text(settings)
    secret = parse_key(text)[2]  # the secret may itself contain "_"
    for leaked in (text, moved, ghost, secret):
        assert leaked not in log
    lines = audit_lines(settings)
    assert [line["result"] for line in lines] == [
        "revoked API key",
        "unknown API key",
        "unknown API key",
    ]
    assert lines[0]["detail"]["claimed_key_id"] == record.id


# --- OpenAPI ---------------------------------------------------------------------------


async def test_openapi_declares_both_schemes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerAuth"]["description"],
    }
    assert schemes["ApiKeyAuth"]["type"] == "apiKey"
    assert schemes["ApiKeyAuth"]["in"] == "header"
    assert schemes["ApiKeyAuth"]["name"] == "X-API-Key"
    assert schema["paths"]["/write"]["post"]["security"] == [
        {"BearerAuth": []},
        {"ApiKeyAuth": []},
    ]


# --- rate limits -----------------------------------------------------------------------


async def test_rate_limit_per_caller(tmp_path: Path, workspaces: Workspaces) -> None:
    settings = make_settings(tmp_path, rate_limit="2/minute")
    app = build_app(settings, workspaces)
    app.state.limiter = make_limiter(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        alice = bearer(settings, "reader", subject="alice")
        assert [(await http.get("/read", headers=alice)).status_code for _ in range(2)] == [
            200,
            200,
        ]
        reply = await http.get("/read", headers=alice)
        message = assert_error(reply, 429, "rate_limited")
        assert message.startswith("rate limit exceeded (2 per 1 minute)")
        assert 1 <= int(reply.headers["Retry-After"]) <= 60
        bob = bearer(settings, "reader", subject="bob")
        assert (await http.get("/read", headers=bob)).status_code == 200
        # Failed authentication is not counted against anyone's budget.
        assert (await http.get("/read")).status_code == 401


async def test_decorated_route_limit_and_retry_after(
    tmp_path: Path, workspaces: Workspaces
) -> None:
    settings = make_settings(tmp_path)
    app = build_app(settings, workspaces)
    limiter = make_limiter(settings)
    app.state.limiter = limiter

    @app.exception_handler(RateLimitExceeded)
    async def _limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        headers = rate_limit_response_headers(exc, request)
        return errors.error_response(request, 429, "rate_limited", "slow down", headers)

    @app.post("/upload")
    @limiter.limit("1/minute")
    async def upload(
        request: Request, principal: Annotated[Principal, Depends(require(Role.WRITER))]
    ) -> Any:
        return {"subject": principal.subject}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        carol, dave = bearer(settings, "writer", subject="carol"), bearer(settings, "writer")
        assert (await http.post("/upload", headers=carol)).status_code == 200
        reply = await http.post("/upload", headers=carol)
        assert_error(reply, 429, "rate_limited")
        assert 1 <= int(reply.headers["Retry-After"]) <= 60
        assert (await http.post("/upload", headers=dave)).status_code == 200


def test_make_limiter_refuses_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GRAPHRAG_API__RATE_LIMIT="):
        make_limiter(make_settings(tmp_path, rate_limit="lots"))
    bad_storage = make_settings(tmp_path, rate_limit_storage="nosuch://:pw@host:1")
    with pytest.raises(ConfigError, match="GRAPHRAG_API__RATE_LIMIT_STORAGE") as caught:
        make_limiter(bad_storage)
    assert "pw" not in str(caught.value)


def test_rate_limit_key_before_and_after_authentication() -> None:
    request = Request({"type": "http", "client": ("10.0.0.7", 1234), "headers": [], "app": None})
    assert rate_limit_key(request) == "ip:10.0.0.7"
    request.state.principal = Principal("alice", Role.READER, "default", "jwt")
    assert rate_limit_key(request) == "sub:alice"
    request.state.principal = Principal("key:ab", Role.READER, "team", "api_key", key_id="ab")
    assert rate_limit_key(request) == "key:team:ab"


def test_role_order() -> None:
    assert Role.READER < Role.WRITER < Role.ADMIN
    assert sorted([Role.ADMIN, Role.READER, Role.WRITER]) == [Role.READER, Role.WRITER, Role.ADMIN]
    assert Role.ADMIN.covers(Role.WRITER)
    assert Role.WRITER.covers("writer")
    assert not Role.READER.covers(Role.WRITER)
    assert Principal("a", Role.WRITER, "w", "jwt").can(Role.READER)
