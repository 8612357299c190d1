"""Bad input: every refusal is a clear 4xx in the one error shape, and the store is unchanged.

Most cases share one app (module scope) over a copy of the sample corpus; the store's state
(``GET /v1/stats``, the document list and the job list) is compared before and after each
request. Body and upload limits use an app built with small limits; uploads under odd file
names use a fresh app each, since accepted ones write documents.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio

from tests.api.conftest import Api, api_settings, wait_for_job

pytestmark = pytest.mark.asyncio(loop_scope="session")

SMALL_BODY = 4096
SMALL_FILES = 2


async def _running(
    tmp: Path, sample_store: Path, models: tuple[Any, Any, Any], **limits: Any
) -> AsyncIterator[Api]:
    from api.app import create_app
    from graphrag.workspaces import WorkspaceManager

    embedder, extractor, analyzer = models
    store = tmp / "default.db"
    shutil.copy(sample_store, store)
    settings = api_settings(tmp, store, rate_limit="100000/minute", **limits)
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    async with app.router.lifespan_context(app):
        # 5xx come back as responses (not raised) so that tests can assert on them
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, settings=settings, app=app)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shared(
    tmp_path_factory: pytest.TempPathFactory,
    sample_store: Path,
    embedder: Any,
    extractor: Any,
    analyzer: Any,
) -> AsyncIterator[Api]:
    """One app with the default limits for the read-only and refused cases."""
    tmp = tmp_path_factory.mktemp("bad-input")
    async for api in _running(tmp, sample_store, (embedder, extractor, analyzer)):
        yield api


@pytest_asyncio.fixture(loop_scope="session")
async def small(
    tmp_path: Path, sample_store: Path, embedder: Any, extractor: Any, analyzer: Any
) -> AsyncIterator[Api]:
    """An app whose bodies may hold 4 KiB and whose uploads at most 2 files."""
    async for api in _running(
        tmp_path,
        sample_store,
        (embedder, extractor, analyzer),
        max_body_bytes=SMALL_BODY,
        max_upload_files=SMALL_FILES,
    ):
        yield api


# -- helpers ----------------------------------------------------------------------------


async def store_state(api: Api) -> tuple[Any, ...]:
    """What a refused request must not change: counts, documents and jobs."""
    headers = api.auth()
    stats = await api.client.get("/v1/stats", headers=headers)
    docs = await api.client.get("/v1/documents?limit=500", headers=headers)
    jobs = await api.client.get("/v1/jobs?limit=200", headers=headers)
    assert stats.status_code == docs.status_code == jobs.status_code == 200
    return stats.json(), docs.json(), [(j["id"], j["status"]) for j in jobs.json()["items"]]


def assert_refused(reply: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx (one of ``statuses`` when given) in the one error shape, with no stack trace."""
    assert 400 <= reply.status_code < 500, reply.text
    if statuses:
        assert reply.status_code in statuses, reply.text
    assert "Traceback" not in reply.text
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "request_id"}, error
    assert error["code"]
    assert error["message"]
    assert error["request_id"] == reply.headers["x-request-id"]
    return dict(error)


def spool_dir(api: Api) -> Path:
    return Path(api.settings.api.spool_dir).resolve()


def workspace_files(api: Api) -> list[str]:
    return sorted(p.name for p in Path(api.settings.api.workspaces_dir).glob("*"))


def spool_leftovers(api: Api) -> tuple[list[Path], list[Path]]:
    """Files in the spool, and job folders (``<spool>/<workspace>/<job>``) left in it."""
    spool = Path(api.settings.api.spool_dir)
    found = sorted(spool.rglob("*")) if spool.exists() else []
    files = [p for p in found if p.is_file()]
    folders = [p for p in found if p.is_dir() and p.parent != spool]
    return files, folders


def spool_files(api: Api) -> list[Path]:
    spool = Path(api.settings.api.spool_dir)
    return sorted(p for p in spool.rglob("*") if p.is_file()) if spool.exists() else []


def files_outside_spool(api: Api) -> set[Path]:
    """Every file of the test's folder except the spool and the store's own side files."""
    store = Path(api.settings.embedded.path)
    root = store.parent
    spool = Path(api.settings.api.spool_dir).resolve()
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name).resolve()
            if path.is_relative_to(spool) or name.startswith(store.name):  # store, -wal, .lock
                continue
            found.add(path)
    return found


def multipart(names: list[bytes], text: bytes = b"Grete Holm founded Holm Works.") -> bytes:
    """A multipart body built by hand, so file names reach the server byte for byte."""
    parts = [
        b'--bnd\r\nContent-Disposition: form-data; name="files"; filename="'
        + name
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + text
        + b"\r\n"
        for name in names
    ]
    return b"".join(parts) + b"--bnd--\r\n"


MULTIPART = "multipart/form-data; boundary=bnd"


# -- malformed bodies and content types -------------------------------------------------

JSON_ROUTES = [
    ("POST", "/v1/documents", "writer"),
    ("POST", "/v1/query", "reader"),
    ("POST", "/v1/retrieve", "reader"),
    ("POST", "/v1/query/stream", "reader"),
    ("POST", "/v1/chat/completions", "reader"),
    ("POST", "/v1/keys", "admin"),
    ("POST", "/v1/workspaces", "admin"),
]

MALFORMED = [
    pytest.param(b'{"question": ', id="truncated"),
    pytest.param(b"{'question': 'single quotes'}", id="single-quotes"),
    pytest.param(b"", id="empty"),
    pytest.param(b"null", id="null"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b'"\xff\xfe"', id="not-utf8"),
    pytest.param(b'{"question": "x", "question": NaN}', id="nan"),
]


@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize(("method", "path", "role"), JSON_ROUTES)
async def test_malformed_json_is_refused(
    shared: Api, method: str, path: str, role: str, body: bytes
) -> None:
    before = await store_state(shared)
    headers = {**shared.auth(role), "content-type": "application/json"}
    reply = await shared.client.request(method, path, content=body, headers=headers)
    assert_refused(reply, 400, 422)
    assert await store_state(shared) == before


DEEP = b"[" * 100_000


@pytest.mark.parametrize(
    ("method", "path", "role"),
    JSON_ROUTES,
)
async def test_deeply_nested_json_is_refused(
    shared: Api, method: str, path: str, role: str
) -> None:
    before = await store_state(shared)
    headers = {**shared.auth(role), "content-type": "application/json"}
    reply = await shared.client.request(method, path, content=DEEP, headers=headers)
    assert_refused(reply, 400, 422)
    assert await store_state(shared) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize(
    ("path", "role", "body", "statuses"),
    [
        (
            "/v1/documents",
            "writer",
            b'{"documents": [{"text": "Ivar Lunde built a mill."}]}',
            (415,),
        ),
        ("/v1/query", "reader", b'{"question": "Who built the Lantern Bridge?"}', (415, 422)),
        (
            "/v1/chat/completions",
            "reader",
            b'{"messages": [{"role": "user", "content": "Who built the Lantern Bridge?"}]}',
            (415, 422),
        ),
    ],
)
async def test_wrong_content_type_is_refused(
    shared: Api,
    path: str,
    role: str,
    body: bytes,
    statuses: tuple[int, ...],
    content_type: str,
) -> None:
    before = await store_state(shared)
    headers = {**shared.auth(role), "content-type": content_type}
    reply = await shared.client.post(path, content=body, headers=headers)
    assert_refused(reply, *statuses)
    assert await store_state(shared) == before


# -- size limits ------------------------------------------------------------------------

BIG_TEXT = "Harald Berg built the Berg Canal. " * 300  # ~10 KB, over SMALL_BODY

OVERSIZED = [
    pytest.param(
        "/v1/documents", "writer", {"json": {"documents": [{"text": BIG_TEXT}]}}, id="json"
    ),
    pytest.param(
        "/v1/documents", "writer", {"files": [("files", ("big.txt", BIG_TEXT.encode()))]}, id="file"
    ),
    pytest.param("/v1/query", "reader", {"json": {"question": BIG_TEXT}}, id="query"),
    pytest.param("/v1/keys", "admin", {"json": {"name": BIG_TEXT}}, id="keys"),
]


@pytest.mark.parametrize(("path", "role", "send"), OVERSIZED)
async def test_body_over_the_limit_is_refused_413(
    small: Api, path: str, role: str, send: dict[str, Any]
) -> None:
    before = await store_state(small)
    reply = await small.client.post(path, headers=small.auth(role), **send)
    assert reply.status_code == 413, reply.text
    assert "Traceback" not in reply.text
    assert await store_state(small) == before
    assert spool_files(small) == []


async def test_streamed_body_over_the_limit_is_refused_413_in_the_error_shape(small: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b'{"documents": [' + b" " * 1000
            await asyncio.sleep(0)

    before = await store_state(small)
    headers = {**small.auth("writer"), "content-type": "application/json"}
    reply = await small.client.post("/v1/documents", content=chunks(), headers=headers)
    assert_refused(reply, 413)
    assert await store_state(small) == before


@pytest.mark.parametrize(("path", "role", "send"), OVERSIZED)
async def test_body_over_the_limit_is_answered_in_the_error_shape(
    small: Api, path: str, role: str, send: dict[str, Any]
) -> None:
    reply = await small.client.post(path, headers=small.auth(role), **send)
    assert_refused(reply, 413)


async def test_too_many_files_in_one_upload_are_refused(small: Api) -> None:
    before = await store_state(small)
    files = [("files", (f"f{i}.txt", b"Tove Lind wrote a book.")) for i in range(SMALL_FILES + 1)]
    reply = await small.client.post("/v1/documents", files=files, headers=small.auth("writer"))
    assert_refused(reply, 400, 413, 422)
    assert await store_state(small) == before
    assert spool_files(small) == []


# -- questions --------------------------------------------------------------------------

QUESTION_ROUTES = ["/v1/query", "/v1/retrieve", "/v1/query/stream"]

BAD_QUESTIONS = [
    pytest.param({"question": "Who?", "mode": "telepathy"}, id="unknown-mode"),
    pytest.param({"question": "Who?", "mode": ""}, id="empty-mode"),
    pytest.param({"question": "x" * 2001}, id="question-too-long"),
    pytest.param({"question": "x" * 10_000}, id="question-10k"),
    pytest.param({"question": ""}, id="empty-question"),
    pytest.param({"question": "   \n\t "}, id="blank-question"),
    pytest.param({}, id="no-question"),
    pytest.param({"question": None}, id="null-question"),
    pytest.param({"question": ["Who?"]}, id="list-question"),
    pytest.param({"question": "Who?", "top_k": 0}, id="top_k-0"),
    pytest.param({"question": "Who?", "top_k": 1000}, id="top_k-1000"),
    pytest.param({"question": "Who?", "top_k": -1}, id="top_k-negative"),
    pytest.param({"question": "Who?", "top_k": "ten"}, id="top_k-text"),
    pytest.param({"question": "Who?", "extra": 1}, id="unknown-field"),
]


@pytest.mark.parametrize("body", BAD_QUESTIONS)
@pytest.mark.parametrize("path", QUESTION_ROUTES)
async def test_bad_question_is_refused(shared: Api, path: str, body: dict[str, Any]) -> None:
    before = await store_state(shared)
    reply = await shared.client.post(path, json=body, headers=shared.auth())
    assert_refused(reply, 422)
    assert await store_state(shared) == before


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([], id="no-messages"),
        pytest.param([{"role": "system", "content": "Be brief."}], id="no-user-message"),
        pytest.param([{"role": "user", "content": ""}], id="empty"),
        pytest.param([{"role": "user", "content": "x" * 10_000}], id="too-long"),
        pytest.param([{"role": "user", "content": [{"type": "image_url"}]}], id="no-text-part"),
        pytest.param([{"role": "user", "content": 42}], id="number"),
        pytest.param([{"content": "Who?"}], id="no-role"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_bad_chat_request_is_refused(
    shared: Api, messages: list[dict[str, Any]], stream: bool
) -> None:
    before = await store_state(shared)
    body = {"model": "graphrag", "messages": messages, "stream": stream}
    reply = await shared.client.post("/v1/chat/completions", json=body, headers=shared.auth())
    assert_refused(reply, 404, 422)
    assert await store_state(shared) == before


async def test_unknown_chat_model_is_refused(shared: Api) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Who?"}]}
    reply = await shared.client.post("/v1/chat/completions", json=body, headers=shared.auth())
    assert_refused(reply, 404)


# -- uploads ----------------------------------------------------------------------------

TRAVERSALS = [
    pytest.param(b"../../x.txt", id="dot-dot-slash"),
    pytest.param(b"..\\..\\x.txt", id="dot-dot-backslash"),
    pytest.param(b"/etc/passwd.txt", id="absolute"),
    pytest.param(b".hidden.txt", id="hidden"),
    pytest.param(b"a\x00b.txt", id="nul"),
    pytest.param(b"x.txt\x00.exe", id="nul-extension"),
    pytest.param(b"a/../../../../tmp/escape.txt", id="nested"),
    pytest.param(b"..", id="dot-dot"),
    pytest.param(b"%2e%2e%2fx.txt", id="percent-encoded"),
]


@pytest.mark.parametrize("name", TRAVERSALS)
async def test_path_traversal_file_names_never_escape_the_spool(api: Api, name: bytes) -> None:
    writer = api.auth("writer")
    spool = spool_dir(api)
    await store_state(api)  # opens the store's side files before the snapshot
    before_files = files_outside_spool(api)
    before = await store_state(api)
    outside = [Path("/etc/passwd.txt"), Path("/tmp/escape.txt"), spool.parent.parent / "x.txt"]
    existed = {p: p.exists() for p in outside}

    headers = {**writer, "content-type": MULTIPART}
    reply = await api.client.post("/v1/documents", content=multipart([name]), headers=headers)
    spooled = spool_files(api)
    if reply.status_code == 202:
        job = await wait_for_job(api, reply.json()["id"], writer)
        (entry,) = job["files"]
        stored = entry["name"]
        assert stored, job
        assert not {"/", "\\", "\x00"} & set(stored), stored
        assert not stored.startswith("."), stored
        assert ".." not in stored, stored
        docs = (await api.client.get("/v1/documents?contains=upload://", headers=writer)).json()
        assert [d["source"] for d in docs["items"]] == [f"upload://{stored}"]
    else:
        assert_refused(reply, 400, 415, 422)
        assert await store_state(api) == before
    assert all(p.resolve().is_relative_to(spool) for p in spooled), spooled
    assert files_outside_spool(api) == before_files
    assert {p: p.exists() for p in outside} == existed


@pytest.mark.parametrize(
    "names",
    [
        pytest.param([b"x.exe"], id="exe"),
        pytest.param([b"notes"], id="no-extension"),
        pytest.param([b"a.txt", b"x.exe"], id="txt-and-exe"),
        pytest.param([b"evil.txt.sh"], id="double-extension"),
    ],
)
async def test_unsupported_extension_is_refused(shared: Api, names: list[bytes]) -> None:
    before = await store_state(shared)
    headers = {**shared.auth("writer"), "content-type": MULTIPART}
    reply = await shared.client.post("/v1/documents", content=multipart(names), headers=headers)
    assert_refused(reply, 422)
    assert "spool" not in reply.json()["error"]["message"]
    assert await store_state(shared) == before


async def test_refused_upload_leaves_nothing_in_the_spool(small: Api) -> None:
    headers = {**small.auth("writer"), "content-type": MULTIPART}
    reply = await small.client.post(
        "/v1/documents", content=multipart([b"a.txt", b"x.exe"]), headers=headers
    )
    assert_refused(reply, 422)
    assert spool_leftovers(small) == ([], [])


async def test_upload_without_files_is_refused(shared: Api) -> None:
    before = await store_state(shared)
    writer = shared.auth("writer")
    cases = [
        {"files": [("attachment", ("a.txt", b"Text."))]},
        {"content": b"--bnd--\r\n", "headers": {**writer, "content-type": MULTIPART}},
        {"content": b"garbage", "headers": {**writer, "content-type": MULTIPART}},
        {"content": b"--x\r\n", "headers": {**writer, "content-type": "multipart/form-data"}},
        {"json": {"documents": []}},
        {"json": {"documents": [{"text": ""}]}},
        {"json": {"documents": [{"text": "x", "source": "s" * 501}]}},
        {"json": {"documents": [{"text": "x"}], "unexpected": True}},
    ]
    for send in cases:
        send.setdefault("headers", writer)
        reply = await shared.client.post("/v1/documents", **send)
        assert_refused(reply, 400, 415, 422)
    assert await store_state(shared) == before


# -- injection strings in every string field --------------------------------------------

INJECTIONS = [
    pytest.param('" RETURN 1 //', id="aql-return"),
    pytest.param("'); FOR d IN documents REMOVE d IN documents //", id="aql-remove"),
    pytest.param('{"$gt": ""}', id="nosql-operator"),
    pytest.param("%00", id="percent-nul"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("@collection", id="bind-parameter"),
    pytest.param("1 OR 1=1; DROP TABLE documents; --", id="sql"),
    pytest.param("../../../etc/passwd", id="traversal"),
    pytest.param("A" * 10_000, id="10k"),
    pytest.param(
        "\u202etxt.exe\u202c \U0001f469\u200d\U0001f469\u200d\U0001f467 مرحبا", id="rtl-emoji"
    ),
]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _query(path: str, payload: str) -> tuple[str, str, dict[str, Any]]:
    return "POST", path, {"json": {"question": payload}}


FIELDS: dict[str, tuple[str, Any]] = {
    # field: (role, payload -> (method, url, request kwargs))
    "query.question": ("reader", lambda p: _query("/v1/query", p)),
    "retrieve.question": ("reader", lambda p: _query("/v1/retrieve", p)),
    "stream.question": ("reader", lambda p: _query("/v1/query/stream", p)),
    "query.mode": (
        "reader",
        lambda p: ("POST", "/v1/query", {"json": {"question": "Who?", "mode": p}}),
    ),
    "chat.content": (
        "reader",
        lambda p: (
            "POST",
            "/v1/chat/completions",
            {"json": {"messages": [{"role": "user", "content": p}]}},
        ),
    ),
    "chat.model": (
        "reader",
        lambda p: (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": p, "messages": [{"role": "user", "content": "Who?"}]}},
        ),
    ),
    "entities.q": ("reader", lambda p: ("GET", "/v1/entities", {"params": {"q": p}})),
    "documents.contains": (
        "reader",
        lambda p: ("GET", "/v1/documents", {"params": {"contains": p}}),
    ),
    "paths.source-target": (
        "reader",
        lambda p: ("GET", "/v1/paths", {"params": {"source": p, "target": p}}),
    ),
    "audit.action": ("admin", lambda p: ("GET", "/v1/audit", {"params": {"action": p}})),
    "document.id": ("reader", lambda p: ("GET", f"/v1/documents/{_segment(p)}", {})),
    "document.id.delete": ("writer", lambda p: ("DELETE", f"/v1/documents/{_segment(p)}", {})),
    "job.id": ("reader", lambda p: ("GET", f"/v1/jobs/{_segment(p)}", {})),
    "job.id.resume": ("writer", lambda p: ("POST", f"/v1/jobs/{_segment(p)}/resume", {})),
    "merge.id.undo": ("writer", lambda p: ("POST", f"/v1/merges/{_segment(p)}/undo", {})),
    "entity.id": ("reader", lambda p: ("GET", f"/v1/entities/{_segment(p)}", {})),
    "entity.id.neighbourhood": (
        "reader",
        lambda p: ("GET", f"/v1/entities/{_segment(p)}/neighbourhood", {}),
    ),
    "key.id.delete": ("admin", lambda p: ("DELETE", f"/v1/keys/{_segment(p)}", {})),
    "workspace.name.delete": (
        "admin",
        lambda p: ("DELETE", f"/v1/workspaces/{_segment(p)}", {}),
    ),
    "workspace.name.create": ("admin", lambda p: ("POST", "/v1/workspaces", {"json": {"name": p}})),
    "key.name": ("admin", lambda p: ("POST", "/v1/keys", {"json": {"name": p}})),
}

ID_FIELDS = {name for name in FIELDS if ".id" in name or name.startswith("workspace.")}


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("field", sorted(FIELDS))
async def test_injection_strings_are_inert(shared: Api, field: str, payload: str) -> None:
    role, build = FIELDS[field]
    method, url, send = build(payload)
    before = await store_state(shared)
    workspaces_before = workspace_files(shared)
    reply = await shared.client.request(
        method, url, headers=shared.auth(role), follow_redirects=True, **send
    )
    assert reply.status_code < 500, reply.text
    assert "Traceback" not in reply.text
    if reply.status_code >= 400:
        assert_refused(reply)
    if field in ID_FIELDS:  # no such id, document, job, merge, key or workspace
        assert 400 <= reply.status_code < 500, reply.text
    if field == "key.name" and reply.status_code == 201:  # stored as given, as data
        keys = (await shared.client.get("/v1/keys", headers=shared.auth("admin"))).json()
        assert reply.json()["name"] in {k["name"] for k in keys}
    assert await store_state(shared) == before
    assert workspace_files(shared) == workspaces_before


# -- unknown ids, bad parameters, unknown routes and methods ----------------------------

UNKNOWN_IDS = [
    ("GET", "/v1/documents/d_0000000000000000", "reader"),
    ("DELETE", "/v1/documents/d_0000000000000000", "writer"),
    ("GET", "/v1/jobs/j_0000000000000000", "reader"),
    ("POST", "/v1/jobs/j_0000000000000000/resume", "writer"),
    ("POST", "/v1/merges/m_0000000000000000/undo", "writer"),
    ("GET", "/v1/entities/e_0000000000000000", "reader"),
    ("GET", "/v1/entities/e_0000000000000000/neighbourhood", "reader"),
    ("GET", "/v1/paths?source=e_0000000000000000&target=e_0000000000000001", "reader"),
    ("DELETE", "/v1/keys/000000000000", "admin"),
    ("DELETE", "/v1/workspaces/no-such-workspace", "admin"),
]


@pytest.mark.parametrize(("method", "path", "role"), UNKNOWN_IDS)
async def test_unknown_ids_are_404_not_found(
    shared: Api, method: str, path: str, role: str
) -> None:
    before = await store_state(shared)
    reply = await shared.client.request(method, path, headers=shared.auth(role))
    error = assert_refused(reply, 404)
    assert error["code"] == "not_found"
    assert await store_state(shared) == before


async def test_unknown_merge_message_names_no_server_path(shared: Api) -> None:
    reply = await shared.client.post(
        "/v1/merges/m_0000000000000000/undo", headers=shared.auth("writer")
    )
    error = assert_refused(reply, 404)
    store = Path(shared.settings.embedded.path)
    assert str(store.parent) not in error["message"]
    assert "/" not in error["message"].replace("/v1/", "")


async def test_job_replies_name_no_server_path(shared: Api) -> None:
    writer = shared.auth("writer")
    files = [("files", ("paths.txt", b"Liv Aas founded Aas Ferries."))]
    reply = await shared.client.post("/v1/documents", files=files, headers=writer)
    assert reply.status_code == 202, reply.text
    job = await wait_for_job(shared, reply.json()["id"], writer)
    spool = str(spool_dir(shared))
    assert spool not in reply.text
    assert spool not in str(job)


BAD_PARAMETERS = [
    ("/v1/documents?limit=-1", "reader"),
    ("/v1/documents?limit=0", "reader"),
    ("/v1/documents?limit=100000", "reader"),
    ("/v1/documents?offset=abc", "reader"),
    ("/v1/documents?offset=-1", "reader"),
    ("/v1/documents?status=evil", "reader"),
    ("/v1/jobs?limit=-1", "reader"),
    ("/v1/jobs?offset=abc", "reader"),
    ("/v1/jobs?offset=9223372036854775808", "reader"),  # beyond SQLite's integers (was a 500)
    ("/v1/documents?offset=9223372036854775808", "reader"),
    ("/v1/jobs?status=evil", "reader"),
    ("/v1/entities", "reader"),
    ("/v1/entities?q=", "reader"),
    ("/v1/entities?q=Lantern&limit=abc", "reader"),
    ("/v1/entities?q=Lantern&limit=101", "reader"),
    ("/v1/entities/e_x/neighbourhood?hops=99", "reader"),
    ("/v1/entities/e_x/neighbourhood?hops=0", "reader"),
    ("/v1/entities/e_x/neighbourhood?limit=-1", "reader"),
    ("/v1/paths?source=a", "reader"),
    ("/v1/paths?source=a&target=b&max_hops=99", "reader"),
    ("/v1/paths?source=a&target=b&limit=0", "reader"),
    ("/v1/audit?start=abc", "admin"),
    ("/v1/audit?limit=-1", "admin"),
    ("/v1/audit?start=2024-02-01T00:00:00Z&end=2024-01-01T00:00:00Z", "admin"),
    ("/v1/audit?start=2020-01-01T00:00:00Z&end=2024-01-01T00:00:00Z", "admin"),
]


@pytest.mark.parametrize(("path", "role"), BAD_PARAMETERS)
async def test_bad_query_parameters_are_422(shared: Api, path: str, role: str) -> None:
    reply = await shared.client.get(path, headers=shared.auth(role))
    assert_refused(reply, 422)


@pytest.mark.parametrize(
    "query",
    [
        "start=2020-01-01T00:00:00",
        "start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00",
    ],
)
async def test_audit_range_without_time_zone_is_not_a_server_error(shared: Api, query: str) -> None:
    reply = await shared.client.get(f"/v1/audit?{query}", headers=shared.auth("admin"))
    assert reply.status_code < 500, reply.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("GET", "/nope"),
        ("POST", "/v1/documents/d_x/chunks"),
        ("GET", "/v2/documents"),
        ("GET", "/v1/documents/d_x/"),
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
async def test_unknown_route_is_404_in_the_error_shape(
    shared: Api, method: str, path: str, authenticated: bool
) -> None:
    headers = shared.auth() if authenticated else {}
    reply = await shared.client.request(method, path, headers=headers, follow_redirects=True)
    assert_refused(reply, 404, 401)
    if reply.status_code == 404:
        assert reply.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/documents"),
        ("PATCH", "/v1/documents/d_x"),
        ("GET", "/v1/query"),
        ("DELETE", "/v1/stats"),
        ("GET", "/v1/merges/m_x/undo"),
        ("PUT", "/v1/keys"),
        ("POST", "/v1/audit"),
    ],
)
async def test_wrong_method_is_405_in_the_error_shape(shared: Api, method: str, path: str) -> None:
    before = await store_state(shared)
    reply = await shared.client.request(method, path, headers=shared.auth("admin"))
    error = assert_refused(reply, 405)
    assert error["code"] == "method_not_allowed"
    assert await store_state(shared) == before
