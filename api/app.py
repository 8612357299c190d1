"""The FastAPI application: :func:`create_app` wires settings, workspaces, jobs and routers.

One process opens its components once, in the lifespan: the workspace manager (models loaded
once and shared by every workspace), the audit log and the job runner, which resumes the
jobs a dead or stopped worker left. CPU work (embedding, PageRank, extraction) and blocking
store calls run in a bounded thread pool (``api.cpu_workers``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from api import errors
from api.limits import BodyLimitMiddleware
from api.metrics import (
    INGEST_FAILURES,
    INGESTED,
    JOBS,
    RequestIdFilter,
    RequestMiddleware,
    metrics_response,
)
from api.routers import admin, documents, graph, health, openai_compat, query, ui
from api.security import AuditLog, check_settings, make_limiter
from api.timeouts import TimeoutMiddleware
from graphrag.config import Settings, version
from graphrag.errors import GraphRAGError
from graphrag.jobs import JobRunner
from graphrag.workspaces import WorkspaceManager

logger = logging.getLogger("api")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
"""Log lines of the service carry the request id (``-`` outside a request)."""

SHUTDOWN_GRACE_SECONDS = 20.0
"""Running jobs get this long to finish on shutdown; then they are marked interrupted."""


def create_app(settings: Settings, *, workspaces: WorkspaceManager | None = None) -> FastAPI:
    """Build the API application.

    Args:
        settings: The configuration (the ``api`` section and the store).
        workspaces: A workspace manager to use (tests pass one with preloaded models); by
            default one is created from ``settings`` in the lifespan.

    Returns:
        The app; serve it with uvicorn (``graphrag serve``) or gunicorn.

    Raises:
        ConfigError: If the API settings are unsafe (a short or placeholder JWT secret
            outside development) or incomplete.
    """
    check_settings(settings)
    app = FastAPI(
        title="GraphRAG on ArangoDB",
        version=version(),
        summary="Build a knowledge graph from documents and answer questions with citations.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.limiter = make_limiter(settings)  # per caller, counted after authentication
    app.state.workspaces = workspaces
    app.state.ready = False
    errors.install(app)
    for module in (documents, query, graph, admin, openai_compat, health, ui):
        app.include_router(module.router)
    app.add_middleware(TimeoutMiddleware, seconds=settings.api.request_timeout)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestMiddleware)  # outermost: ids and metrics cover everything
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await _count_jobs(request.app)
        return metrics_response()

    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the JSON upload body that no route declares as a model."""
    if app.openapi_schema is None:
        from api.schemas import TextUpload

        schema = FastAPI.openapi(app)
        body = TextUpload.model_json_schema(ref_template="#/components/schemas/{model}")
        nested = body.pop("$defs", {})
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update({"TextUpload": body, **nested})
        app.openapi_schema = schema
    return app.openapi_schema


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    for handler in logging.getLogger().handlers:  # every line names its request
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    loop = asyncio.get_running_loop()
    previous = getattr(loop, "_default_executor", None)  # restored on shutdown (tests share loops)
    pool = ThreadPoolExecutor(settings.api.cpu_workers, thread_name_prefix="graphrag-cpu")
    loop.set_default_executor(pool)
    manager = app.state.workspaces or WorkspaceManager(settings)
    app.state.workspaces = manager
    app.state.audit = AuditLog(settings.api.audit_log)
    default = settings.api.default_workspace
    rag = await manager.get(default)
    await rag.components.embedder.embed(["warm up"], kind="query")  # load the model now
    if rag.components.llm is not None:  # a wrong URL, key or model fails the start-up
        try:
            await rag.components.llm.check()
        except GraphRAGError as exc:
            logger.error("the configured LLM is not usable, the API does not start: %s", exc)
            await manager.close()
            # Only the scrubbed error: a chained provider exception may echo the API key.
            exc.__cause__ = exc.__context__ = None
            raise exc from None

    async def names() -> list[str]:
        return [w.name for w in await manager.list() if w.exists]

    runner = JobRunner(
        manager.get, settings.api.spool_dir, observe=_observe_input, list_workspaces=names
    )
    app.state.jobs = runner
    await runner.start([default])
    app.state.ready = True
    logger.info("API ready (version %s, store %s)", version(), rag.components.store.location)
    try:
        yield
    finally:
        app.state.ready = False
        if runner.running:
            logger.warning(
                "stopping: %d running job(s) get up to %.0f s to finish, then are marked "
                "interrupted and resume at the next start",
                runner.running,
                SHUTDOWN_GRACE_SECONDS,
            )
        await runner.stop(SHUTDOWN_GRACE_SECONDS)
        await manager.close()
        setattr(loop, "_default_executor", previous)  # noqa: B010 - no public way to restore
        pool.shutdown(wait=False, cancel_futures=True)


def _observe_input(workspace: str, written: int, failed: int) -> None:
    INGESTED.labels(workspace).inc(written)
    INGEST_FAILURES.labels(workspace).inc(failed)


async def _count_jobs(app: FastAPI) -> None:
    from graphrag.records import JobStatus

    manager: WorkspaceManager | None = app.state.workspaces
    if manager is None or not app.state.ready:
        return
    rag = await manager.get(app.state.settings.api.default_workspace)
    for state in JobStatus:
        found = await rag.components.store.list_jobs(status=state, limit=1000)
        JOBS.labels(state.value).set(len(found))
