"""Rate limits per caller: one budget (``api.rate_limit``) per API key or token subject.

Why not slowapi's middleware: ``SlowAPIMiddleware`` checks limits *before* FastAPI runs the
route's dependencies, so it cannot know who is calling (authentication is a dependency) and
would count every client behind the reverse proxy as one address. So the per-caller limit is
checked right after authentication, by :func:`api.security.deps.authenticate` (every route
that depends on :func:`~api.security.deps.require` gets it), and answered with a
:class:`RateLimitedError`: 429 in the one error shape with a ``Retry-After`` header, through
the :class:`~api.errors.ApiError` handler the app already installs.

Wiring (in the app factory)::

    limiter = make_limiter(settings)
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, handler)  # only for @limiter.limit routes

Do **not** add ``SlowAPIMiddleware``. A route that needs a stricter limit of its own (an
upload, say) can still use slowapi's decorator, which runs after the dependencies and so is
keyed by the caller too; the route must take a ``request: Request`` parameter::

    @router.post("/v1/documents")
    @limiter.limit("10/minute")
    async def upload(request: Request, principal: Principal = Depends(require(Role.WRITER))):
        ...

That decorator raises slowapi's ``RateLimitExceeded``; answer it in the one shape with
``error_response(request, 429, "rate_limited", ..., rate_limit_response_headers(exc,
request))``.

Counters live in ``api.rate_limit_storage``: ``memory://`` counts per worker process (with N
gunicorn workers a caller may get up to N times the limit); ``redis://host:6379`` shares them
(needs the ``redis`` package).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.requests import Request

from api.errors import ApiError
from api.security.principal import Principal
from graphrag.config import Settings
from graphrag.errors import ConfigError

logger = logging.getLogger("api.security")

STRATEGY = "moving-window"
SCOPE = "principal"
"""One budget per caller, shared by every route."""


class RateLimitedError(ApiError):
    """429: the caller used up its budget; ``Retry-After`` says when to try again."""

    def __init__(self, limit: RateLimitItem, retry_after: int) -> None:
        message = f"rate limit exceeded ({limit}); retry after {retry_after} s"
        super().__init__(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class PrincipalLimiter(Limiter):
    """A slowapi :class:`~slowapi.Limiter` that also holds the per-caller budget.

    Args:
        principal_limits: The budget every caller gets (parsed ``api.rate_limit``).
        **kwargs: Passed to :class:`~slowapi.Limiter`.
    """

    def __init__(self, principal_limits: list[RateLimitItem], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.principal_limits = principal_limits


def rate_limit_key(request: Request) -> str:
    """Who the request counts against: the API key, else the token subject.

    Before authentication (no ``request.state.principal``) it falls back to the client
    address.
    """
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal_key(principal)
    return f"ip:{get_remote_address(request)}"


def principal_key(principal: Principal) -> str:
    """The rate-limit bucket of a principal: ``key:<workspace>:<id>`` or ``sub:<subject>``."""
    if principal.key_id is not None:
        return f"key:{principal.workspace}:{principal.key_id}"
    return f"sub:{principal.subject}"


def make_limiter(settings: Settings) -> PrincipalLimiter:
    """The service's limiter, from ``api.rate_limit`` and ``api.rate_limit_storage``.

    Args:
        settings: The service's settings.

    Returns:
        The limiter to put on ``app.state.limiter``.

    Raises:
        ConfigError: If the limit or the storage is not valid.
    """
    api = settings.api
    try:
        items = list(parse_many(api.rate_limit))
    except ValueError:
        msg = (
            f"GRAPHRAG_API__RATE_LIMIT={api.rate_limit!r} is not a rate limit; "
            "write e.g. '120/minute' or '1000/hour;50/minute'"
        )
        raise ConfigError(msg) from None
    try:
        return PrincipalLimiter(
            items,
            key_func=rate_limit_key,
            strategy=STRATEGY,
            storage_uri=api.rate_limit_storage.get_secret_value(),
            key_style="endpoint",
        )
    except Exception as exc:  # limits raises ConfigurationError or a driver's ImportError
        uri = api.rate_limit_storage.get_secret_value()
        shown = uri.split(":", 1)[0] + "://..."
        detail = str(exc).replace(uri, shown)
        msg = f"GRAPHRAG_API__RATE_LIMIT_STORAGE ({shown}) cannot be used: {detail}"
        raise ConfigError(msg) from None


def enforce_rate_limit(request: Request, principal: Principal) -> None:
    """Count one request against the caller's budget.

    Does nothing when the app has no :class:`PrincipalLimiter` on ``app.state.limiter`` or
    the limiter is disabled. When the counter storage fails, the request is let through
    (and a warning logged): an unreachable Redis must not take the API down.

    Args:
        request: The current request (its app holds the limiter).
        principal: The authenticated caller.

    Raises:
        RateLimitedError: If the caller's budget is used up.
    """
    limiter = getattr(request.app.state, "limiter", None)
    if not isinstance(limiter, PrincipalLimiter) or not limiter.enabled:
        return
    bucket = principal_key(principal)
    for item in limiter.principal_limits:
        try:
            allowed = limiter.limiter.hit(item, bucket, SCOPE)
        except Exception:
            logger.warning("rate limit storage failed; request not counted", exc_info=True)
            return
        if not allowed:
            reset_at, _ = limiter.limiter.get_window_stats(item, bucket, SCOPE)
            raise RateLimitedError(item, _seconds_until(reset_at))


def _seconds_until(moment: float) -> int:
    return max(1, math.ceil(moment - time.time()))


def rate_limit_response_headers(
    exc: RateLimitExceeded, request: Request | None = None
) -> dict[str, str]:
    """The ``Retry-After`` header for slowapi's ``RateLimitExceeded``.

    Args:
        exc: What the ``@limiter.limit`` decorator raised.
        request: The request; with it the exact wait is computed from the limiter's
            counters, without it the limit's whole window is given (an upper bound).

    Returns:
        ``{"Retry-After": "<seconds>"}``.
    """
    item: RateLimitItem | None = exc.limit.limit if exc.limit is not None else None
    seconds = item.get_expiry() if item is not None else 60
    current = getattr(request.state, "view_rate_limit", None) if request else None
    limiter = getattr(request.app.state, "limiter", None) if request else None
    if current is not None and isinstance(limiter, Limiter):
        try:
            reset_at, _ = limiter.limiter.get_window_stats(current[0], *current[1])
            seconds = _seconds_until(reset_at)
        except Exception:
            logger.warning("rate limit storage failed; Retry-After is the window", exc_info=True)
    return {"Retry-After": str(seconds)}
