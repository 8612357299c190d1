"""Build the configured chat model (and the optional embeddings provider) from settings.

The stack, outermost first: :class:`~graphrag.llm.cache.CachedChatModel` (a rerun makes no
call) -> :class:`~graphrag.llm.usage.MeteredChatModel` (budget check, usage) ->
:class:`~graphrag.llm.retry.RetryingChatModel` (backoff, concurrency bound) ->
:class:`~graphrag.llm.chat_openai.LangChainChatModel` (one HTTP request). Cache hits never
reach the meter's budget check, so a rerun after a budget stop replays the finished calls
for free and continues where it stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphrag.config import LLMSettings, Settings
from graphrag.llm.base import ChatModel
from graphrag.llm.cache import CachedChatModel, LLMCache
from graphrag.llm.retry import RetryingChatModel, RetryPolicy
from graphrag.llm.usage import MeteredChatModel, UsageMeter

if TYPE_CHECKING:
    from graphrag.ports import Embedder


def _llm(settings: Settings | LLMSettings) -> LLMSettings:
    return settings.llm if isinstance(settings, Settings) else settings


def make_chat_model(
    settings: Settings | LLMSettings,
    *,
    meter: UsageMeter | None = None,
    inner: ChatModel | None = None,
) -> ChatModel | None:
    """Return the configured chat model, wrapped for cost control, or ``None``.

    Makes no request (call ``await model.check()`` at start-up to validate the endpoint).

    Args:
        settings: The settings (or their ``llm`` section).
        meter: The run's usage meter (default: a new one with the configured prices and
            budget, reachable as ``model.meter``).
        inner: The model to wrap instead of the OpenAI-compatible adapter (tests pass a
            :class:`~graphrag.llm.scripted.ScriptedChatModel`).

    Returns:
        The model, or ``None`` when no LLM is configured (neither base URL nor model set).

    Raises:
        LLMConfigError: If only one of ``llm.base_url`` and ``llm.model`` is set.
    """
    llm = _llm(settings)
    if inner is None:
        if not llm.base_url and not llm.model:
            return None
        from graphrag.llm.chat_openai import LangChainChatModel

        inner = LangChainChatModel(llm)
    policy = RetryPolicy(llm.max_retries, llm.retry_base_delay, llm.retry_max_delay)
    model: ChatModel = RetryingChatModel(inner, policy, max_concurrency=llm.max_concurrency)
    meter = meter or UsageMeter.from_settings(llm)
    model = MeteredChatModel(model, meter)
    if llm.cache:
        model = CachedChatModel(model, LLMCache(llm.cache_path), meter=meter)
    return model


def make_llm_embedder(settings: Settings | LLMSettings) -> Embedder | None:
    """Return the OpenAI-compatible embedder when ``llm.embedding_provider`` is ``openai``.

    Returns:
        The embedder, or ``None`` for the default bundled MiniLM (build that one as usual).

    Raises:
        ConfigError: If the provider is ``openai`` and a required setting is missing.
    """
    llm = _llm(settings)
    if llm.embedding_provider != "openai":
        return None
    from graphrag.llm.embeddings import OpenAIEmbedder

    return OpenAIEmbedder(llm)
