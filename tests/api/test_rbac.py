"""Role-based access: every route of the app x every kind of credential.

One app (module scope) over a copy of the sample corpus serves the whole matrix. Expected:

- missing or bad credentials (expired, wrong audience or issuer, tampered signature, ``alg:
  none``, revoked API key): 401 ``unauthorized`` with ``WWW-Authenticate: Bearer``;
- a valid credential whose role is below the route's: 403 ``forbidden``;
- workspace management by an admin of another workspace than the default one: 403;
- otherwise the route runs (2xx, or 404/409/422 for the minimal ids and bodies sent); a
  credential of another workspace sees none of the default workspace's ids (404).

A route added to the app without a row in :data:`ROUTES` fails
:func:`test_every_route_has_a_matrix_row`.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute

from api.security import parse_key
from tests.api.conftest import SECRET, Api, api_settings, wait_for_job
from tests.api.test_api import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="session")

OTHER = "other"
"""A second workspace, created by an admin of the default one."""

NOT_IN_MATRIX = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"}
NOT_IN_MATRIX |= {"/docs/oauth2-redirect", "/redoc"}
NOT_IN_MATRIX |= {"/ui", "/ui/{name:path}"}  # the explorer's static page: public, holds no data

ALLOWED = {200, 201, 202, 204, 404, 409, 422}
"""What a permitted call may answer (the ids and bodies sent are minimal)."""


@dataclass(frozen=True)
class RouteCase:
    """One row of the matrix: a route, the least role it needs, and how to call it.

    ``path`` may hold ``{doc}``, ``{job}``, ``{entity}``, ``{entity2}``, ``{merge}`` and
    ``{key}``: ids of the default workspace, filled in from the fixture's world. ``control``
    routes also need the default workspace; ``ids`` routes name default-workspace ids, which
    a credential of another workspace must not find (404).
    """

    method: str
    template: str
    role: str
    path: str
    body: dict[str, Any] | None = None
    control: bool = False
    ids: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


QUESTION = {"question": "Who founded the company that built the Lantern Bridge?"}
CHAT = {"messages": [{"role": "user", "content": "Who built the Lantern Bridge?"}]}
TEXT = {"documents": [{"text": "Sigrid Moen founded Moen Ropes in Tarvik.", "source": "rbac"}]}

ROUTES: list[RouteCase] = [
    # reads
    RouteCase("GET", "/v1/documents", "reader", "/v1/documents"),
    RouteCase("GET", "/v1/documents/{document_id}", "reader", "/v1/documents/{doc}", ids=True),
    RouteCase("GET", "/v1/jobs", "reader", "/v1/jobs"),
    RouteCase("GET", "/v1/jobs/{job_id}", "reader", "/v1/jobs/{job}", ids=True),
    RouteCase("POST", "/v1/retrieve", "reader", "/v1/retrieve", QUESTION),
    RouteCase("POST", "/v1/query", "reader", "/v1/query", QUESTION),
    RouteCase("POST", "/v1/query/stream", "reader", "/v1/query/stream", QUESTION),
    RouteCase("GET", "/v1/entities", "reader", "/v1/entities?q=Lantern%20Bridge"),
    RouteCase("GET", "/v1/entities/{entity_id}", "reader", "/v1/entities/{entity}", ids=True),
    RouteCase(
        "GET",
        "/v1/entities/{entity_id}/neighbourhood",
        "reader",
        "/v1/entities/{entity}/neighbourhood",
        ids=True,
    ),
    RouteCase("GET", "/v1/paths", "reader", "/v1/paths?source={entity}&target={entity2}", ids=True),
    RouteCase("GET", "/v1/communities", "reader", "/v1/communities"),
    RouteCase("GET", "/v1/me", "reader", "/v1/me"),
    RouteCase("GET", "/v1/entities/top", "reader", "/v1/entities/top"),
    RouteCase(
        "GET",
        "/v1/entities/{entity_id}/mentions",
        "reader",
        "/v1/entities/{entity}/mentions",
        ids=True,
    ),
    RouteCase(
        "GET",
        "/v1/documents/{document_id}/entities",
        "reader",
        "/v1/documents/{doc}/entities",
        ids=True,
    ),
    RouteCase("GET", "/v1/chunks/entities", "reader", "/v1/chunks/entities?id=c_x"),
    RouteCase("GET", "/v1/eval", "reader", "/v1/eval"),
    RouteCase("GET", "/v1/eval/{name}/recall.png", "reader", "/v1/eval/musique_train/recall.png"),
    RouteCase("GET", "/v1/merges", "reader", "/v1/merges"),
    RouteCase("GET", "/v1/stats", "reader", "/v1/stats"),
    RouteCase("GET", "/v1/models", "reader", "/v1/models"),
    RouteCase("POST", "/v1/chat/completions", "reader", "/v1/chat/completions", CHAT),
    # writes
    RouteCase("POST", "/v1/documents", "writer", "/v1/documents", TEXT),
    RouteCase("DELETE", "/v1/documents/{document_id}", "writer", "/v1/documents/{doc}", ids=True),
    RouteCase("POST", "/v1/jobs/{job_id}/resume", "writer", "/v1/jobs/{job}/resume", ids=True),
    RouteCase("POST", "/v1/merges/{merge_id}/undo", "writer", "/v1/merges/{merge}/undo", ids=True),
    # administration
    RouteCase("GET", "/v1/workspaces", "admin", "/v1/workspaces", control=True),
    RouteCase(
        "POST", "/v1/workspaces", "admin", "/v1/workspaces", {"name": "rbac-made"}, control=True
    ),
    RouteCase(
        "DELETE", "/v1/workspaces/{name}", "admin", "/v1/workspaces/rbac-ghost", control=True
    ),
    RouteCase("GET", "/v1/keys", "admin", "/v1/keys"),
    RouteCase("POST", "/v1/keys", "admin", "/v1/keys", {"name": "rbac matrix"}),
    RouteCase("DELETE", "/v1/keys/{key_id}", "admin", "/v1/keys/{key}", ids=True),
    RouteCase("GET", "/v1/audit", "admin", "/v1/audit"),
]


@dataclass(frozen=True)
class Credential:
    """A way of calling: its headers are built from the world (tokens, keys)."""

    name: str
    role: str | None  # None: the credential must be refused (401)
    workspace: str = "default"
    reason: str | None = None  # the audit line's result for a refused one


CREDENTIALS: list[Credential] = [
    Credential("none", None, reason="missing credentials"),
    Credential("reader-token", "reader"),
    Credential("writer-token", "writer"),
    Credential("admin-token", "admin"),
    Credential("expired-token", None, reason="token expired"),
    Credential("wrong-audience", None, reason="wrong audience"),
    Credential("wrong-issuer", None, reason="wrong issuer"),
    Credential("tampered-signature", None, reason="invalid signature"),
    Credential("alg-none", None, reason="token algorithm not accepted"),
    Credential("revoked-key", None, reason="revoked API key"),
    Credential("reader-key", "reader"),
    Credential("writer-key", "writer"),
    Credential("admin-key", "admin"),
    Credential("other-reader-token", "reader", OTHER),
    Credential("other-writer-token", "writer", OTHER),
    Credential("other-admin-token", "admin", OTHER),
]


@dataclass
class World:
    """The running app, every credential's headers and ids of the default workspace."""

    api: Api
    headers: dict[str, dict[str, str]]
    ids: dict[str, str]
    secrets: list[str] = field(default_factory=list)  # every token and key handed out

    def path(self, route: RouteCase) -> str:
        return route.path.format(**self.ids)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(settings: Any, **changes: Any) -> dict[str, Any]:
    """Claims of an admin token of the default workspace (so an accepted one would pass)."""
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "role": "admin",
        "ws": settings.api.default_workspace,
        "iss": settings.api.jwt_issuer,
        "aud": settings.api.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return claims


def bad_tokens(settings: Any) -> dict[str, str]:
    """Tokens that must be refused, each for one reason."""
    now = int(time.time())
    expired = _claims(settings, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    good = jwt.encode(_claims(settings), SECRET, algorithm="HS256")
    header, payload, signature = good.split(".")
    flipped = "B" if signature[0] != "B" else "C"  # the first character: never padding bits
    return {
        "expired-token": jwt.encode(expired, SECRET, algorithm="HS256"),
        "wrong-audience": jwt.encode(_claims(settings, aud="x"), SECRET, algorithm="HS256"),
        "wrong-issuer": jwt.encode(_claims(settings, iss="x"), SECRET, algorithm="HS256"),
        "tampered-signature": f"{header}.{payload}.{flipped}{signature[1:]}",
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
    }


async def _new_key(api: Api, role: str, name: str) -> dict[str, Any]:
    reply = await api.client.post(
        "/v1/keys", json={"name": name, "role": role}, headers=api.auth("admin")
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    tmp_path_factory: pytest.TempPathFactory,
    sample_store: Path,
    embedder: Any,
    extractor: Any,
    analyzer: Any,
) -> AsyncIterator[World]:
    """One app for the whole matrix, with workspace 'other', keys, a job and ids."""
    from api.app import create_app
    from graphrag.workspaces import WorkspaceManager

    tmp = tmp_path_factory.mktemp("rbac")
    store = tmp / "default.db"
    shutil.copy(sample_store, store)
    settings = api_settings(tmp, store, rate_limit="100000/minute")
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            api = Api(client=client, settings=settings, app=app)
            yield await _build_world(api)


async def _build_world(api: Api) -> World:
    admin, writer, reader = api.auth("admin"), api.auth("writer"), api.auth("reader")
    created = await api.client.post("/v1/workspaces", json={"name": OTHER}, headers=admin)
    assert created.status_code == 201, created.text

    keys = {r: await _new_key(api, r, f"rbac {r}") for r in ("reader", "writer", "admin")}
    revoked = await _new_key(api, "writer", "rbac revoked")
    reply = await api.client.delete(f"/v1/keys/{revoked['id']}", headers=admin)
    assert reply.status_code == 200, reply.text
    assert reply.json()["revoked_at"]
    victim_key = await _new_key(api, "reader", "rbac victim")  # revoked by DELETE /v1/keys

    victim = {"documents": [{"text": "Arne Dahl founded Dahl Barrels.", "source": "rbac-victim"}]}
    reply = await api.client.post("/v1/documents", json=victim, headers=writer)
    assert reply.status_code == 202, reply.text
    job = await wait_for_job(api, reply.json()["id"], writer)
    assert job["status"] == "succeeded", job
    listed = await api.client.get("/v1/documents?contains=rbac-victim", headers=reader)
    (doc,) = listed.json()["items"]

    found = await api.client.get("/v1/entities?q=Lantern Bridge", headers=reader)
    entity = found.json()["items"][0]["id"]
    view = await api.client.get(f"/v1/entities/{entity}/neighbourhood", headers=reader)
    entity2 = next(n["id"] for n in view.json()["nodes"] if n["id"] != entity)
    merges = (await api.client.get("/v1/merges", headers=reader)).json()["merges"]
    merge = merges[0]["id"] if merges else "m_unknown"

    tokens = bad_tokens(api.settings)
    headers: dict[str, dict[str, str]] = {"none": {}}
    for role in ("reader", "writer", "admin"):
        headers[f"{role}-token"] = api.auth(role)
        headers[f"{role}-key"] = {"X-API-Key": keys[role]["key"]}
        headers[f"other-{role}-token"] = api.auth(role, workspace=OTHER)
    headers["revoked-key"] = {"X-API-Key": revoked["key"]}
    for name, token in tokens.items():
        headers[name] = {"Authorization": f"Bearer {token}"}
    secrets = [*tokens.values(), revoked["key"], victim_key["key"]]
    secrets += [k["key"] for k in keys.values()]
    secrets += [
        h["Authorization"].split(" ", 1)[1] for h in headers.values() if h.get("Authorization")
    ]
    ids = {
        "doc": doc["id"],
        "job": job["id"],
        "entity": entity,
        "entity2": entity2,
        "merge": merge,
        "key": victim_key["id"],
    }
    return World(api=api, headers=headers, ids=ids, secrets=secrets)


def _app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every APIRoute, whether added to the app or an included router."""
    try:  # FastAPI >= 0.130 keeps included routers as one entry each in app.routes
        from fastapi.routing import iter_route_contexts

        routes = [(c.original_route, c.path) for c in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI: app.routes is flat
        routes = [(r, getattr(r, "path", None)) for r in app.routes]
    found = set()
    for route, path in routes:
        if not isinstance(route, APIRoute) or path in NOT_IN_MATRIX:
            continue
        found |= {(method, str(path)) for method in route.methods}
    return found


async def test_every_route_has_a_matrix_row(world: World) -> None:
    table = {route.key for route in ROUTES}
    assert len(table) == len(ROUTES), "a route appears twice in ROUTES"
    enumerated = _app_routes(world.api.app)
    assert enumerated, "no route found: the route enumeration is broken"
    assert enumerated - table == set(), "routes without a row in the RBAC matrix"
    assert table - enumerated == set(), "rows of the RBAC matrix for routes that do not exist"


def expectation(route: RouteCase, credential: Credential) -> int | None:
    """401 or 403 when refused, 404 when the ids are another workspace's, else None (runs)."""
    order = ["reader", "writer", "admin"]
    if credential.role is None:
        return 401
    if order.index(credential.role) < order.index(route.role):
        return 403
    if credential.workspace != "default":
        if route.control:
            return 403
        if route.ids:
            return 404
    return None


@pytest.mark.parametrize("credential", CREDENTIALS, ids=lambda c: c.name)
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_matrix(world: World, route: RouteCase, credential: Credential) -> None:
    reply = await world.api.client.request(
        route.method,
        world.path(route),
        json=route.body,
        headers=world.headers[credential.name],
    )
    expected = expectation(route, credential)
    if expected == 401:
        assert_error(reply, 401, "unauthorized")
        assert reply.headers.get("www-authenticate") == "Bearer"
    elif expected == 403:
        assert_error(reply, 403, "forbidden")
    elif expected == 404:
        assert_error(reply, 404, "not_found")
    else:
        assert reply.status_code in ALLOWED, reply.text
        assert reply.status_code not in (401, 403)
        if reply.status_code >= 400:
            assert "Traceback" not in reply.text
            assert set(reply.json()) == {"error"}, reply.text


async def test_refused_credentials_are_audited_without_secrets(world: World) -> None:
    api = world.api
    request_ids: dict[str, str] = {}
    for credential in CREDENTIALS:
        if credential.role is not None:
            continue
        reply = await api.client.get("/v1/stats", headers=world.headers[credential.name])
        assert_error(reply, 401, "unauthorized")
        request_ids[credential.name] = reply.headers["x-request-id"]
    denied = await api.client.post("/v1/keys", json={"name": "x"}, headers=api.auth("reader"))
    assert_error(denied, 403, "forbidden")

    text = Path(api.settings.api.audit_log).read_text(encoding="utf-8")  # noqa: ASYNC240
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    by_request = {line["request_id"]: line for line in lines}
    for credential in CREDENTIALS:
        if credential.role is not None:
            continue
        line = by_request[request_ids[credential.name]]
        assert line["action"] == "auth.failure", line
        assert line["target"] == "/v1/stats"
        assert credential.reason is not None
        assert line["result"].startswith(credential.reason), line
    forbidden = by_request[denied.headers["x-request-id"]]
    assert forbidden["result"] == "denied"
    assert forbidden["subject"] == "test-reader"

    for secret in world.secrets:
        assert secret not in text
        for part in secret.split("."):  # no JWT segment (header, claims, signature) either
            if len(part) > 16:
                assert part not in text
    for key in (h["X-API-Key"] for h in world.headers.values() if "X-API-Key" in h):
        _, _, key_secret = parse_key(key)
        assert key_secret not in text  # the secret part of every API key
