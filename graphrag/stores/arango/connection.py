"""Lazy, thread-safe python-arango connections with retries and error translation.

python-arango is synchronous and its ``requests`` sessions are not thread-safe, so every
worker thread (``asyncio.to_thread``) gets its own :class:`~arango.ArangoClient`; nothing
connects before the first call. Idempotent calls are retried on connection failures and
HTTP 503 with exponential backoff (``settings.retries``); writes are not retried, a stream
transaction is the unit a caller repeats.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from arango.client import ArangoClient
from arango.database import StandardDatabase
from arango.exceptions import ArangoServerError
from arango.http import DefaultHTTPClient
from arango.response import Response
from requests_toolbelt import MultipartEncoder

from graphrag.config import ArangoSettings
from graphrag.errors import ConfigError, GraphRAGError
from graphrag.stores.arango.errors import CONNECTION_ERRORS, ErrorContext, translate_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BACKOFF_SECONDS = 8.0
SYSTEM_DATABASE = "_system"


class _RecordingHTTPClient(DefaultHTTPClient):
    """python-arango's HTTP client without its own retries, remembering the last failure.

    python-arango replaces a refused connection by ``ConnectionAbortedError("Can't connect
    to host(s)...")``; the recorded text keeps the real reason for the error message.
    """

    def __init__(self, request_timeout: float) -> None:
        super().__init__(request_timeout=request_timeout, retry_attempts=0, backoff_factor=0.0)
        self.last_error: str | None = None

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
        """Send a request; remember the text of a transport failure before re-raising."""
        try:
            return super().send_request(session, method, url, headers, params, data, auth)
        except requests.exceptions.RequestException as exc:
            self.last_error = str(exc)
            raise


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


def display_url(url: str) -> str:
    """Return a URL without user name and password (safe to log)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


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
                hosts=self.hosts,
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
        self, operation: str, *, admin: bool = False, database: str | None = None
    ) -> ErrorContext:
        """Return the error context of an operation run by this thread."""
        http = getattr(self._local, "http", None)
        return ErrorContext(
            url=self.url,
            database=database or self.settings.database,
            username=self.username(admin=admin),
            password_env=self.password_env(admin=admin),
            operation=operation,
            reason=None if http is None else http.last_error,
        )

    # ------------------------------------------------------------------ calls

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))

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
            idempotent: Retry on connection failures and HTTP 503 (``settings.retries``).
            database: Another database than ``settings.database``.

        Returns:
            What ``fn`` returned.

        Raises:
            GraphRAGError: A :class:`~graphrag.errors.StoreError` from
                :func:`~graphrag.stores.arango.errors.translate_error`, or what ``fn`` raised.
        """
        attempts = self.settings.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            try:
                return fn(self.db(admin=admin, database=database))
            except GraphRAGError:
                raise
            except Exception as exc:
                retry = isinstance(exc, CONNECTION_ERRORS) or (
                    isinstance(exc, ArangoServerError) and exc.http_code == 503
                )
                ctx = self.context(operation, admin=admin, database=database)
                if retry and attempt + 1 < attempts:
                    wait = self._backoff(attempt)
                    logger.warning(
                        "ArangoDB at %s failed during %s (%s); retry %d/%d in %.1f s",
                        self.url, operation, type(exc).__name__, attempt + 1, attempts - 1, wait,
                    )  # fmt: skip
                    time.sleep(wait)
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
