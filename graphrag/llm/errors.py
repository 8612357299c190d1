"""Errors of the LLM tier, all subclasses of :class:`~graphrag.errors.LLMError`.

::

    LLMError
    ├── LLMConfigError          wrong key, unknown model, bad URL (also a ConfigError)
    ├── BudgetExceededError     the next call could exceed llm.max_cost / max_tokens_per_run
    └── LLMTransientError       worth retrying (``retry_after`` when the server said)
        ├── LLMRateLimitError   HTTP 429
        ├── LLMServerError      HTTP 5xx
        ├── LLMTimeoutError     no reply within llm.timeout
        └── LLMUnavailableError the endpoint cannot be reached

Messages never contain the API key: :func:`scrub` removes it from anything a server echoes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from graphrag.errors import ConfigError, LLMError


class LLMConfigError(LLMError, ConfigError):
    """The LLM configuration is wrong (API key, model name, URL); retrying cannot help.

    Both an :class:`LLMError` and a :class:`~graphrag.errors.ConfigError`, so entry points
    report it as a configuration problem (exit code 2).
    """


class LLMTransientError(LLMError):
    """A failure that may pass: the call is retried with backoff.

    Args:
        message: What happened and what to do.
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRateLimitError(LLMTransientError):
    """The server answered 429 (rate limit or quota)."""


class LLMServerError(LLMTransientError):
    """The server answered with a 5xx status."""


class LLMTimeoutError(LLMTransientError):
    """No reply within the timeout."""


class LLMUnavailableError(LLMTransientError):
    """The endpoint could not be reached (connection refused, DNS, TLS)."""


class BudgetExceededError(LLMError):
    """The next call could exceed the run's budget, so it was not made.

    Everything done so far is kept (and cached): raise the budget or rerun later; cached
    calls cost nothing.

    Attributes:
        used: What the run has used (cost, or tokens for a token budget).
        needed: What the refused call could use at most (same unit).
        limit: The budget.
        unit: ``cost`` or ``tokens``.
    """

    def __init__(self, *, used: float, needed: float, limit: float, unit: str) -> None:
        setting = "GRAPHRAG_LLM__MAX_COST" if unit == "cost" else "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN"
        message = (
            f"LLM budget reached: this run has used {_num(used)} {unit} of {_num(limit)} and the "
            f"next call could need up to {_num(needed)} more; nothing was sent. Raise {setting} "
            "or rerun later (replies already received are cached and cost nothing)"
        )
        super().__init__(message)
        self.used = used
        self.needed = needed
        self.limit = limit
        self.unit = unit


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}"


def scrub(text: str, secret: str | None) -> str:
    """Return ``text`` without ``secret`` (and without bearer tokens), cut to 300 characters.

    Example:
        >>> scrub("Incorrect API key provided: sk-123", "sk-123")
        'Incorrect API key provided: ***'
    """
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)
    return text if len(text) <= 300 else text[:297] + "..."


def safe_url(url: str | None) -> str:
    """Return ``url`` without user name and password (for messages and logs).

    Example:
        >>> safe_url("https://user:pw@llm.example.com/v1")
        'https://***@llm.example.com/v1'
    """
    if not url:
        return "<unset>"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))
