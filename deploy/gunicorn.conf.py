"""Gunicorn settings for the GraphRAG HTTP API (production: ``docker compose``, systemd).

Run it as::

    gunicorn --config deploy/gunicorn.conf.py "api.main:app_from_env()"

Gunicorn manages the processes; each worker is a uvicorn event loop
(``uvicorn_worker.UvicornWorker``, package ``uvicorn-worker``) serving the FastAPI app built by
the factory ``api.main:app_from_env()``, which reads the ``GRAPHRAG_*`` settings.

Environment variables read here (all optional):

- ``WEB_CONCURRENCY``: worker processes (default 2). Each one loads the spaCy and MiniLM
  models: plan about 2 GB of RAM per worker (docs/operations.md, "Sizing").
- ``PORT`` (default 8000) or ``GUNICORN_BIND`` (e.g. ``127.0.0.1:8000`` or ``unix:/run/x.sock``).
- ``GUNICORN_TIMEOUT`` (default 120 s): a worker whose event loop does not report for this
  long is killed and replaced. With uvicorn workers this is a heartbeat, not a request
  limit: SSE streams and long uploads are not cut by it. It must cover the model loading at
  worker start.
- ``GUNICORN_GRACEFUL_TIMEOUT`` (default 60 s): on stop or reload, a worker has this long to
  finish. Uvicorn waits for open connections (SSE streams, uploads) for the first half at
  most (30 s before the end), then cancels them, so that the app's shutdown still runs: it
  gives running ingest jobs 20 s and marks the rest ``interrupted`` for the next worker to
  resume (api/app.py). Keep the container's ``stop_grace_period`` / systemd's
  ``TimeoutStopSec`` above it.
- ``GUNICORN_KEEPALIVE`` (default 75 s): idle keep-alive connections are held this long;
  longer than the proxy's upstream keep-alive (60 s in deploy/Caddyfile).
- ``GUNICORN_ACCESS_LOG``: ``-`` (stdout, default), a file path, or ``off``.
- ``GUNICORN_LOG_LEVEL`` (default ``info``).
- ``FORWARDED_ALLOW_IPS``: proxies trusted for ``X-Forwarded-For``/``-Proto`` (gunicorn's
  own variable; default ``127.0.0.1,::1``; the compose file sets ``*`` because the API port
  is reachable only on the compose network).
- ``GUNICORN_WORKER_TMP_DIR``: folder of the workers' heartbeat files (default ``/dev/shm``
  when it is writable, so that a slow disk cannot stall the heartbeat).

The access log: uvicorn workers ignore gunicorn's ``access_log_format`` (uvicorn writes its
own fixed line). So this file switches uvicorn's access line off and wraps the app in a small
ASGI middleware (:func:`post_worker_init`) that writes one line per request through gunicorn's
access logger, in :data:`access_log_format`, including the request id: the ``X-Request-ID``
response header, which the API sets on every response (the client's or the proxy's id, or a
new one).
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        msg = f"{name}={raw!r} is not a whole number"
        raise SystemExit(msg) from None
    if value < minimum:
        msg = f"{name}={value} must be at least {minimum}"
        raise SystemExit(msg)
    return value


# --- the app and its workers ------------------------------------------------------------

#: The app factory (gunicorn calls ``module:function()``); the command line may repeat it.
wsgi_app = "api.main:app_from_env()"
worker_class = "uvicorn_worker.UvicornWorker"
workers = _int_env("WEB_CONCURRENCY", 2, 1)
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int_env('PORT', 8000, 1)}"]
# Each worker loads its own models (no preload): torch and spaCy do not survive a fork of a
# process that already started their thread pools.
preload_app = False

# --- timeouts ---------------------------------------------------------------------------

timeout = _int_env("GUNICORN_TIMEOUT", 120, 10)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 60, 35)
keepalive = _int_env("GUNICORN_KEEPALIVE", 75, 1)
#: Seconds uvicorn waits for open connections on shutdown before it cancels them and runs
#: the app's shutdown (set on each worker in :func:`post_worker_init`). The other 30 s are
#: for that shutdown: 20 s for running jobs (api/app.py), then closing the stores.
UVICORN_GRACEFUL_SHUTDOWN = max(graceful_timeout - 30, 5)

# A tmpfs for the heartbeat files, as gunicorn's docs advise (not a place for data).
_SHM = "/dev/shm"  # noqa: S108
_tmp = os.environ.get("GUNICORN_WORKER_TMP_DIR")
if _tmp:
    worker_tmp_dir = _tmp
elif os.path.isdir(_SHM) and os.access(_SHM, os.W_OK):
    worker_tmp_dir = _SHM

# --- logging ----------------------------------------------------------------------------

_access = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip()
accesslog = None if _access.lower() in {"", "off", "none", "false", "0"} else _access
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
#: Gunicorn atoms: ``{x-request-id}o`` is that response header (else the request's),
#: ``L`` the duration in seconds, ``h`` the client address (from X-Forwarded-For when the
#: proxy is trusted).
access_log_format = (
    '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss request_id=%({x-request-id}o)s "%(a)s" %(p)s'
)
proc_name = "graphrag-api"


# --- hooks ------------------------------------------------------------------------------


class AccessLogMiddleware:
    """One gunicorn access-log line per HTTP request, written when the response ends.

    Args:
        app: The ASGI app.
        log: Gunicorn's logger (``worker.log``): its ``access(resp, req, environ,
            request_time)`` formats :data:`access_log_format` with gunicorn's atoms.
    """

    def __init__(self, app: ASGIApp, log: Any) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, counting what is sent; log it when the app returns."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        state: dict[str, Any] = {"status": 500, "headers": [], "sent": 0}

        async def send_and_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["headers"] = list(message.get("headers") or [])
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body") or b"")
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            seconds = time.monotonic() - started
            try:
                self._write(scope, state, seconds)
            except Exception:  # never let logging break a response
                logging.getLogger("gunicorn.error").exception("access log line failed")

    def _write(self, scope: Scope, state: dict[str, Any], seconds: float) -> None:
        environ, request_headers = scope_environ(scope)
        response_headers = _decode(state["headers"])
        if not any(name.lower() == "x-request-id" for name, _ in response_headers):
            # the app did not answer with an id: log the request's (for the log line only)
            response_headers += [(n, v) for n, v in request_headers if n == "x-request-id"]
        response = _Response(state["status"], response_headers, state["sent"])
        self.log.access(response, request_headers, environ, datetime.timedelta(seconds=seconds))


class _Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], sent: int) -> None:
        self.status = str(status)
        self.headers = headers
        self.sent = sent


def _decode(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]


def scope_environ(scope: Scope) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The WSGI-like environ and request headers gunicorn's access atoms read."""
    query = scope.get("query_string", b"").decode("latin-1")
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    raw_uri = raw_path.decode("latin-1") + (f"?{query}" if query else "")
    client = scope.get("client")
    headers = _decode(list(scope.get("headers") or []))
    environ = {
        "REQUEST_METHOD": scope.get("method", "-"),
        "RAW_URI": raw_uri,
        "PATH_INFO": scope.get("path", ""),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0] if client else "-",
    }
    for name, value in headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, headers


def post_worker_init(worker: Any) -> None:
    """Gunicorn hook, in each worker after the app is loaded and before it serves.

    - Bounds uvicorn's wait for open connections on shutdown (see
      :data:`UVICORN_GRACEFUL_SHUTDOWN`); uvicorn-worker does not pass it on.
    - Replaces uvicorn's fixed access line by :class:`AccessLogMiddleware`.
    """
    config = getattr(worker, "config", None)  # uvicorn.Config of a UvicornWorker
    if config is not None and getattr(config, "timeout_graceful_shutdown", 0) is None:
        config.timeout_graceful_shutdown = UVICORN_GRACEFUL_SHUTDOWN
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False
    if accesslog is not None and getattr(worker, "wsgi", None) is not None:
        worker.wsgi = AccessLogMiddleware(worker.wsgi, worker.log)
