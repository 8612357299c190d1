"""Request timeout: a request that has not started its response after ``seconds`` gets 504.

Only the time before the response starts counts, so Server-Sent Event streams may run as
long as they stream. A cancelled handler leaves the store consistent: every store write is
one transaction, committed or rolled back as a whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

logger = logging.getLogger("api")


class TimeoutMiddleware:
    """Answer 504 ``timeout`` when a handler takes longer than ``seconds`` to respond."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request under the deadline."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()

        async def send_marking(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, send_marking))
        waiter = asyncio.ensure_future(started.wait())
        done, _ = await asyncio.wait(
            {handler, waiter}, timeout=self.seconds, return_when=asyncio.FIRST_COMPLETED
        )
        if done:
            waiter.cancel()
            await handler
            return
        handler.cancel()
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await handler
        rid = str(scope.get("state", {}).get("request_id", "-"))
        logger.warning("request %s timed out after %.0f s", rid, self.seconds)
        await _send_timeout(send, rid, self.seconds)


async def _send_timeout(send: Send, rid: str, seconds: float) -> None:
    message = (
        f"the request took longer than {seconds:g} s (api.request_timeout) and was stopped; "
        "nothing partial was written; retry, narrow the request, or raise "
        "GRAPHRAG_API__REQUEST_TIMEOUT"
    )
    body = json.dumps(error_body("timeout", message, rid)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 504,
            "headers": [(b"content-type", b"application/json"), (b"x-request-id", rid.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
