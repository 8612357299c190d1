"""Retries with exponential backoff and full jitter, and a bound on calls in flight.

The project retries in its own loop (:class:`RetryingChatModel`) and builds LangChain's
``ChatOpenAI`` with ``max_retries=0``, because:

- one policy covers every adapter (the scripted model in tests too) and is tested with tiny
  delays, without a server;
- each retry is logged, and the last error is mapped to a message naming the setting to fix;
- the concurrency slot is released while waiting, so a backoff does not block other calls;
- a stream is retried only before its first piece (a retry after that would repeat text).

A server's ``Retry-After`` (429) wins over the computed delay, up to ``max_delay``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from graphrag.errors import InvalidArgumentError
from graphrag.llm.base import ChatMessage, ChatModel, ChatResult, ChatStream
from graphrag.llm.errors import LLMTimeoutError, LLMTransientError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried.

    Attributes:
        max_retries: Retries after the first try (0: no retry).
        base_delay: Seconds before the first retry; doubles each retry.
        max_delay: Longest wait between two tries.
        jitter: ``True`` for full jitter (a uniform wait in ``[0, delay]``), which spreads
            the retries of concurrent callers.
    """

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        Example:
            >>> RetryPolicy(base_delay=0.5, jitter=False).delay(3)
            2.0
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        return random.uniform(0.0, ceiling) if self.jitter else ceiling


def _transient(exc: BaseException) -> LLMTransientError | None:
    if isinstance(exc, LLMTransientError):
        return exc
    if isinstance(exc, TimeoutError):
        return LLMTimeoutError("the chat model did not reply in time; raise GRAPHRAG_LLM__TIMEOUT")
    return None


class RetryingChatModel:
    """Wraps a chat model: retries transient failures and bounds the calls in flight.

    Transient failures are :class:`~graphrag.llm.errors.LLMTransientError` (429, 5xx,
    timeouts, unreachable endpoint) and plain :class:`TimeoutError`; everything else (a wrong
    key, an unknown model, a bad request) is raised at once. After the last retry the last
    error is raised (a ``TimeoutError`` as :class:`~graphrag.llm.errors.LLMTimeoutError`).

    Args:
        inner: The model that makes the calls.
        policy: The retry policy.
        max_concurrency: Most calls of ``inner`` in flight at once (a stream holds its slot
            until it ends).
        sleep: The wait function (tests pass a fake).
    """

    def __init__(
        self,
        inner: ChatModel,
        policy: RetryPolicy | None = None,
        *,
        max_concurrency: int = 4,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            msg = f"max_concurrency must be at least 1, got {max_concurrency}"
            raise InvalidArgumentError(msg)
        self._inner = inner
        self._policy = policy or RetryPolicy()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._sleep = sleep
        self.retries = 0
        """Retries made so far (all calls)."""

    @property
    def model_name(self) -> str:
        """The inner model's name."""
        return self._inner.model_name

    @property
    def inner(self) -> ChatModel:
        """The wrapped model."""
        return self._inner

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Call the inner model, retrying transient failures (see the class docstring)."""
        attempt = 0
        while True:
            try:
                async with self._semaphore:
                    return await self._inner.complete(
                        messages, max_tokens=max_tokens, temperature=temperature,
                        json_mode=json_mode,
                    )  # fmt: skip
            except Exception as exc:
                attempt += 1
                await self._backoff_or_raise(exc, attempt)

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Stream from the inner model; a failure before the first piece is retried."""
        return ChatStream(self._stream(messages, max_tokens, temperature))

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> AsyncIterator[str | ChatResult]:
        attempt = 0
        while True:
            started = False
            try:
                async with self._semaphore:
                    inner = self._inner.stream(
                        messages, max_tokens=max_tokens, temperature=temperature
                    )
                    try:
                        async for piece in inner:
                            started = True
                            yield piece
                    finally:  # closed early (or failed): close the request now, not at GC
                        if not inner.done:
                            await inner.aclose()
                    yield inner.result
                    return
            except Exception as exc:
                if started:
                    raise
                attempt += 1
                await self._backoff_or_raise(exc, attempt)

    async def check(self) -> None:
        """Check the inner model (no retries: a start-up check should fail fast)."""
        await self._inner.check()

    async def _backoff_or_raise(self, exc: Exception, attempt: int) -> None:
        transient = _transient(exc)
        if transient is None:
            raise exc
        if attempt > self._policy.max_retries:
            if transient is exc:
                raise exc
            raise transient from exc
        delay = self._policy.delay(attempt, transient.retry_after)
        logger.warning(
            "LLM call failed (%s); retry %d of %d in %.2f s",
            transient, attempt, self._policy.max_retries, delay,
        )  # fmt: skip
        self.retries += 1
        await self._sleep(delay)
