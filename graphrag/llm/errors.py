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

Messages never contain the API key: :func:`scrub` removes it from anything a server echoes,
and :func:`safe_url` shows an endpoint without credentials or query string. Adapters raise
these errors ``from None`` and outside the ``except`` block, so the provider's exception
(whose text may hold the key) is neither ``__cause__`` nor ``__context__``: a traceback
printed by uvicorn shows only the scrubbed message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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


def scrub(text: str, secret: str | Iterable[str] | None) -> str:
    """Return ``text`` without ``secret`` (and without bearer tokens), cut to 300 characters.

    ``secret`` may be several secrets (the API key and what :func:`url_secrets` finds in the
    base URL); each is replaced, longest first.

    Example:
        >>> scrub("Incorrect API key provided: sk-123", "sk-123")
        'Incorrect API key provided: ***'
        >>> scrub("key sk-123 at ?api-key=abcd", ["sk-123", "abcd"])
        'key *** at ?api-key=***'
    """
    secrets = [secret] if isinstance(secret, str) else list(secret or ())
    for value in sorted(secrets, key=len, reverse=True):
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    text = re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)
    return text if len(text) <= 300 else text[:297] + "..."


def url_secrets(url: str | None) -> tuple[str, ...]:
    """Return what in ``url`` could be a credential: user name, password, query values.

    For :func:`scrub`, in case a server or a library echoes the URL.

    Example:
        >>> url_secrets("https://llm.example.com/v1?api-key=s3cr3t&v=1")
        ('s3cr3t', '1')
    """
    if not url:
        return ()
    try:
        parts = urlsplit(url)
        found = [parts.username, parts.password]
    except ValueError:
        return ()
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    return tuple(value for value in found if value)


def safe_url(url: str | None) -> str:
    """Return ``url`` without user name, password and query string (for messages and logs).

    A query string may hold a key (``?api-key=...``): it is shown as ``?***``.

    Example:
        >>> safe_url("https://user:pw@llm.example.com/v1")
        'https://***@llm.example.com/v1'
        >>> safe_url("https://llm.example.com/v1?api-key=s3cr3t")
        'https://llm.example.com/v1?***'
    """
    if not url:
        return "<unset>"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    parts = parts._replace(query="***" if parts.query else "", fragment="")
    if "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"***@{host}")
    return urlunsplit(parts)


class _HideSecrets(logging.Filter):
    """Replaces known secrets in a log record's message with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for value in sorted(self.secrets, key=len, reverse=True):
                message = message.replace(value, "***")
            record.msg, record.args = message, None
        return True


_HTTP_LOG_FILTER = _HideSecrets()

HTTP_LOGGERS = ("httpx", "httpx2")
"""Loggers that write request URLs (recent ``openai`` releases use the ``httpx2`` fork)."""


def hide_in_http_logs(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in the HTTP client's log lines (it logs every request URL at INFO).

    For credentials in a base URL's query string (``?api-key=...``); idempotent.
    """
    values = {value for value in secrets if len(value) >= 4}
    if not values:
        return
    _HTTP_LOG_FILTER.secrets |= values
    for name in HTTP_LOGGERS:
        http_logger = logging.getLogger(name)
        if _HTTP_LOG_FILTER not in http_logger.filters:
            http_logger.addFilter(_HTTP_LOG_FILTER)
