"""Lazy, thread-safe python-arango connections with retries and error translation.

python-arango is synchronous and its ``requests`` sessions are not thread-safe, so every
worker thread (``asyncio.to_thread``) gets its own :class:`~arango.ArangoClient`; nothing
connects before the first call. Idempotent calls are retried on connection failures and
HTTP 429/500/502/503/504 with exponential backoff (``settings.retries``), waiting at least
what a ``Retry-After`` header asks; writes are not retried here, a stream transaction is
the unit that is repeated (on write conflicts, :mod:`graphrag.stores.arango.retry`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from arango.client import ArangoClient
from arango.database import StandardDatabase
from arango.http import DefaultHTTPAdapter, DefaultHTTPClient
from arango.response import Response
from requests_toolbelt import MultipartEncoder
from urllib3.util.retry import Retry

from graphrag.config import ArangoSettings
from graphrag.errors import ConfigError, GraphRAGError
from graphrag.stores.arango.errors import RETRY_STATUSES, ErrorContext, translate_error
from graphrag.stores.arango.retry import is_transient, retry_after_seconds

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BACKOFF_SECONDS = 8.0
SYSTEM_DATABASE = "_system"
POOL_SIZE = 10
"""Connections kept per host (python-arango's default)."""


def _error_message(raw_body: str) -> str | None:
    """Return ArangoDB's ``errorMessage`` of an error body, if it is one."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        return None
    message = body.get("errorMessage") if isinstance(body, dict) else None
    return str(message) if message else None


class _RecordingHTTPClient(DefaultHTTPClient):
    """python-arango's HTTP client without any retry of its own, recording each request.

    python-arango replaces a refused connection (and an HTTP 503 carrying ArangoDB error
    503) by ``ConnectionAbortedError("Can't connect to host(s)...")``; what is recorded
    about the last request (``last_error``, ``last_status``, ``last_request``,
    ``retry_after``) keeps the real reason for the error message and the retry loop. It is
    cleared when a request starts, so it never describes an earlier request.
    """

    def __init__(self, request_timeout: float) -> None:
        super().__init__(
            request_timeout=request_timeout,
            retry_attempts=0,
            backoff_factor=0.0,
            pool_connections=POOL_SIZE,
            pool_maxsize=POOL_SIZE,
        )
        self.last_error: str | None = None
        self.last_status: int | None = None
        self.last_request: str | None = None
        self.retry_after: float | None = None

    def create_session(self, host: str) -> requests.Session:
        """Return a session whose adapter never retries, by status or otherwise.

        ``DefaultHTTPClient.create_session`` (arango/http.py) mounts urllib3
        ``Retry(total=retry_attempts, status_forcelist=[429, 500, 502, 503, 504],
        allowed_methods=["HEAD", "GET", "OPTIONS"])``. With ``retry_attempts=0`` the first
        such status on a GET is already "too many": urllib3 raises ``MaxRetryError``
        (``ResponseError``), requests turns it into ``RetryError``, and the status, the
        server's message and ``Retry-After`` are lost (it used to read "cannot reach the
        server"). Treating ``RetryError`` as retryable would still lose them, and POSTs
        (AQL) never get it. So the adapter here uses requests' own default,
        ``Retry(0, read=False)`` (no status list): every status reaches python-arango as a
        response, and :meth:`ArangoConnection.call` alone decides about retries, for
        idempotent calls only, with backoff and ``Retry-After``, logged.
        """
        adapter = DefaultHTTPAdapter(
            connection_timeout=self.request_timeout,
            pool_connections=POOL_SIZE,
            pool_maxsize=POOL_SIZE,
            max_retries=Retry(0, read=False),
        )
        session = requests.Session()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def clear(self) -> None:
        """Forget what was recorded about the last request."""
        self.last_error = self.last_status = self.last_request = self.retry_after = None

    def send_request(
        self,
        session: requests.Session,
        method: str,
        url: str,
        headers: MutableMapping[str, str] | None = None,
        params: MutableMapping[str, str] | None = None,
        data: str | bytes | MultipartEncoder | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Response:
        """Send a request; record its failure (transport error or transient status)."""
        self.clear()
        self.last_request = f"{method.upper()} {display_url(url, query=False)}"
        try:
            response = super().send_request(session, method, url, headers, params, data, auth)
        except requests.exceptions.RequestException as exc:
            self.last_error = str(exc)
            raise
        self.last_status = response.status_code
        if response.status_code in RETRY_STATUSES:
            self.last_error = _error_message(response.raw_body) or response.status_text or None
            self.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return response


def _failure(exc: BaseException, ctx: ErrorContext) -> str:
    """Name a failure for the retry log: ``HTTP 503`` or the exception type."""
    if ctx.status is not None and ctx.status in RETRY_STATUSES:
        return f"HTTP {ctx.status} to {ctx.request}"
    return type(exc).__name__


def parse_hosts(url: str | None) -> list[str]:
    """Split ``GRAPHRAG_ARANGO__URL`` into host URLs.

    Raises:
        ConfigError: If no URL is set or one is not ``http(s)://host[:port]``.
    """
    if not url or not url.strip():
        msg = "arango.url is not set; set GRAPHRAG_ARANGO__URL (e.g. http://127.0.0.1:8529)"
        raise ConfigError(msg)
    hosts = [h.strip().rstrip("/") for h in url.split(",") if h.strip()]
    for host in hosts:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = (
                f"arango.url entry {display_url(host)!r} is not an http(s)://host:port URL; "
                "fix GRAPHRAG_ARANGO__URL"
            )
            raise ConfigError(msg)
    return hosts


def display_url(url: str, *, query: bool = True) -> str:
    """Return a URL without user name and password (safe to log), optionally without query."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None and (query or not parts.query):
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    kept = parts.query if query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment if query else ""))


class ArangoConnection:
    """Per-thread python-arango clients for one :class:`~graphrag.config.ArangoSettings`.

    Args:
        settings: The connection settings (validated here, no I/O).

    Raises:
        ConfigError: If the URL is missing or malformed.
    """

    def __init__(self, settings: ArangoSettings) -> None:
        self.settings = settings
        self.hosts = parse_hosts(settings.url)
        self.url = ",".join(display_url(h) for h in self.hosts)
        self._local = threading.local()
        self._clients: list[ArangoClient] = []
        self._clients_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------ credentials

    def username(self, *, admin: bool) -> str:
        """Return the user of ordinary (``admin=False``) or schema operations."""
        if admin and self.settings.admin_username:
            return self.settings.admin_username
        return self.settings.username

    def _password(self, *, admin: bool) -> str:
        if admin and self.settings.admin_username:
            secret = self.settings.admin_password
            return secret.get_secret_value() if secret is not None else ""
        if admin and self.settings.admin_password is not None:
            return self.settings.admin_password.get_secret_value()
        return self.settings.password.get_secret_value()

    def password_env(self, *, admin: bool) -> str:
        """Return the variable that holds the password of that user."""
        if admin and (self.settings.admin_username or self.settings.admin_password is not None):
            return "GRAPHRAG_ARANGO__ADMIN_PASSWORD"
        return "GRAPHRAG_ARANGO__PASSWORD"

    # ------------------------------------------------------------------ clients

    def _client(self) -> tuple[ArangoClient, _RecordingHTTPClient]:
        client: ArangoClient | None = getattr(self._local, "client", None)
        http: _RecordingHTTPClient | None = getattr(self._local, "http", None)
        if client is None or http is None:
            http = _RecordingHTTPClient(self.settings.request_timeout)
            client = ArangoClient(
                # credentials in the URL are never used (auth is explicit) and python-arango
                # logs request URLs: it gets them without
                hosts=[display_url(h) for h in self.hosts],
                http_client=http,
                resolver_max_tries=len(self.hosts),
                verify_override=self.settings.verify_tls,
                request_timeout=self.settings.request_timeout,
            )
            self._local.client, self._local.http = client, http
            self._local.dbs = {}
            with self._clients_lock:
                self._clients.append(client)
        return client, http

    def db(self, *, admin: bool = False, database: str | None = None) -> StandardDatabase:
        """Return this thread's database handle (no request is sent).

        Args:
            admin: Use the admin credentials (schema operations).
            database: Another database than ``settings.database`` (``_system``...).
        """
        client, _ = self._client()
        name = database or self.settings.database
        dbs: dict[tuple[str, bool], StandardDatabase] = self._local.dbs
        handle = dbs.get((name, admin))
        if handle is None:
            handle = client.db(
                name, username=self.username(admin=admin), password=self._password(admin=admin)
            )
            dbs[(name, admin)] = handle
        return handle

    def context(
        self,
        operation: str,
        *,
        admin: bool = False,
        database: str | None = None,
        attempts: int = 1,
    ) -> ErrorContext:
        """Return the error context of an operation run by this thread.

        Args:
            operation: What is done, for messages.
            admin: Whether the admin credentials are used.
            database: Another database than ``settings.database``.
            attempts: How many times the operation was tried.
        """
        http: _RecordingHTTPClient | None = getattr(self._local, "http", None)
        return ErrorContext(
            url=self.url,
            database=database or self.settings.database,
            username=self.username(admin=admin),
            password_env=self.password_env(admin=admin),
            operation=operation,
            reason=None if http is None else http.last_error,
            status=None if http is None else http.last_status,
            request=None if http is None else http.last_request,
            attempts=attempts,
        )

    # ------------------------------------------------------------------ calls

    def _backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry ``attempt + 1``: exponential, at least ``Retry-After``."""
        wait = float(min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))
        return wait if retry_after is None else max(wait, retry_after)

    def call(
        self,
        operation: str,
        fn: Callable[[StandardDatabase], T],
        *,
        admin: bool = False,
        idempotent: bool = False,
        database: str | None = None,
    ) -> T:
        """Run ``fn(db)`` in this thread, retrying idempotent calls, translating errors.

        Args:
            operation: What is done, for messages (``"vector search on chunks"``).
            fn: The blocking python-arango work.
            admin: Use the admin credentials.
            idempotent: Retry on connection failures and HTTP 429/500/502/503/504
                (``settings.retries`` times; :func:`~graphrag.stores.arango.retry.
                is_transient`). Writes are never retried here: a failed write may have
                been applied.
            database: Another database than ``settings.database``.

        Returns:
            What ``fn`` returned.

        Raises:
            GraphRAGError: A :class:`~graphrag.errors.StoreError` from
                :func:`~graphrag.stores.arango.errors.translate_error`, or what ``fn`` raised.
        """
        attempts = self.settings.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            _, http = self._client()
            http.clear()  # an earlier call's failure must not explain this one
            try:
                return fn(self.db(admin=admin, database=database))
            except GraphRAGError:
                raise
            except Exception as exc:
                tried = attempt + 1
                ctx = self.context(operation, admin=admin, database=database, attempts=tried)
                if tried < attempts and is_transient(exc):
                    wait = self._backoff(attempt, http.retry_after)
                    logger.warning(
                        "ArangoDB at %s failed during %s (%s); retry %d/%d in %.1f s",
                        self.url, operation, _failure(exc, ctx), tried, attempts - 1, wait,
                    )  # fmt: skip
                    self._sleep(wait)
                    continue
                raise translate_error(exc, ctx) from exc
        msg = f"unreachable: {attempts} attempts"  # pragma: no cover - the loop always returns
        raise AssertionError(msg)  # pragma: no cover

    async def run(
        self,
        operation: str,
        fn: Callable[[StandardDatabase], T],
        *,
        admin: bool = False,
        idempotent: bool = False,
        database: str | None = None,
    ) -> T:
        """Run :meth:`call` in a worker thread (see there)."""
        return await asyncio.to_thread(
            self.call, operation, fn, admin=admin, idempotent=idempotent, database=database
        )

    def close(self) -> None:
        """Close every HTTP session opened by any thread."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()
