"""Dependencies shared by the routers: the caller's workspace, scoped by role, and audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from api.security import AuditEvent, Principal, Role, require
from graphrag.facade import GraphRAG
from graphrag.jobs import JobRunner
from graphrag.models import utcnow
from graphrag.workspaces import WorkspaceManager


@dataclass(frozen=True)
class Scope:
    """Who calls, and the workspace their credentials open (nothing outside it)."""

    principal: Principal
    rag: GraphRAG

    @property
    def workspace(self) -> str:
        """The workspace name."""
        return self.principal.workspace


def workspaces(request: Request) -> WorkspaceManager:
    """The process's workspace manager (opened by the lifespan)."""
    manager: WorkspaceManager = request.app.state.workspaces
    return manager


def jobs(request: Request) -> JobRunner:
    """The process's job runner."""
    runner: JobRunner = request.app.state.jobs
    return runner


def scoped(role: Role) -> Callable[..., Awaitable[Scope]]:
    """A dependency: authenticate, check ``role``, open the caller's workspace."""
    authenticated = Depends(require(role))  # a default, not an annotation: annotations are
    # strings here (postponed evaluation) and could not see ``role``

    async def dependency(request: Request, principal: Principal = authenticated) -> Scope:
        rag = await workspaces(request).get(principal.workspace)
        return Scope(principal=principal, rag=rag)

    return dependency


def audit(
    request: Request,
    principal: Principal,
    action: str,
    target: str,
    *,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit line for a write, delete, merge undo or admin action."""
    request.app.state.audit.write(
        AuditEvent(
            time=utcnow(),
            request_id=str(getattr(request.state, "request_id", "-")),
            subject=principal.subject,
            workspace=principal.workspace,
            action=action,
            target=target,
            result=result,
            detail=detail or {},
        )
    )
