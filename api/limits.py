"""Request body limit, answered in the one error shape (``413 payload_too_large``).

A declared ``Content-Length`` over the limit is refused before the body is read; a body sent
without one (chunked) is counted as it arrives and refused as soon as it passes the limit.
Runs inside the request-id middleware, so the refusal carries the request id and is counted
in the metrics.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than {limit} bytes (api.max_body_bytes); send fewer or "
        "smaller files per request"
    )


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the bytes that arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            reply = error_response(
                Request(scope), 413, "payload_too_large", _too_large(self.max_bytes)
            )
            await reply(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # handled as a 413 by the app's handlers
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counting_receive, send)
