"""Administration: workspaces, API keys and the audit log (role ``admin``); who am I.

An admin manages the keys and reads the audit lines of their own workspace. Workspaces
themselves (create, list, delete) are managed by admins of the default workspace, which acts
as the deployment's control workspace.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Scope, audit, scoped, workspaces
from api.errors import ApiError, ForbiddenError
from api.security import AuditEvent, Role, create_key, list_keys, revoke_key
from graphrag.models import utcnow
from graphrag.records import ApiKeyRecord
from graphrag.workspaces import WorkspaceInfo

router = APIRouter(prefix="/v1", tags=["admin"])

Admin = Annotated[Scope, Depends(scoped(Role.ADMIN))]
Reader = Annotated[Scope, Depends(scoped(Role.READER))]

MAX_AUDIT_RANGE = timedelta(days=31)


class WorkspaceCreate(BaseModel):
    """``POST /v1/workspaces``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, description="Lower-case letters, digits, -.")


class KeyCreate(BaseModel):
    """``POST /v1/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    role: Role = Role.READER


class KeyView(BaseModel):
    """A key as listed: never its hash or secret."""

    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyView):
    """A new key; ``key`` is shown this once and cannot be read again."""

    key: str


class AuditPage(BaseModel):
    """Audit events of a time range, oldest first."""

    events: list[AuditEvent]


def _utc(value: datetime) -> datetime:
    """A time without a zone is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Caller(BaseModel):
    """``GET /v1/me``: who the credentials belong to."""

    subject: str
    role: Role
    workspace: str
    via: str


def _view(record: ApiKeyRecord) -> KeyView:
    return KeyView(**record.model_dump(exclude={"key_hash"}))


def _control(request: Request, scope: Scope) -> None:
    default = request.app.state.settings.api.default_workspace
    if scope.workspace != default:
        msg = f"workspaces are managed by admins of the {default!r} workspace"
        raise ForbiddenError(msg)


@router.get("/me", response_model=Caller, summary="Who am I")
async def me(scope: Reader) -> Caller:
    """The caller's subject, role and workspace (any role may ask).

    The web explorer shows or hides its upload and delete controls by the role.
    """
    who = scope.principal
    return Caller(subject=who.subject, role=who.role, workspace=who.workspace, via=who.via)


@router.get("/workspaces", response_model=list[WorkspaceInfo], summary="List workspaces")
async def list_workspaces(request: Request, scope: Admin) -> list[WorkspaceInfo]:
    """Every workspace of the deployment."""
    _control(request, scope)
    return await workspaces(request).list()


@router.post(
    "/workspaces",
    response_model=WorkspaceInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Create a workspace",
)
async def create_workspace(body: WorkspaceCreate, request: Request, scope: Admin) -> WorkspaceInfo:
    """A new, empty workspace (its own store)."""
    _control(request, scope)
    info = await workspaces(request).create(body.name)
    audit(request, scope.principal, "workspace.create", body.name)
    return info


@router.delete(
    "/workspaces/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a workspace"
)
async def delete_workspace(name: str, request: Request, scope: Admin) -> None:
    """Delete a workspace and everything in it (not the default one)."""
    _control(request, scope)
    await workspaces(request).delete(name)
    request.app.state.jobs.forget(name)
    audit(request, scope.principal, "workspace.delete", name)


@router.get("/keys", response_model=list[KeyView], summary="List API keys")
async def keys(scope: Admin) -> list[KeyView]:
    """The workspace's API keys (revoked ones too), newest first."""
    return [_view(r) for r in await list_keys(scope.rag.components.store)]


@router.post(
    "/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED, summary="New key"
)
async def new_key(body: KeyCreate, request: Request, scope: Admin) -> KeyCreated:
    """Create an API key for a machine client; the key is in this response only."""
    record, key = await create_key(
        scope.rag.components.store,
        workspace=scope.workspace,
        name=body.name,
        role=body.role,
        created_by=scope.principal.subject,
    )
    audit(request, scope.principal, "key.create", record.id, detail={"role": record.role})
    return KeyCreated(**_view(record).model_dump(), key=key)


@router.delete("/keys/{key_id}", response_model=KeyView, summary="Revoke an API key")
async def revoke(key_id: str, request: Request, scope: Admin) -> KeyView:
    """Revoke a key: it is refused from now on (idempotent)."""
    record = await revoke_key(scope.rag.components.store, key_id)
    audit(request, scope.principal, "key.revoke", key_id)
    return _view(record)


@router.get("/audit", response_model=AuditPage, summary="Audit log of a time range")
async def audit_log(
    request: Request,
    scope: Admin,
    start: Annotated[
        datetime | None, Query(description="From (ISO 8601; default 24 h ago).")
    ] = None,
    end: Annotated[datetime | None, Query(description="Until (ISO 8601; default now).")] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> AuditPage:
    """The workspace's audit events between ``start`` and ``end`` (at most 31 days)."""
    log = request.app.state.audit
    if not log.queryable:
        raise ApiError(
            409,
            "audit_not_queryable",
            "the audit log goes to stdout (api.audit_log = '-'); read it from the service "
            "logs, or set GRAPHRAG_API__AUDIT_LOG to a file to query it here",
        )
    until = _utc(end) if end else utcnow()
    since = _utc(start) if start else until - timedelta(days=1)
    if since >= until or until - since > MAX_AUDIT_RANGE:
        raise ApiError(422, "invalid_request", "start must be before end, at most 31 days apart")
    events = await asyncio.to_thread(
        log.query, since, until, action=action, workspace=scope.workspace, limit=limit
    )
    return AuditPage(events=events)
