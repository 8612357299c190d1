"""Retries of idempotent calls on HTTP 429/5xx, against a local stub server (no ArangoDB).

The stub is ``http.server`` on 127.0.0.1 (port 0) answering like ArangoDB 3.12 does: JSON
bodies ``{"error": true, "code": ..., "errorNum": ..., "errorMessage": ...}``. The real
python-arango client talks to it through :class:`ArangoConnection`, so these tests cover the
HTTP adapter (no urllib3 status retry), python-arango's handling of a 503 and the project's
own retry loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError, StoreUnavailableError
from graphrag.stores.arango.connection import ArangoConnection, display_url
from graphrag.stores.arango.retry import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from tests.unit.stores.arango.http_stub import serving

SECRET = "s3cret-Pa55word"
URL_SECRET = "url-Pa55"
VERSION = {"server": "arango", "version": "3.12.12", "license": "community"}

Answer = tuple[int, dict[str, str], str]


def arango_error(status: int, num: int, message: str) -> Answer:
    body = {"error": True, "code": status, "errorNum": num, "errorMessage": message}
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def ok(body: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


@dataclass
class Stub:
    """A scripted HTTP server: each request takes the next answer (the last one repeats)."""

    answers: list[Answer] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    def answer(self, method: str, path: str) -> Answer:
        self.seen.append((method, path))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = state.answer(self.command, self.path)
            raw = body.encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(raw))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._reply()

        def do_POST(self) -> None:
            self._reply()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as port:
        state.port = port
        yield state


def connect(stub: Stub, retries: int = 3, *, credentials: bool = False) -> ArangoConnection:
    auth = f"reader:{URL_SECRET}@" if credentials else ""
    settings = ArangoSettings(
        url=f"http://{auth}127.0.0.1:{stub.port}",
        password=SecretStr(SECRET),
        retries=retries,
        request_timeout=5,
    )
    return ArangoConnection(settings)


def recorder(conn: ArangoConnection) -> list[float]:
    waits: list[float] = []
    conn._sleep = waits.append
    return waits


def version(db: Any) -> Any:
    return db.version()


# --------------------------------------------------------------------------- transient GETs


@pytest.mark.parametrize(
    "first",
    [
        arango_error(503, 503, "service unavailable"),  # python-arango: a connection error
        (503, {"Content-Type": "text/html"}, "<html>503 Service Unavailable</html>"),
        arango_error(503, 1495, "leadership challenge is ongoing"),
        arango_error(500, 4, "internal error"),
        (502, {"Content-Type": "text/html"}, "<html>Bad Gateway</html>"),
        (504, {"Content-Type": "text/html"}, "<html>Gateway Timeout</html>"),
        arango_error(429, 429, "too many requests"),
    ],
    ids=["503-arango", "503-proxy", "503-other-errnum", "500", "502", "504", "429"],
)
def test_a_transient_status_on_a_get_is_retried_once_then_succeeds(
    stub: Stub, first: Answer, caplog: pytest.LogCaptureFixture
) -> None:
    stub.answers = [first, ok(VERSION)]
    conn = connect(stub)
    waits = recorder(conn)
    with caplog.at_level(logging.WARNING):
        assert conn.call("reading the version", version, idempotent=True) == "3.12.12"
    assert [m for m, _ in stub.seen] == ["GET", "GET"]  # one retry, none hidden in urllib3
    assert stub.seen[0][1].startswith("/_db/graphrag/_api/version")
    assert waits == [0.5]
    assert f"HTTP {first[0]}" in caplog.text
    assert "retry 1/3" in caplog.text
    conn.close()


def test_retry_after_is_honoured_and_bounded(stub: Stub) -> None:
    too_many = arango_error(429, 429, "too many requests")
    stub.answers = [
        (429, {**too_many[1], "Retry-After": "2"}, too_many[2]),
        (429, {**too_many[1], "Retry-After": "3600"}, too_many[2]),
        ok(VERSION),
    ]
    conn = connect(stub)
    waits = recorder(conn)
    assert conn.call("reading the version", version, idempotent=True) == "3.12.12"
    assert waits == [2.0, MAX_RETRY_AFTER_SECONDS]
    conn.close()


def test_a_get_answered_503_forever_fails_clearly_without_credentials(
    stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.answers = [arango_error(503, 503, "service unavailable")]
    conn = connect(stub, retries=2, credentials=True)
    waits = recorder(conn)
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreUnavailableError) as err:
        conn.call("reading the version", version, idempotent=True)
    message = str(err.value)
    assert len(stub.seen) == 3
    assert waits == [0.5, 1.0]
    assert message.startswith(f"ArangoDB at http://127.0.0.1:{stub.port} answered HTTP 503")
    assert f"GET http://127.0.0.1:{stub.port}/_db/graphrag/_api/version" in message
    assert "(service unavailable)" in message
    assert "after 3 tries" in message
    assert "not ready" in message
    assert "cannot reach" not in message
    assert "?" not in message.split(" during ")[0]  # no query string
    for secret in (SECRET, URL_SECRET):
        assert secret not in message
        assert secret not in caplog.text
    conn.close()


def test_a_proxy_504_forever_names_status_and_url(stub: Stub) -> None:
    stub.answers = [(504, {"Content-Type": "text/html"}, "<html>Gateway Timeout</html>")]
    conn = connect(stub, retries=1)
    recorder(conn)
    with pytest.raises(StoreUnavailableError, match=r"answered HTTP 504 .*_api/version"):
        conn.call("reading the version", version, idempotent=True)
    assert len(stub.seen) == 2
    conn.close()


# --------------------------------------------------------------------------- writes


def insert(db: Any) -> Any:
    return list(db.aql.execute("INSERT {a: @a} INTO things", bind_vars={"a": 1}))


def test_a_500_on_a_write_is_not_retried(stub: Stub) -> None:
    stub.answers = [arango_error(500, 4, "internal error"), ok({"result": [], "hasMore": False})]
    conn = connect(stub, retries=3)
    waits = recorder(conn)
    with pytest.raises(StoreQueryError) as err:
        conn.call("inserting things", insert)
    assert stub.seen == [("POST", "/_db/graphrag/_api/cursor")]
    assert waits == []
    assert "HTTP 500" in str(err.value)
    assert "internal error" in str(err.value)
    assert f"(POST http://127.0.0.1:{stub.port}/_db/graphrag/_api/cursor)" in str(err.value)
    conn.close()


def test_a_503_on_a_write_or_a_non_idempotent_get_is_not_retried(stub: Stub) -> None:
    stub.answers = [arango_error(503, 503, "service unavailable"), ok(VERSION)]
    conn = connect(stub, retries=3)
    waits = recorder(conn)
    with pytest.raises(StoreUnavailableError, match=r"HTTP 503 .*POST .*_api/cursor"):
        conn.call("inserting things", insert)
    assert len(stub.seen) == 1
    stub.answers = [arango_error(502, 502, "bad gateway"), ok(VERSION)]
    with pytest.raises(StoreUnavailableError, match="HTTP 502"):
        conn.call("reading the version", version)
    assert len(stub.seen) == 2
    assert waits == []
    conn.close()


# --------------------------------------------------------------------------- no stale reasons


def dropped(db: Any) -> Any:
    """What python-arango raises when it gives up on the hosts, without any request here."""
    raise ConnectionAbortedError("Can't connect to host(s) within limit (1)")


def test_an_earlier_failure_never_explains_a_later_call(stub: Stub) -> None:
    stub.answers = [arango_error(503, 503, "service unavailable")]
    conn = connect(stub, retries=0)
    with pytest.raises(StoreUnavailableError, match="HTTP 503"):
        conn.call("reading the version", version, idempotent=True)
    with pytest.raises(StoreUnavailableError) as err:
        conn.call("listing documents", dropped)
    message = str(err.value)
    assert "503" not in message
    assert "service unavailable" not in message
    assert message.startswith(f"cannot reach ArangoDB at http://127.0.0.1:{stub.port}")
    conn.close()


def test_an_earlier_request_never_explains_a_later_failure_of_the_same_call(stub: Stub) -> None:
    stub.answers = [arango_error(503, 503, "service unavailable"), ok(VERSION)]
    conn = connect(stub, retries=0)

    def first_fails_then_succeeds(db: Any) -> Any:
        with contextlib.suppress(ConnectionAbortedError):
            db.version()  # a failure fn handles itself
        assert db.version() == "3.12.12"
        return dropped(db)

    with pytest.raises(StoreUnavailableError) as err:
        conn.call("reading twice", first_fails_then_succeeds)
    assert "503" not in str(err.value)
    assert "service unavailable" not in str(err.value)
    conn.close()


# --------------------------------------------------------------------------- pieces


def test_sessions_never_retry_by_status() -> None:
    conn = ArangoConnection(ArangoSettings(url="http://127.0.0.1:9"))
    _, http = conn._client()
    retry = http.create_session("http://127.0.0.1:9").get_adapter("http://x").max_retries
    assert retry.total == 0
    assert not retry.status_forcelist
    assert retry.is_retry("GET", 503) is False
    assert retry.is_retry("GET", 429, has_retry_after=True) is False


def test_retry_after_header_values() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("  ") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("99999") == MAX_RETRY_AFTER_SECONDS
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert retry_after_seconds(later, now=now) == 7.0
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1)), now=now) == 0.0


def test_display_url_drops_credentials_and_optionally_the_query() -> None:
    assert display_url("http://u:p@db:8529/_db/kg/x?a=1") == "http://db:8529/_db/kg/x?a=1"
    assert display_url("http://db:8529/_db/kg/x?a=1", query=False) == "http://db:8529/_db/kg/x"
    assert display_url("http://[::1]:8529/x") == "http://[::1]:8529/x"
    assert display_url("http://u:p@[::1]:8529") == "http://[::1]:8529"
