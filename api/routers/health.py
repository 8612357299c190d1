"""Liveness and readiness probes (no authentication: they reveal nothing but the version)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import Health, Readiness
from graphrag.config import version
from graphrag.errors import GraphRAGError

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 5.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    """Always 200 while the process serves requests."""
    return Health(version=version())


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="The store answers and the models are loaded",
)
async def readyz(request: Request) -> JSONResponse:
    """200 when ready; 503 with the failing check otherwise."""
    checks = {"models": "loaded" if request.app.state.ready else "loading"}
    try:
        manager = request.app.state.workspaces
        rag = await manager.get(request.app.state.settings.api.default_workspace)
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await rag.stats()
        checks["store"] = "ok"
    except (GraphRAGError, TimeoutError, AttributeError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        checks["store"] = f"unavailable ({reason})"
    ready = checks == {"models": "loaded", "store": "ok"}
    body = Readiness(status="ready" if ready else "not_ready", version=version(), checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
