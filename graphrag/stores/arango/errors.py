"""Translation of python-arango and transport failures into the library's error tree.

:func:`translate_error` is the one place that decides which
:class:`~graphrag.errors.StoreError` a failure becomes and what its message tells the user
to do. Messages name the server URL, the database and the user, never a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from arango.exceptions import ArangoClientError, ArangoServerError

from graphrag.errors import (
    GraphRAGError,
    SchemaError,
    StoreAuthError,
    StoreError,
    StoreQueryError,
    StoreUnavailableError,
)

ERR_FORBIDDEN = 11
ERR_COLLECTION_NOT_FOUND = 1203
ERR_DUPLICATE_NAME = 1207
ERR_DATABASE_NOT_FOUND = 1228
ERR_VECTOR_SEARCH_NOT_APPLIED = 1554
ERR_VECTOR_INDEX_NOT_READY = 1555
ERR_GRAPH_NOT_FOUND = 1924
ERR_GRAPH_DUPLICATE = 1925
ERR_CONFLICT = 1200
ERR_UNIQUE_CONSTRAINT = 1210

SCHEMA_HINT = "run `graphrag schema --store arango` as an admin"
START_HINT = "start it with `docker compose up -d arangodb` or fix GRAPHRAG_ARANGO__URL"

_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")\]]*")
_KNOWN_REASONS = (
    (
        "CERTIFICATE_VERIFY_FAILED",
        "TLS certificate verification failed (GRAPHRAG_ARANGO__VERIFY_TLS)",
    ),
    ("timed out", "the connection timed out"),
    ("Name or service not known", "the host name does not resolve"),
    ("Temporary failure in name resolution", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("Connection refused", "connection refused"),
)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionAbortedError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
"""Failures that mean the server could not be reached (retried for idempotent reads)."""

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses an idempotent call is retried on (the list python-arango gives urllib3)."""

_STATUS_HINTS = {
    429: "the server is overloaded; retry later or run fewer concurrent clients",
    500: "the server failed internally; see the ArangoDB log",
    502: "a proxy in front of ArangoDB could not reach it; check that ArangoDB runs",
    503: (
        "it is not ready (starting, shutting down or in maintenance mode); wait until it is "
        "healthy (`docker compose ps`) and retry"
    ),
    504: "a proxy in front of ArangoDB timed out waiting for it; check the server's load",
}


@dataclass(frozen=True)
class ErrorContext:
    """What an operation was doing, for error messages.

    Attributes:
        url: The server URL(s) without credentials.
        database: The database name.
        username: The user the request ran as.
        password_env: The variable holding that user's password.
        operation: What was being done (``"vector search on chunks"``...).
        reason: The failure of the last request (transport error or HTTP status), when
            python-arango dropped it.
        status: The HTTP status of the last response, if there was one.
        request: The last request, ``"GET http://host:8529/_db/kg/_api/version"`` (no
            credentials, no query string).
        attempts: How many times the operation was tried.
    """

    url: str
    database: str
    username: str
    password_env: str
    operation: str
    reason: str | None = None
    status: int | None = None
    request: str | None = None
    attempts: int = 1


def connection_reason(exc: BaseException, recorded: str | None = None) -> str:
    """Return a short human reason for a transport failure."""
    texts = [recorded or "", str(exc)]
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        texts.append(str(cause))
    joined = " ".join(t for t in texts if t)
    for needle, reason in _KNOWN_REASONS:
        if needle in joined:
            found = _ERRNO.search(joined)
            return f"{reason} ({found.group(0).strip()})" if found else reason
    found = _ERRNO.search(joined)
    if found:
        return found.group(0).strip()
    text = (recorded or str(exc) or type(exc).__name__).strip()
    return text[:200]


def server_error_code(exc: BaseException) -> int | None:
    """Return the ArangoDB error number of a server error (``None`` for other errors)."""
    if isinstance(exc, ArangoServerError):
        code = exc.error_code
        return int(code) if code is not None else None
    return None


def _server_message(exc: ArangoServerError) -> str:
    return str(exc.error_message or exc.message or type(exc).__name__)


def _auth_error(exc: ArangoServerError, ctx: ErrorContext) -> StoreAuthError:
    if exc.http_code == 401:
        msg = (
            f"ArangoDB at {ctx.url} rejected the credentials of user {ctx.username!r} "
            f"({ctx.operation}); check {ctx.password_env} and the user name"
        )
    else:
        msg = (
            f"user {ctx.username!r} lacks the permission for {ctx.operation} in database "
            f"{ctx.database!r} at {ctx.url} ({_server_message(exc)}); grant it as described in "
            "docs/arango.md (Users and least privilege), or run schema operations with "
            "GRAPHRAG_ARANGO__ADMIN_USERNAME/GRAPHRAG_ARANGO__ADMIN_PASSWORD"
        )
    return StoreAuthError(msg)


def _schema_error(exc: ArangoServerError, ctx: ErrorContext) -> SchemaError:
    code = exc.error_code
    if code == ERR_DATABASE_NOT_FOUND:
        msg = f"database {ctx.database!r} does not exist at {ctx.url}; {SCHEMA_HINT} to create it"
    elif code == ERR_GRAPH_NOT_FOUND:
        msg = (
            f"the named graph is missing in database {ctx.database!r} at {ctx.url} "
            f"({_server_message(exc)}); {SCHEMA_HINT}"
        )
    else:
        msg = (
            f"a collection or view is missing in database {ctx.database!r} at {ctx.url} "
            f"({_server_message(exc)}, during {ctx.operation}); {SCHEMA_HINT}"
        )
    return SchemaError(msg)


def status_message(status: int, ctx: ErrorContext, detail: str | None = None) -> str:
    """Return the message of a transient HTTP status (:data:`RETRY_STATUSES`)."""
    said = f" ({detail})" if detail else ""
    target = f" to {ctx.request}" if ctx.request else ""
    tries = f" after {ctx.attempts} tries" if ctx.attempts > 1 else ""
    hint = _STATUS_HINTS.get(status, "retry later")
    return (
        f"ArangoDB at {ctx.url} answered HTTP {status}{said}{target} during {ctx.operation}"
        f"{tries}; {hint}"
    )


def _server_error(exc: ArangoServerError, ctx: ErrorContext) -> StoreError:
    code = exc.error_code
    if exc.http_code in (401, 403) or code == ERR_FORBIDDEN:
        return _auth_error(exc, ctx)
    if code in (ERR_DATABASE_NOT_FOUND, ERR_COLLECTION_NOT_FOUND, ERR_GRAPH_NOT_FOUND):
        return _schema_error(exc, ctx)
    if exc.http_code == 413:
        msg = (
            f"ArangoDB at {ctx.url} refused a request as too large (HTTP 413) during "
            f"{ctx.operation}; lower GRAPHRAG_ARANGO__BATCH_SIZE or GRAPHRAG_CHUNKING__MAX_TOKENS"
        )
        return StoreQueryError(msg)
    if exc.http_code in RETRY_STATUSES and exc.http_code != 500:
        # a proxy's HTML page has no ArangoDB error message: name the status text then
        detail = exc.error_message or exc.response.status_text
        return StoreUnavailableError(status_message(exc.http_code, ctx, detail))
    tries = f" after {ctx.attempts} tries" if ctx.attempts > 1 else ""
    hint = ""
    if exc.http_code == 500:
        tries = f" ({ctx.request}){tries}" if ctx.request else tries
        hint = f"; {_STATUS_HINTS[500]}"
    msg = (
        f"ArangoDB error {code} (HTTP {exc.http_code}) during {ctx.operation} in database "
        f"{ctx.database!r} at {ctx.url}{tries}: {_server_message(exc)}{hint}"
    )
    return StoreQueryError(msg)


def translate_error(exc: BaseException, ctx: ErrorContext) -> GraphRAGError:
    """Return the library error for a failure of python-arango or the transport.

    Args:
        exc: The exception raised while talking to ArangoDB.
        ctx: What was being done, as whom, where.

    Returns:
        ``exc`` itself if it is already a library error; otherwise
        :class:`StoreUnavailableError` (unreachable, timeout, TLS, HTTP 429/502/503/504),
        :class:`StoreAuthError` (HTTP 401/403), :class:`SchemaError` (database, collection,
        view or graph missing) or :class:`StoreQueryError` (anything else, with the ArangoDB
        error number and message).
    """
    if isinstance(exc, GraphRAGError):
        return exc
    status = ctx.status
    if isinstance(exc, CONNECTION_ERRORS) and status is not None and status in RETRY_STATUSES:
        # python-arango turns a 503 whose body is ArangoDB error 503 into a connection error
        return StoreUnavailableError(status_message(status, ctx, ctx.reason))
    if isinstance(exc, CONNECTION_ERRORS) or (
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError)
    ):
        reason = connection_reason(exc, ctx.reason)
        return StoreUnavailableError(f"cannot reach ArangoDB at {ctx.url}: {reason}; {START_HINT}")
    if isinstance(exc, requests.exceptions.RequestException):
        msg = f"invalid request to ArangoDB at {ctx.url} ({exc}); fix GRAPHRAG_ARANGO__URL"
        return StoreUnavailableError(msg)
    if isinstance(exc, ArangoServerError):
        return _server_error(exc, ctx)
    if isinstance(exc, ArangoClientError):
        msg = f"python-arango failed during {ctx.operation} at {ctx.url}: {exc.message}"
        return StoreQueryError(msg)
    msg = f"unexpected failure during {ctx.operation} at {ctx.url}: {type(exc).__name__}: {exc}"
    return StoreQueryError(msg)
