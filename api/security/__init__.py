"""Authentication, authorisation, audit and rate limits of the HTTP API.

- :mod:`~api.security.principal`: :class:`Role` (reader < writer < admin), :class:`Principal`.
- :mod:`~api.security.tokens`: JWT start-up checks, minting and verification.
- :mod:`~api.security.keys`: API keys (``grk_<workspace>_<id>_<secret>``), hashed in the store.
- :mod:`~api.security.deps`: the FastAPI dependencies :func:`authenticate` and :func:`require`.
- :mod:`~api.security.audit`: the JSON-lines audit log.
- :mod:`~api.security.ratelimit`: the per-caller rate limit.
"""

from __future__ import annotations

from api.security.audit import AuditEvent, AuditLog, redact
from api.security.deps import (
    api_key_scheme,
    authenticate,
    bearer_scheme,
    current_principal,
    require,
    write_audit,
)
from api.security.keys import (
    KEY_PREFIX,
    create_key,
    hash_secret,
    list_keys,
    parse_key,
    revoke_key,
    verify_key,
)
from api.security.principal import Principal, Role, is_workspace_name
from api.security.ratelimit import (
    PrincipalLimiter,
    RateLimitedError,
    enforce_rate_limit,
    make_limiter,
    rate_limit_key,
    rate_limit_response_headers,
)
from api.security.tokens import check_settings, mint_token, verify_token

__all__ = [
    "KEY_PREFIX",
    "AuditEvent",
    "AuditLog",
    "Principal",
    "PrincipalLimiter",
    "RateLimitedError",
    "Role",
    "api_key_scheme",
    "authenticate",
    "bearer_scheme",
    "check_settings",
    "create_key",
    "current_principal",
    "enforce_rate_limit",
    "hash_secret",
    "is_workspace_name",
    "list_keys",
    "make_limiter",
    "mint_token",
    "parse_key",
    "rate_limit_key",
    "rate_limit_response_headers",
    "redact",
    "require",
    "revoke_key",
    "verify_key",
    "verify_token",
    "write_audit",
]
