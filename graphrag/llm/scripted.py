"""A scripted chat model: a real :class:`~graphrag.llm.base.ChatModel` for tests and demos.

It replays a script of replies and exceptions in order, records every call, reports usage
(whitespace-separated words, or figures given in the script) and can take time per call, so
tests meet malformed output, rate limits, timeouts, budgets and concurrency without a server.

Example:
    >>> import asyncio
    >>> from graphrag.llm.errors import LLMRateLimitError
    >>> chat = ScriptedChatModel(['{"broken": ', LLMRateLimitError("slow down"), "fine"])
    >>> r = asyncio.run(chat.complete([ChatMessage.user("Go")], max_tokens=9, temperature=0))
    >>> r.text, r.usage.prompt_tokens, r.usage.completion_tokens
    ('{"broken": ', 1, 1)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from graphrag.errors import LLMError
from graphrag.llm.base import ChatMessage, ChatResult, ChatStream, Usage

ScriptItem = str | ChatResult | BaseException
"""A scripted reply: text, a whole result (own usage, finish reason), or an exception."""

_PIECE = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class ScriptedCall:
    """One recorded call.

    Attributes:
        messages: The messages sent.
        max_tokens: The reply limit asked for.
        temperature: The temperature asked for.
        json_mode: Whether JSON was asked for.
        stream: Whether it was a stream.
    """

    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float
    json_mode: bool
    stream: bool


def count_words(text: str) -> int:
    """Count whitespace-separated words (the scripted model's token count).

    Example:
        >>> count_words("two  words")
        2
    """
    return len(text.split())


class ScriptedChatModel:
    """Replies with scripted texts (or raises scripted exceptions) in order; records calls.

    Usage: prompt tokens = words of all message contents; completion tokens = words of the
    reply (a scripted :class:`ChatResult` brings its own). When the script runs out, it
    repeats the last item if ``repeat_last`` else raises :class:`LLMError`.

    Args:
        script: The replies and exceptions, one per call.
        model_name: The reported model name.
        delay: Seconds each call takes (lets tests see concurrency).
        repeat_last: Keep replying with the last item after the script ends.
        check_error: An exception :meth:`check` raises (default: none).
    """

    def __init__(
        self,
        script: Sequence[ScriptItem],
        *,
        model_name: str = "scripted",
        delay: float = 0.0,
        repeat_last: bool = False,
        check_error: BaseException | None = None,
    ) -> None:
        self._script = list(script)
        self._name = model_name
        self._delay = delay
        self._repeat_last = repeat_last
        self._check_error = check_error
        self.calls: list[ScriptedCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.checks = 0

    @property
    def model_name(self) -> str:
        """The scripted model's name."""
        return self._name

    @property
    def remaining(self) -> int:
        """Script items not used yet."""
        return max(len(self._script) - len(self.calls), 0)

    def _next(self, call: ScriptedCall) -> ScriptItem:
        index = len(self.calls)
        self.calls.append(call)
        if index < len(self._script):
            return self._script[index]
        if self._repeat_last and self._script:
            return self._script[-1]
        msg = (
            f"ScriptedChatModel {self._name!r} has no reply left for call {index + 1} "
            f"({len(self._script)} scripted); script more replies"
        )
        raise LLMError(msg)

    def _result(self, item: str | ChatResult, messages: Sequence[ChatMessage]) -> ChatResult:
        if isinstance(item, ChatResult):
            return item
        prompt = sum(count_words(m.content) for m in messages)
        return ChatResult(item, Usage(prompt, count_words(item)), self._name, finish_reason="stop")

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Return (or raise) the next script item, after ``delay`` seconds."""
        call = ScriptedCall(tuple(messages), max_tokens, temperature, json_mode, stream=False)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self._delay)
            item = self._next(call)
        finally:
            self.in_flight -= 1
        if isinstance(item, BaseException):
            raise item
        return self._result(item, messages)

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Stream the next script item word by word (an exception is raised at the start)."""
        return ChatStream(self._stream(messages, max_tokens, temperature))

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> AsyncIterator[str | ChatResult]:
        call = ScriptedCall(tuple(messages), max_tokens, temperature, False, stream=True)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self._delay)
            item = self._next(call)
            if isinstance(item, BaseException):
                raise item
            result = self._result(item, messages)
            for piece in _PIECE.findall(result.text):
                await asyncio.sleep(0)
                yield piece
        finally:
            self.in_flight -= 1
        yield result

    async def check(self) -> None:
        """Count the check; raise ``check_error`` if one was given."""
        self.checks += 1
        if self._check_error is not None:
            raise self._check_error
