"""FastAPI dependencies: who is calling (:func:`authenticate`) and may they (:func:`require`).

Credentials: ``Authorization: Bearer <JWT or API key>`` or ``X-API-Key: <API key>`` (API
keys start with ``grk_``). The app provides on ``app.state``: ``settings``
(:class:`~graphrag.config.Settings`), ``workspaces`` (an object with ``async get(name)``
returning the workspace's :class:`~graphrag.facade.GraphRAG`, whose
``components.store`` holds the API keys), ``audit`` (an :class:`~api.security.audit.AuditLog`)
and optionally ``limiter`` (:func:`~api.security.ratelimit.make_limiter`).

Use in a route::

    @router.post("/v1/documents")
    async def upload(principal: Annotated[Principal, Depends(require(Role.WRITER))]): ...

The two security schemes below make ``/docs`` show the lock and the *Authorize* button.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import AuthError, ForbiddenError, request_id_of
from api.security.audit import AuditEvent, AuditLog
from api.security.keys import KEY_PREFIX, parse_key, verify_key
from api.security.principal import Principal, Role
from api.security.ratelimit import enforce_rate_limit
from api.security.tokens import verify_token
from graphrag.config import Settings
from graphrag.errors import NotFoundError
from graphrag.ports import ApiKeyStore

logger = logging.getLogger("api.security")

MISSING_CREDENTIALS = "missing credentials: send Authorization: Bearer <token> or X-API-Key"
API_KEY_HEADER = "X-API-Key"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerAuth",
    bearerFormat="JWT",
    description="A JSON Web Token (`graphrag token`), or an API key (`grk_...`).",
)
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="ApiKeyAuth",
    description="An API key: `grk_<workspace>_<id>_<secret>`.",
)


def _credential(request: Request) -> str:
    """The credential the client sent: a Bearer value, else the ``X-API-Key`` header."""
    authorization = request.headers.get("Authorization", "").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get(API_KEY_HEADER, "").strip()
    if key:
        return key
    if authorization and scheme.lower() != "bearer":
        raise AuthError("unsupported Authorization scheme: send Authorization: Bearer <token>")
    raise AuthError(MISSING_CREDENTIALS)


async def _key_store(request: Request, workspace: str) -> ApiKeyStore:
    """The store of the workspace an API key names; an unknown workspace is an unknown key.

    When the workspace manager has an ``exists(name)`` method it is asked first, so that a
    request with a made-up key never opens (or creates) a workspace.
    """
    manager = request.app.state.workspaces
    exists = getattr(manager, "exists", None)
    if callable(exists):
        found = exists(workspace)
        if inspect.isawaitable(found):
            found = await found
        if not found:
            raise AuthError("unknown API key")
    try:
        rag = await manager.get(workspace)
    except NotFoundError:
        raise AuthError("unknown API key") from None
    store: ApiKeyStore = rag.components.store
    return store


async def _verify(request: Request, credential: str) -> Principal:
    if credential.startswith(KEY_PREFIX):
        workspace, _, _ = parse_key(credential)
        return await verify_key(await _key_store(request, workspace), credential)
    settings: Settings = request.app.state.settings
    return verify_token(settings, credential)


def write_audit(request: Request, event: AuditEvent) -> None:
    """Write ``event`` to the app's audit log (logged as a warning when there is none)."""
    log = getattr(request.app.state, "audit", None)
    if isinstance(log, AuditLog):
        log.write(event)
    else:
        logger.warning("no audit log on app.state; event %s not recorded", event.action)


def _failure_detail(request: Request, credential: str | None) -> dict[str, Any]:
    """What may be kept of a failed attempt: the client address and the claimed key id."""
    detail: dict[str, Any] = {"client": request.client.host if request.client else "-"}
    if credential is None:
        return detail
    if credential.startswith(KEY_PREFIX):
        detail["via"] = "api_key"
        with contextlib.suppress(AuthError):
            detail["claimed_workspace"], detail["claimed_key_id"], _ = parse_key(credential)
    else:
        detail["via"] = "jwt"
    return detail


async def authenticate(request: Request) -> Principal:
    """Authenticate the request's credentials (once per request) and count it.

    Sets ``request.state.principal``; a second call in the same request returns it. After
    success the caller's rate limit is checked (:func:`~api.security.ratelimit.enforce_rate_limit`).

    Args:
        request: The current request.

    Returns:
        Who is calling.

    Raises:
        AuthError: 401 when credentials are missing or invalid (written to the audit log as
            ``auth.failure`` with the reason, never with the credential).
        RateLimitedError: 429 when the caller's budget is used up.
    """
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    credential: str | None = None
    try:
        credential = _credential(request)
        principal = await _verify(request, credential)
    except AuthError as exc:
        event = AuditEvent(
            request_id=request_id_of(request),
            action="auth.failure",
            target=request.url.path,
            result=exc.message,
            detail=_failure_detail(request, credential),
        )
        write_audit(request, event)
        raise
    request.state.principal = principal
    enforce_rate_limit(request, principal)
    return principal


def require(role: Role, *, action: str | None = None) -> Callable[..., Awaitable[Principal]]:
    """A dependency: authenticate, then refuse callers whose role is below ``role``.

    Args:
        role: The least role the route needs.
        action: What the route does, for the 403 message and the audit line
            (``document.upload``); by default the method and path.

    Returns:
        The dependency, for ``Depends(require(Role.WRITER))``; it returns the principal.
    """

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
        _api_key: Annotated[str | None, Security(api_key_scheme)],
    ) -> Principal:
        principal = await authenticate(request)
        if principal.role.covers(role):
            return principal
        what = action or f"{request.method} {request.url.path}"
        event = AuditEvent(
            request_id=request_id_of(request),
            subject=principal.subject,
            workspace=principal.workspace,
            action=action or "auth.forbidden",
            target=request.url.path,
            result="denied",
            detail={"role": principal.role.value, "needs": role.value},
        )
        write_audit(request, event)
        raise ForbiddenError(f"role {principal.role} may not {what}; needs {role}")

    dependency.__name__ = f"require_{role.value}"
    return dependency


current_principal = require(Role.READER)
"""Any authenticated caller: ``Depends(current_principal)``."""
