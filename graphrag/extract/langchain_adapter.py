"""A LangChain ``BaseChatModel`` over the project's :class:`~graphrag.llm.ChatModel` port.

LangChain components (``LLMGraphTransformer`` here, any chain elsewhere) take a LangChain chat
model; :class:`PortChatModel` lets them use the project's stack, so **every call goes through
the persistent cache, the usage meter and budget, the retries and the concurrency bound**.
It is asynchronous only (``ainvoke``, ``agenerate``): the stack's concurrency bound lives on
the running event loop. Stop sequences are not supported (the port has none) and LangChain's
own cache is off (the port's cache is the one that counts).

The text of every reply is also appended to the list installed with :func:`capture_replies`,
so a caller can check what the model really wrote after a LangChain parser has digested it.

Example:
    ```python
    chat = PortChatModel(model=make_chat_model(settings), max_tokens=512)
    reply = await chat.ainvoke("Name three rivers.")
    reply.content, reply.usage_metadata
    ```
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.outputs import ChatResult as LangChainResult
from pydantic import ConfigDict, Field

from graphrag.errors import InvalidArgumentError, LLMError
from graphrag.llm.base import ChatMessage, ChatModel, Role

_ROLES: dict[str, Role] = {"system": "system", "human": "user", "ai": "assistant"}
_replies: ContextVar[list[str] | None] = ContextVar("graphrag_port_replies", default=None)


@contextmanager
def capture_replies() -> Iterator[list[str]]:
    """Collect the text of every reply :class:`PortChatModel` receives inside the block.

    A context variable: calls made by tasks started inside the block are collected too.
    """
    replies: list[str] = []
    token = _replies.set(replies)
    try:
        yield replies
    finally:
        _replies.reset(token)


def to_port_messages(messages: Sequence[BaseMessage]) -> list[ChatMessage]:
    """Convert LangChain messages (system, human, ai) to the port's messages.

    Raises:
        InvalidArgumentError: For other message kinds (tool, function) or non-text content.
    """
    result: list[ChatMessage] = []
    for message in messages:
        role = _ROLES.get(message.type)
        if role is None:
            msg = f"the chat-model port takes system, human and ai messages, not {message.type!r}"
            raise InvalidArgumentError(msg)
        result.append(ChatMessage(role, _text(message.content)))
    return result


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            msg = "the chat-model port takes text content only (no images or tool blocks)"
            raise InvalidArgumentError(msg)
    return "".join(parts)


class PortChatModel(BaseChatModel):
    """LangChain chat model that sends every call through a :class:`ChatModel`.

    Attributes:
        model: The port's model (build it with :func:`graphrag.llm.make_chat_model`).
        max_tokens: Reply limit of each call.
        temperature: Sampling temperature of each call.
        json_mode: Ask the server for a JSON object.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any = Field(exclude=True)
    max_tokens: int = 512
    temperature: float = 0.0
    json_mode: bool = False
    cache: bool | None = False  # the port's cache is the one that counts

    @property
    def _llm_type(self) -> str:
        return "graphrag-chat-model-port"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        name = getattr(self.model, "model_name", "?")
        return {"model": name, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LangChainResult:
        msg = (
            "PortChatModel is asynchronous only: use ainvoke/agenerate (the chat-model stack's "
            "concurrency bound lives on the running event loop)"
        )
        raise LLMError(msg)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LangChainResult:
        model: ChatModel = self.model
        result = await model.complete(
            to_port_messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            json_mode=self.json_mode,
        )
        replies = _replies.get()
        if replies is not None:
            replies.append(result.text)
        usage = result.usage
        message = AIMessage(
            content=result.text,
            usage_metadata={
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
            response_metadata={
                "model_name": result.model,
                "finish_reason": result.finish_reason,
                "cached": result.cached,
            },
        )
        return LangChainResult(generations=[ChatGeneration(message=message)])
