"""One error shape for every failure: ``{"error": {"code", "message", "request_id"}}``.

Library errors map to HTTP statuses here, once; no stack trace ever reaches a client (an
unexpected exception is logged with the request id and answered 500 ``internal``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphrag.errors import (
    ConfigError,
    GraphRAGError,
    IngestError,
    InvalidArgumentError,
    InvalidGraphError,
    InvalidQueryError,
    LLMError,
    NotFoundError,
    SchemaError,
    StoreAuthError,
    StoreUnavailableError,
)
from graphrag.llm.errors import BudgetExceededError, LLMTransientError

logger = logging.getLogger("api")


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable code.

    Args:
        status: HTTP status code.
        code: Stable code (``unauthorized``, ``forbidden``, ``not_found``...).
        message: What was wrong and what to do; never a secret.
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class AuthError(ApiError):
    """401: no credentials, or invalid, expired or revoked ones."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(ApiError):
    """403: valid credentials whose role does not allow the action."""

    def __init__(self, message: str) -> None:
        super().__init__(403, "forbidden", message)


_LIBRARY: list[tuple[type[GraphRAGError], int, str]] = [
    (BudgetExceededError, 429, "llm_budget"),
    (LLMTransientError, 503, "llm_unavailable"),
    (LLMError, 502, "llm_error"),
    (NotFoundError, 404, "not_found"),
    (InvalidQueryError, 422, "invalid_query"),
    (InvalidArgumentError, 422, "invalid_argument"),
    (InvalidGraphError, 422, "invalid_graph"),
    (IngestError, 422, "invalid_input"),
    (ConfigError, 422, "invalid_config"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (StoreAuthError, 503, "store_unavailable"),
    (SchemaError, 503, "store_schema"),
]


def library_status(exc: GraphRAGError) -> tuple[int, str]:
    """Return the HTTP status and code of a library error (500 ``store_error`` otherwise)."""
    for kind, status, code in _LIBRARY:
        if isinstance(exc, kind):
            return status, code
    return 500, "server_error"


def request_id_of(request: Request) -> str:
    """The request id the middleware set (``-`` outside a request)."""
    return str(getattr(request.state, "request_id", "-"))


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response in the one shape, with the request id header."""
    rid = request_id_of(request)
    merged = {"X-Request-ID": rid, **(headers or {})}
    return JSONResponse(error_body(code, message, rid), status_code=status, headers=merged)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one error shape."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(GraphRAGError)
    async def _library(request: Request, exc: GraphRAGError) -> JSONResponse:
        status, code = library_status(exc)
        if status >= 500:
            logger.error("request %s failed: %s", request_id_of(request), exc)
        return error_response(request, status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return error_response(request, 400, "bad_request", "the body is not valid JSON")
        return error_response(request, 422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s failed unexpectedly", request_id_of(request))
        return error_response(
            request,
            500,
            "internal",
            "internal error; the request id identifies it in the service log",
        )
