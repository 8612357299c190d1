"""The LLM tier's foundation: a chat-model port, its adapters, and cost control.

- :class:`ChatModel` (the port), :class:`ChatMessage`, :class:`ChatResult`, :class:`Usage`,
  :class:`ChatStream`.
- :func:`make_chat_model`: the configured model (``None`` without an LLM), wrapped in a
  persistent cache, a usage meter with a budget, retries and a concurrency bound.
- Adapters: :class:`LangChainChatModel` (any OpenAI-compatible server, over LangChain's
  ``ChatOpenAI``), :class:`ScriptedChatModel` (tests), :class:`OpenAIEmbedder` (optional
  embeddings provider, :func:`make_llm_embedder`).
- Cost control: :class:`LLMCache`, :class:`CachedChatModel`, :class:`UsageMeter`,
  :class:`MeteredChatModel`, :class:`Budget`, :class:`Pricing`, :func:`usage_tag`,
  :func:`estimate_tokens`, :func:`estimate_run`.

Importing this package loads no LangChain module and touches no network; the two adapters
that need ``langchain_openai`` are imported on first access. See docs/llm.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphrag.llm.base import (
    ChatMessage,
    ChatModel,
    ChatResult,
    ChatStream,
    Usage,
    as_messages,
    current_usage_tag,
    usage_tag,
)
from graphrag.llm.cache import CachedChatModel, LLMCache, cache_key
from graphrag.llm.errors import (
    BudgetExceededError,
    LLMConfigError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
    LLMTransientError,
    LLMUnavailableError,
)
from graphrag.llm.estimate import (
    Estimate,
    Pricing,
    estimate_prompt_tokens,
    estimate_run,
    estimate_tokens,
)
from graphrag.llm.factory import make_chat_model, make_llm_embedder
from graphrag.llm.retry import RetryingChatModel, RetryPolicy
from graphrag.llm.scripted import ScriptedCall, ScriptedChatModel
from graphrag.llm.usage import (
    Budget,
    MeteredChatModel,
    UsageMeter,
    UsageRecord,
    UsageTotals,
    budget_scope,
)

if TYPE_CHECKING:
    from graphrag.llm.chat_openai import LangChainChatModel
    from graphrag.llm.embeddings import OpenAIEmbedder

_LAZY = {
    "LangChainChatModel": "graphrag.llm.chat_openai",
    "OpenAIEmbedder": "graphrag.llm.embeddings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'graphrag.llm' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Budget",
    "BudgetExceededError",
    "CachedChatModel",
    "ChatMessage",
    "ChatModel",
    "ChatResult",
    "ChatStream",
    "Estimate",
    "LLMCache",
    "LLMConfigError",
    "LLMRateLimitError",
    "LLMServerError",
    "LLMTimeoutError",
    "LLMTransientError",
    "LLMUnavailableError",
    "LangChainChatModel",
    "MeteredChatModel",
    "OpenAIEmbedder",
    "Pricing",
    "RetryPolicy",
    "RetryingChatModel",
    "ScriptedCall",
    "ScriptedChatModel",
    "Usage",
    "UsageMeter",
    "UsageRecord",
    "UsageTotals",
    "as_messages",
    "budget_scope",
    "cache_key",
    "current_usage_tag",
    "estimate_prompt_tokens",
    "estimate_run",
    "estimate_tokens",
    "make_chat_model",
    "make_llm_embedder",
    "usage_tag",
]
