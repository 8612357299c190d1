"""A tiny OpenAI-compatible HTTP server on a loopback port, for adapter tests.

It answers ``GET /v1/models``, ``POST /v1/chat/completions`` (JSON or ``data:`` SSE chunks)
and ``POST /v1/embeddings`` from a queue of scripted replies, and records every request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted HTTP reply."""

    status: int = 200
    body: Any = None
    chunks: list[dict[str, Any]] | None = None  # SSE stream when set
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: str | None = None  # "close" or "chunked": the stream stops early (see stream_cut)


@dataclass
class Request:
    """One recorded request."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def completion(
    text: str,
    *,
    prompt: int = 7,
    completion: int = 3,
    model: str = "stub-model",
    finish: str = "stop",
) -> Reply:
    """A 200 chat completion with usage."""
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def error(status: int, message: str, **headers: str) -> Reply:
    """An error in OpenAI's shape."""
    return Reply(
        status=status,
        body={"error": {"message": message, "type": "error", "code": None}},
        headers=headers,
    )


def stream(
    pieces: list[str], *, prompt: int = 5, usage: bool = True, model: str = "stub-model"
) -> Reply:
    """A streamed completion: one chunk per piece, then (optionally) a usage-only chunk."""
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": model}
    chunks = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        n = len(pieces)
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": n,
                    "total_tokens": prompt + n,
                },
            }
        )
    return Reply(chunks=chunks)


def stream_cut(pieces: list[str], *, how: str = "close", model: str = "stub-model") -> Reply:
    """A stream the server cuts off: a few chunks, no finish reason, no ``[DONE]``.

    ``how="close"``: the body is delimited by the connection (HTTP/1.0), so the client sees
    a clean end of body. ``how="chunked"``: chunked encoding whose final chunk never comes,
    so the client sees a broken body (a transport error).
    """
    reply = stream(pieces, usage=False, model=model)
    chunks = reply.chunks or []
    reply.chunks = [c for c in chunks if c["choices"] and not c["choices"][0]["finish_reason"]]
    reply.cut = how
    return reply


class StubServer:
    """The server: ``url`` ends in ``/v1``; push replies with :meth:`add`."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.models: list[str] | None = ["stub-model"]
        self.requests: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _record(self, body: Any) -> None:
                server.requests.append(
                    Request(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )

            def do_GET(self) -> None:
                self._record(None)
                if self.path.endswith("/models") and server.models is not None:
                    if server.replies and server.replies[0].status in (401, 403):
                        self._send(server.replies.popleft())
                        return
                    data = [{"id": m, "object": "model", "owned_by": "stub"} for m in server.models]
                    self._send(Reply(body={"object": "list", "data": data}))
                    return
                self._send(error(404, "not found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                self._record(body)
                if not server.replies:
                    self._send(error(500, "stub: no reply scripted"))
                    return
                self._send(server.replies.popleft())

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    if reply.chunks is not None:
                        self._send_stream(reply)
                        return
                    data = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _send_stream(self, reply: Reply) -> None:
                chunked = reply.cut == "chunked"
                if chunked:
                    self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in reply.chunks or []]
                if reply.cut is None:
                    events.append(b"data: [DONE]\n\n")
                for event in events:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event) if chunked else event)
                    self.wfile.flush()
                if reply.cut is not None:  # hang up: no [DONE] (and no final 0-size chunk)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler
