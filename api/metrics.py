"""Prometheus metrics (``prometheus-client``) and the request middleware.

The middleware gives every request an id (the client's ``X-Request-ID`` when it is a short
token, a new one otherwise), returns it in the ``X-Request-ID`` header, puts it in every log
line of the request, and counts and times the request by route template (``/v1/jobs/{job_id}``,
never the raw path, so ids do not explode the label space).

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder: each
worker writes its samples there and ``/metrics`` aggregates them (the client's multiprocess
mode).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import secrets
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

REQUESTS = Counter(
    "graphrag_http_requests_total",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "graphrag_http_request_seconds",
    "HTTP request latency by route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
INGESTED = Counter(
    "graphrag_ingested_documents_total", "Documents written by ingest jobs.", ["workspace"]
)
INGEST_FAILURES = Counter(
    "graphrag_ingest_failed_inputs_total", "Inputs of ingest jobs that failed.", ["workspace"]
)
JOBS = Gauge(
    "graphrag_jobs",
    "Jobs by state in the workspaces this process serves (at the last scrape).",
    ["state"],
    multiprocess_mode="max",
)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the attribute; never drops a record."""
        record.request_id = REQUEST_ID.get()
        return True


def _route_of(scope: Scope) -> str:
    """The matched route's path template (the router records it in the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestMiddleware:
    """Request id, access metrics and timing for every HTTP request (pure ASGI: streams pass)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Request(scope).headers.get("x-request-id", "")
        rid = given if _CLIENT_ID.match(given) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        token = REQUEST_ID.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", "GET"))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - start)
            REQUEST_ID.reset(token)


def metrics_response() -> Response:
    """The Prometheus exposition of this process (or of all workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
