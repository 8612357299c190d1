"""The chat-model port and its value types.

:class:`ChatModel` is the small contract the LLM tier (extraction, generated answers, global
search) depends on; adapters implement it (:class:`~graphrag.llm.chat_openai.LangChainChatModel`
for any OpenAI-compatible server, :class:`~graphrag.llm.scripted.ScriptedChatModel` for tests)
and wrappers add behaviour around any of them (retries and a concurrency bound, usage metering
and a budget, a persistent cache). Nothing here touches the network.

Example:
    ```python
    result = await model.complete(
        [ChatMessage.system("Answer briefly."), ChatMessage.user("Capital of France?")],
        max_tokens=32,
        temperature=0.0,
    )
    print(result.text, result.usage.total_tokens, result.cached)

    stream = model.stream([ChatMessage.user("Count to 5")], max_tokens=32, temperature=0.0)
    async for piece in stream:
        print(piece, end="")
    print(stream.result.usage)
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

from graphrag.errors import InvalidArgumentError, LLMError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat message.

    Attributes:
        role: ``system``, ``user`` or ``assistant``.
        content: The text.
    """

    role: Role
    content: str

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        """Return a system message."""
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> ChatMessage:
        """Return a user message."""
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> ChatMessage:
        """Return an assistant message."""
        return cls("assistant", content)


def as_messages(messages: Sequence[ChatMessage | Mapping[str, str]]) -> list[ChatMessage]:
    """Return ``messages`` as :class:`ChatMessage` objects (dicts with role and content too).

    Raises:
        InvalidArgumentError: If a message has an unknown role or no text content.
    """
    result: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, ChatMessage):
            result.append(message)
            continue
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            msg = f"a chat message needs a role in {ROLES} and a text content, got {message!r}"
            raise InvalidArgumentError(msg)
        result.append(ChatMessage(role, content))
    return result


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one call.

    Attributes:
        prompt_tokens: Tokens of the prompt (messages and chat template).
        completion_tokens: Tokens of the reply.
        estimated: ``True`` when the server reported nothing and the figures are estimates.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The reply of one call.

    Attributes:
        text: The reply text, exactly as the model wrote it (malformed output included).
        usage: Token usage (from the server's usage metadata).
        model: The model that replied (as the server names it).
        cached: ``True`` when the reply came from the cache (no call was made, no cost).
        finish_reason: Why generation stopped (``stop``, ``length``...), when known.
    """

    text: str
    usage: Usage
    model: str
    cached: bool = False
    finish_reason: str | None = None

    def as_cached(self) -> ChatResult:
        """Return a copy marked as served from the cache."""
        return replace(self, cached=True)


class ChatStream:
    """An async iterator of reply pieces; :attr:`result` holds the whole reply afterwards.

    Built from a source that yields text pieces and, last, one :class:`ChatResult` (text,
    usage, model). Iterate it once.

    Args:
        source: Text pieces, then the final result.
    """

    def __init__(self, source: AsyncIterator[str | ChatResult]) -> None:
        self._source = source
        self._result: ChatResult | None = None

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> str:
        while True:
            item = await self._source.__anext__()
            if isinstance(item, ChatResult):
                self._result = item
                continue
            if item:
                return item

    @property
    def done(self) -> bool:
        """Whether the stream finished and :attr:`result` is available."""
        return self._result is not None

    @property
    def result(self) -> ChatResult:
        """The whole reply with its usage, once the stream is exhausted.

        Raises:
            LLMError: If the stream has not finished yet.
        """
        if self._result is None:
            msg = "the stream has not finished: iterate it to the end before reading .result"
            raise LLMError(msg)
        return self._result

    async def collect(self) -> ChatResult:
        """Consume the rest of the stream and return :attr:`result`."""
        async for _ in self:
            pass
        return self.result

    async def aclose(self) -> None:
        """Stop the stream early (closes the underlying request)."""
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: messages in, a reply with token usage out.

    Implementations raise :class:`~graphrag.errors.LLMError` (or a subclass from
    :mod:`graphrag.llm.errors`) for every failure, with a message naming what to fix.
    """

    @property
    def model_name(self) -> str:
        """The configured model name (part of every cache key)."""
        ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Return the model's reply to ``messages``.

        Args:
            messages: The conversation, oldest first.
            max_tokens: Most tokens the reply may have.
            temperature: Sampling temperature.
            json_mode: Ask for a JSON object (``response_format``); the text is returned
                as written even when it is not valid JSON.
        """
        ...

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Return the reply as a stream of text pieces (usage in ``.result`` afterwards)."""
        ...

    async def check(self) -> None:
        """Validate the configuration with one cheap request (start-up check).

        Raises:
            LLMError: If the endpoint is unreachable, the key is wrong or the model unknown
                (:class:`~graphrag.llm.errors.LLMConfigError` for the last two).
        """
        ...


_usage_tag: ContextVar[str | None] = ContextVar("graphrag_llm_usage_tag", default=None)


def current_usage_tag() -> str | None:
    """The tag (e.g. a document id) calls are accounted under, or ``None``."""
    return _usage_tag.get()


@contextmanager
def usage_tag(tag: str | None) -> Iterator[None]:
    """Account the LLM calls made inside the block under ``tag`` (e.g. a document id).

    A context variable: tasks started inside the block inherit the tag.

    Example:
        ```python
        with usage_tag(document.id):
            await extractor.extract(chunks)
        meter.by_tag()[document.id].cost
        ```
    """
    token = _usage_tag.set(tag)
    try:
        yield
    finally:
        _usage_tag.reset(token)
