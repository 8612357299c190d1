"""Settings of answers and of the optional LLM (``GRAPHRAG_ANSWER__*``, ``GRAPHRAG_LLM__*``).

Sections of :class:`graphrag.config.Settings` (re-exported there). The API key is a
:class:`~pydantic.SecretStr`: never printed, never logged. See docs/llm.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["AnswerSettings", "LLMSettings"]


class AnswerSettings(BaseModel):
    """Answers: the extractive answerer's floor, the LLM answerer's prompt budget, global search."""

    model_config = ConfigDict(extra="forbid")

    min_relevance: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="Relevance floor: below it the answer abstains with a note instead of "
        "quoting unrelated passages (relevance = 0.75 x best question-sentence cosine + "
        "0.25 x share of question words found; calibrated in docs/evaluation.md). 0 disables.",
    )
    context_tokens: int = Field(
        default=2000,
        ge=100,
        description="LLM answers: most estimated tokens of sources and graph facts in a prompt "
        "(keep it, the instructions and llm.max_tokens within the model's context window).",
    )
    global_communities: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Global search: community summaries an answer draws on (with an LLM: one "
        "map call each, then one reduce call).",
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible chat model (optional), its cost control and embeddings provider.

    Read by :func:`graphrag.llm.make_chat_model` (see docs/llm.md). Without ``base_url`` and
    ``model`` no LLM is used and everything runs offline.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1."
    )
    model: str | None = Field(default=None, description="Model name at that endpoint.")
    api_key: SecretStr | None = Field(
        default=None, description="API key, if needed (a secret: prefer the environment)."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    timeout: float = Field(default=60.0, gt=0, description="Request timeout in seconds.")
    max_tokens: int = Field(
        default=1024, ge=1, description="Most tokens a reply may have (per call)."
    )
    token_limit_field: Literal["both", "max_tokens", "max_completion_tokens"] = Field(
        default="both",
        description="How the reply limit is sent: both (max_completion_tokens and max_tokens: "
        "servers such as llama.cpp ignore the first), max_tokens, or max_completion_tokens "
        "(OpenAI reasoning models reject max_tokens).",
    )
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a call after 429, 5xx or a timeout."
    )
    retry_base_delay: float = Field(
        default=1.0,
        ge=0,
        description="Seconds before the first retry; doubles each retry, with full jitter "
        "(a server's Retry-After wins).",
    )
    retry_max_delay: float = Field(default=30.0, ge=0, description="Longest wait between tries.")
    max_concurrency: int = Field(
        default=4, ge=1, le=256, description="Most calls in flight at once (per process)."
    )
    fold_system_prompt: bool = Field(
        default=False,
        description="Send system messages as the start of the first user message, for chat "
        "templates without a system role (llama.cpp's gemma format drops system messages).",
    )
    stream_usage: bool = Field(
        default=True,
        description="Ask for token usage in the last streamed chunk (stream_options); "
        "turn off for servers that reject it (usage is then estimated).",
    )
    cache: bool = Field(
        default=True, description="Keep every reply in a persistent cache (reruns are free)."
    )
    cache_path: Path = Field(
        default=Path(".graphrag/llm_cache.db"), description="SQLite file of the reply cache."
    )
    price_per_1k_prompt: float = Field(
        default=0.0, ge=0, description="Price of 1,000 prompt tokens (any currency; 0: free)."
    )
    price_per_1k_completion: float = Field(
        default=0.0, ge=0, description="Price of 1,000 completion tokens (same currency)."
    )
    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="Budget of one run in that currency: a call that could exceed it is not "
        "made (BudgetExceededError). Unset: no limit.",
    )
    max_tokens_per_run: int | None = Field(
        default=None,
        ge=1,
        description="Budget of one run in tokens (prompt + completion). Unset: no limit.",
    )
    community_reports: bool = Field(
        default=True,
        description="graphrag analyze: have the LLM write each community's report (title, "
        "summary, findings citing members) instead of the extractive summary.",
    )
    max_community_reports: int = Field(
        default=100,
        ge=0,
        description="graphrag analyze: most communities (largest first) given an LLM report; "
        "the others keep their extractive summary. 0: none.",
    )
    embedding_provider: Literal["bundled", "openai"] = Field(
        default="bundled",
        description="Embeddings: bundled (the local MiniLM) or openai (an OpenAI-compatible "
        "/embeddings endpoint; needs embedding_model and embedding_dim).",
    )
    embedding_model: str | None = Field(
        default=None, description="Embedding model name at the endpoint (provider openai)."
    )
    embedding_base_url: str | None = Field(
        default=None, description="Embeddings endpoint (default: base_url)."
    )
    embedding_dim: int | None = Field(
        default=None, ge=1, description="Vector dimension of embedding_model (provider openai)."
    )
    embedding_batch_size: int = Field(
        default=256, ge=1, le=4096, description="Texts per embeddings request."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_urls(cls, data: Any) -> Any:
        """Refuse a user name or password in ``base_url``/``embedding_base_url``.

        Such a URL would be shown by ``graphrag config show`` and logged by httpx on every
        request; the key belongs in ``api_key``. The error's input is this section, shown in
        the chained ``ValidationError``: it is masked in place before raising (the refused URL
        without its credentials, the API key as a ``SecretStr``).
        """
        if not isinstance(data, dict):
            return data
        refused = [
            name
            for name in ("base_url", "embedding_base_url")
            if isinstance(data.get(name), str) and _has_credentials(data[name])
        ]
        if not refused:
            return data
        for name in refused:
            data[name] = _without_credentials(data[name])
        if isinstance(data.get("api_key"), str):
            data["api_key"] = SecretStr(data["api_key"])
        names = " and ".join(f"llm.{name} (GRAPHRAG_LLM__{name.upper()})" for name in refused)
        msg = (
            f"{names} must not contain a user name or password (user:password@host): "
            "remove them from the URL and put the key in GRAPHRAG_LLM__API_KEY (sent as a "
            "bearer token)"
        )
        raise ValueError(msg)

    @model_validator(mode="after")
    def _cost_budget_has_prices(self) -> LLMSettings:
        if self.max_cost is not None and not (
            self.price_per_1k_prompt or self.price_per_1k_completion
        ):
            msg = (
                "llm.max_cost is set but both prices are 0, so every call costs 0 and the "
                "budget never stops anything: set GRAPHRAG_LLM__PRICE_PER_1K_PROMPT and "
                "GRAPHRAG_LLM__PRICE_PER_1K_COMPLETION, or limit tokens with "
                "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _openai_embeddings_complete(self) -> LLMSettings:
        if self.embedding_provider != "openai":
            return self
        missing = [
            f"GRAPHRAG_LLM__{name.upper()}"
            for name, value in (
                ("embedding_model", self.embedding_model),
                ("embedding_dim", self.embedding_dim),
                ("embedding_base_url", self.embedding_base_url or self.base_url),
            )
            if not value
        ]
        if missing:
            msg = f"llm.embedding_provider is 'openai' but {', '.join(missing)} is not set"
            raise ValueError(msg)
        return self

    @property
    def enabled(self) -> bool:
        """Whether an LLM is configured."""
        return bool(self.base_url and self.model)


def _has_credentials(url: str) -> bool:
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:  # e.g. an unclosed IPv6 bracket: look at the authority by hand
        return "@" in url.partition("//")[2].partition("/")[0]


def _without_credentials(url: str) -> str:
    """``url`` with its user name and password as ``***`` (for the validation error's input)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a URL with credentials>"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}", query="***" if parts.query else ""))
