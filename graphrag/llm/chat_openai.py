"""The chat-model adapter for any OpenAI-compatible server, over LangChain's ``ChatOpenAI``.

OpenAI, vLLM, Ollama, LM Studio and llama.cpp's server all speak the chat-completions API.
``langchain_openai`` is imported when the adapter is built, never at import time, and building
it makes no request; :meth:`LangChainChatModel.check` makes one cheap request for start-up
validation.

Details that matter with servers other than OpenAI:

- The API key is always passed explicitly (a placeholder when none is set), so an
  ``OPENAI_API_KEY`` of the environment is never sent to another server.
- Recent langchain-openai sends the reply limit as ``max_completion_tokens``, which
  llama.cpp's server ignores (it then writes until the context is full). With
  ``llm.token_limit_field = "both"`` (the default) the limit also goes in ``max_tokens``.
- ``ChatOpenAI`` runs with ``max_retries=0``: :class:`~graphrag.llm.retry.RetryingChatModel`
  retries (see there why).
- LangChain shares one cached async HTTP client per base URL across the whole process,
  bound to the event loop that used it first; a second loop (``asyncio.run`` twice, one test
  loop per test) then fails with "Event loop is closed". The adapter builds one
  ``ChatOpenAI`` per running event loop, each with its own HTTP client.
- A stream that ends without a finish reason (the server or a proxy hung up: no final
  chunk, no ``[DONE]``) is an error, :class:`~graphrag.llm.errors.LLMServerError`, never a
  short reply: it is not cached, and it is retried when no piece was yielded yet.
- Errors are raised ``from None`` outside the ``except`` block: the provider's exception,
  whose text may echo the API key, is neither the ``__cause__`` nor the ``__context__``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from graphrag.config import LLMSettings
from graphrag.errors import LLMError
from graphrag.llm.base import ChatMessage, ChatResult, ChatStream, Usage
from graphrag.llm.errors import (
    LLMConfigError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
    LLMUnavailableError,
    hide_in_http_logs,
    safe_url,
    scrub,
    url_secrets,
)
from graphrag.llm.estimate import estimate_prompt_tokens, estimate_tokens

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_openai import ChatOpenAI

logger = logging.getLogger(__name__)

NO_KEY = "not-needed"
"""Sent as the API key when none is configured (local servers accept anything)."""


def _require(settings: LLMSettings) -> tuple[str, str]:
    if not settings.base_url or not settings.model:
        missing = [
            name
            for name, value in (
                ("GRAPHRAG_LLM__BASE_URL", settings.base_url),
                ("GRAPHRAG_LLM__MODEL", settings.model),
            )
            if not value
        ]
        msg = f"no chat model configured: set {' and '.join(missing)}"
        raise LLMConfigError(msg)
    return settings.base_url, settings.model


class LangChainChatModel:
    """:class:`~graphrag.llm.base.ChatModel` over ``langchain_openai.ChatOpenAI``.

    One request per call, no retries and no cache (wrap it: see
    :func:`graphrag.llm.make_chat_model`). Errors become :class:`~graphrag.errors.LLMError`
    subclasses naming the setting to fix: HTTP 401/403 -> ``GRAPHRAG_LLM__API_KEY``, 404 ->
    ``GRAPHRAG_LLM__MODEL``, unreachable -> ``GRAPHRAG_LLM__BASE_URL``, timeout ->
    ``GRAPHRAG_LLM__TIMEOUT``.

    Args:
        settings: The ``llm`` settings (``base_url`` and ``model`` must be set).
        chat: A prebuilt ``ChatOpenAI`` to use instead (tests).

    Raises:
        LLMConfigError: If ``base_url`` or ``model`` is not set.
    """

    def __init__(self, settings: LLMSettings, *, chat: ChatOpenAI | None = None) -> None:
        self._base_url, self._model = _require(settings)
        self._settings = settings
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self._secrets = (*((key,) if key else ()), *url_secrets(self._base_url))
        hide_in_http_logs(url_secrets(self._base_url))
        self._fixed = chat
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ChatOpenAI] = (
            weakref.WeakKeyDictionary()
        )
        if chat is None:
            self._build()  # validates the settings now; makes no request

    def _build(self) -> ChatOpenAI:
        import openai
        from langchain_openai import ChatOpenAI

        settings = self._settings
        return ChatOpenAI(
            model=self._model,
            base_url=self._base_url,
            api_key=settings.api_key or SecretStr(NO_KEY),
            timeout=settings.timeout,
            max_retries=0,
            temperature=settings.temperature,
            stream_usage=settings.stream_usage,
            use_responses_api=False,
            http_async_client=openai.DefaultAsyncHttpxClient(timeout=settings.timeout),
        )

    @property
    def _chat(self) -> ChatOpenAI:
        """The ``ChatOpenAI`` of the running event loop (built on first use in it)."""
        if self._fixed is not None:
            return self._fixed
        loop = asyncio.get_running_loop()
        chat = self._per_loop.get(loop)
        if chat is None:
            chat = self._per_loop[loop] = self._build()
        return chat

    @property
    def model_name(self) -> str:
        """The configured model name."""
        return self._model

    def _kwargs(self, max_tokens: int, temperature: float, json_mode: bool) -> dict[str, Any]:
        """Per-call parameters of ``ainvoke``/``astream``.

        ``max_tokens`` is renamed ``max_completion_tokens`` by ChatOpenAI; ``extra_body``
        goes into the request JSON unchanged. JSON mode travels in ``extra_body`` too: a
        top-level ``response_format`` makes ChatOpenAI use the structured-output parser,
        which raises on a reply cut by the length limit instead of returning its text.
        """
        field = self._settings.token_limit_field
        extra: dict[str, Any] = {}
        kwargs: dict[str, Any] = {"temperature": temperature}
        if field in ("both", "max_completion_tokens"):
            kwargs["max_tokens"] = max_tokens
        if field in ("both", "max_tokens"):
            extra["max_tokens"] = max_tokens
        if json_mode:
            extra["response_format"] = {"type": "json_object"}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Send one chat-completions request and return the reply with its usage.

        Raises:
            LLMError: A subclass from :mod:`graphrag.llm.errors` naming what to fix.
        """
        kwargs = self._kwargs(max_tokens, temperature, json_mode)
        started = time.perf_counter()
        error: LLMError | None = None
        try:
            message = await self._chat.ainvoke(self._messages(messages), **kwargs)
        except Exception as exc:
            error = self._error(exc)
        if error is not None:  # raised here, not in the except block: no __context__ either
            raise error from None
        result = self._result(message, messages)
        _log_call(result, time.perf_counter() - started)
        return result

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Stream the reply (``data:`` chunks); usage comes with the last chunk."""
        return ChatStream(self._stream(messages, max_tokens, temperature))

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> AsyncIterator[str | ChatResult]:
        kwargs = self._kwargs(max_tokens, temperature, json_mode=False)
        started = time.perf_counter()
        total: AIMessageChunk | None = None
        pieces = 0
        error: LLMError | None = None
        try:
            async for chunk in self._chat.astream(self._messages(messages), **kwargs):
                total = chunk if total is None else total + chunk
                piece = chunk.text
                if piece:
                    pieces += 1
                    yield piece
        except Exception as exc:
            error = self._stream_error(exc, started=total is not None, pieces=pieces)
        if error is not None:  # raised here, not in the except block: no __context__ either
            raise error from None
        if total is None or not (total.response_metadata or {}).get("finish_reason"):
            raise self._cut_off(pieces, "the stream ended without a finish reason or [DONE]")
        result = self._result(total, messages, pieces=pieces)
        _log_call(result, time.perf_counter() - started)
        yield result

    def _stream_error(self, exc: Exception, *, started: bool, pieces: int) -> LLMError:
        """Map a failure of a stream; a connection lost after the first chunk is a cut-off."""
        import openai

        lost = isinstance(exc, openai.APIConnectionError) and not isinstance(
            exc, openai.APITimeoutError
        )
        if started and lost:
            cause = scrub(str(_root_cause(exc)), self._secrets)
            return self._cut_off(pieces, f"the connection was lost: {cause}")
        return self._error(exc)

    def _cut_off(self, pieces: int, how: str) -> LLMServerError:
        """The error of a stream the server cut off (transient: retried if nothing was yielded).

        Once pieces were yielded the caller has shown them: the retry layer raises instead of
        repeating text, and the partial reply is never cached.
        """
        msg = (
            f"the LLM endpoint {self._safe_base} cut off the reply after {pieces} piece(s) "
            f"({how}); the partial reply is not an answer and was not cached. Retry; if it keeps "
            "happening check the server's logs and any proxy's timeouts"
        )
        return LLMServerError(msg)

    def _messages(self, messages: Sequence[ChatMessage]) -> list[BaseMessage]:
        if self._settings.fold_system_prompt:
            messages = fold_system(messages)
        return _to_langchain(messages)

    def _result(
        self, message: AIMessage, messages: Sequence[ChatMessage], *, pieces: int = 0
    ) -> ChatResult:
        """Build the result; without usage metadata the tokens are estimated.

        Servers send about one token per streamed piece (llama.cpp exactly one), some send
        several: the completion estimate is the larger of the piece count and chars/4.
        """
        text = message.text
        metadata = message.response_metadata or {}
        usage_metadata = message.usage_metadata
        if usage_metadata:
            usage = Usage(
                prompt_tokens=int(usage_metadata.get("input_tokens", 0)),
                completion_tokens=int(usage_metadata.get("output_tokens", 0)),
            )
        else:
            completion = max(pieces, estimate_tokens(text))
            usage = Usage(estimate_prompt_tokens(messages), completion, estimated=True)
        return ChatResult(
            text=text,
            usage=usage,
            model=str(metadata.get("model_name") or self._model),
            finish_reason=metadata.get("finish_reason"),
        )

    async def check(self) -> None:
        """Check the endpoint, key and model: list the models, else make a 1-token call.

        A model the server does not list is an error even when the server would accept
        the name: llama.cpp's server answers any model name with the one model it has.

        Raises:
            LLMConfigError: Wrong key (401/403), a model the server does not list (or
                refuses, 404), a URL that is not an OpenAI-compatible API.
            LLMUnavailableError: The endpoint cannot be reached.
            LLMError: Anything else the server reports.
        """
        import openai

        page = None
        error: LLMError | None = None
        try:
            page = await self._chat.root_async_client.models.list()
        except openai.NotFoundError:
            pass  # the fallback call is made below, outside the except block (no __context__)
        except Exception as exc:
            error = self._error(exc)
        if error is not None:
            raise error from None
        if page is None:
            logger.debug("%s has no /models; checking with a 1-token call", self._safe_base)
            await self.complete([ChatMessage.user("ping")], max_tokens=1, temperature=0.0)
            return
        listed = sorted(model.id for model in page.data)
        if listed and not _serves(listed, self._model):
            shown = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
            msg = (
                f"the LLM endpoint {self._safe_base} does not serve model {self._model!r} "
                f"(it lists: {shown}); set GRAPHRAG_LLM__MODEL to one of them"
            )
            raise LLMConfigError(msg)

    @property
    def _safe_base(self) -> str:
        return safe_url(self._base_url)

    def _error(self, exc: Exception) -> LLMError:
        """Map an exception of openai/LangChain to an :class:`LLMError` naming the fix.

        Raise the result ``from None`` outside the ``except`` block: the provider's exception
        may echo the key (its scrubbed text is in the message, its type in the debug log).
        """
        logger.debug("LLM call failed: %s", scrub(f"{type(exc).__name__}: {exc}", self._secrets))
        return map_openai_error(
            exc, base_url=self._base_url, model=self._model, timeout=self._settings.timeout,
            secret=self._secrets,
        )  # fmt: skip


def _serves(listed: Sequence[str], model: str) -> bool:
    """Whether ``model`` is among the listed ids (Ollama lists ``name:latest``)."""
    return any(m == model or m == f"{model}:latest" or m.endswith(f"/{model}") for m in listed)


def map_openai_error(
    exc: Exception,
    *,
    base_url: str | None,
    model: str | None,
    timeout: float,
    secret: str | Sequence[str] | None,
    settings_prefix: str = "GRAPHRAG_LLM__",
    model_setting: str = "MODEL",
    url_setting: str = "BASE_URL",
) -> LLMError:
    """Return the :class:`LLMError` for an exception raised by ``openai``/``ChatOpenAI``.

    The message names the endpoint (without credentials) and the setting to fix; the server's
    own message is kept, scrubbed of the API key. Raise the result ``from None`` and outside
    the ``except`` block, so that ``exc`` (whose text may hold the key) is not chained.

    Args:
        exc: The exception.
        base_url: The endpoint.
        model: The model name.
        timeout: The request timeout (seconds).
        secret: The API key (or several secrets), removed from every message.
        settings_prefix: Prefix of the variables named in messages.
        model_setting: The setting holding the model name.
        url_setting: The setting holding the endpoint.
    """
    import openai

    if isinstance(exc, LLMError):
        return exc
    url = safe_url(base_url)
    names = _Names(settings_prefix, model_setting, url_setting)
    if isinstance(exc, openai.APITimeoutError):
        msg = (
            f"no reply from the LLM endpoint {url} within {timeout:g} s; raise "
            f"{names.timeout} or check the server"
        )
        return LLMTimeoutError(msg)
    if isinstance(exc, openai.APIConnectionError):
        cause = scrub(str(_root_cause(exc)), secret)
        msg = (
            f"cannot reach the LLM endpoint {url} ({cause}); check {names.url} and that the "
            "server is running"
        )
        return LLMUnavailableError(msg)
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, f"the LLM endpoint {url}", model, secret, names)
    detail = scrub(f"{type(exc).__name__}: {exc}", secret)
    if isinstance(exc, ValueError | KeyError | TypeError):
        msg = (
            f"unexpected reply from the LLM endpoint {url} ({detail}); check {names.url} "
            "points to an OpenAI-compatible API"
        )
        return LLMError(msg)
    return LLMError(f"the call to the LLM endpoint {url} failed: {detail}")


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain (LangChain wraps openai's, which wraps httpx's)."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen or not str(inner):
            return exc
        seen.add(id(inner))
        exc = inner


@dataclass(frozen=True)
class _Names:
    prefix: str
    model_setting: str
    url_setting: str

    @property
    def key(self) -> str:
        return f"{self.prefix}API_KEY"

    @property
    def model(self) -> str:
        return f"{self.prefix}{self.model_setting}"

    @property
    def url(self) -> str:
        return f"{self.prefix}{self.url_setting}"

    @property
    def timeout(self) -> str:
        return f"{self.prefix}TIMEOUT"


def _status_error(
    exc: Any, where: str, model: str | None, secret: str | Sequence[str] | None, names: _Names
) -> LLMError:
    status = int(exc.status_code)
    said = scrub(str(getattr(exc, "message", exc)), secret)
    where = f"{where} answered HTTP {status} ({said})"
    if status == 401:
        return LLMConfigError(f"{where}: the API key was refused; set {names.key}")
    if status == 403:
        msg = f"{where}: the key may not use model {model!r}; check {names.key} and {names.model}"
        return LLMConfigError(msg)
    if status == 404:
        msg = (
            f"{where}: unknown model {model!r} or wrong path; set {names.model} to a model "
            f"the server serves and check {names.url} (it usually ends in /v1)"
        )
        return LLMConfigError(msg)
    if status == 429:
        return LLMRateLimitError(
            f"{where}: rate limit; lower {names.prefix}MAX_CONCURRENCY or retry later",
            retry_after=_retry_after(exc),
        )
    if status >= 500:
        return LLMServerError(f"{where}: server error", retry_after=_retry_after(exc))
    return LLMError(f"{where}: the request was refused")


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def fold_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    r"""Move the system messages' text to the start of the first user message.

    Example:
        >>> fold_system([ChatMessage.system("Be brief."), ChatMessage.user("Hi")])
        [ChatMessage(role='user', content='Be brief.\n\nHi')]
    """
    system = [m.content for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    prefix = "\n\n".join(system)
    for index, message in enumerate(rest):
        if message.role == "user":
            rest[index] = ChatMessage.user(f"{prefix}\n\n{message.content}")
            return rest
    return [ChatMessage.user(prefix), *rest]


def _to_langchain(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _log_call(result: ChatResult, seconds: float) -> None:
    logger.debug(
        "LLM %s: %d prompt + %d completion tokens%s in %.2f s (finish: %s)",
        result.model, result.usage.prompt_tokens, result.usage.completion_tokens,
        " (estimated)" if result.usage.estimated else "", seconds, result.finish_reason,
    )  # fmt: skip
