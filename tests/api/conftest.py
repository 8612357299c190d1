"""API fixtures: a real app over real components, driven through httpx's ASGI transport.

The sample corpus is ingested once per session into a template store; each test gets a copy,
so tests may write and delete freely. Models (MiniLM, spaCy) are the session's.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "corpus"
SECRET = "test-only-signing-key-4f9c1e7a2b8d6053"


@pytest.fixture(scope="session")
def analyzer() -> Any:
    from graphrag.config import ExtractionSettings
    from graphrag.retrieve.question import QuestionAnalyzer

    return QuestionAnalyzer(ExtractionSettings(processes=1))


@pytest.fixture(scope="session")
def sample_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, extractor: Any, analyzer: Any
) -> Path:
    """A store file holding the sample corpus (built once)."""
    from graphrag.config import load_settings
    from graphrag.facade import GraphRAG

    path = tmp_path_factory.mktemp("template") / "default.db"
    settings = load_settings(embedded={"path": path})

    async def build() -> None:
        rag = await GraphRAG.open(
            settings, embedder=embedder, extractor=extractor, analyzer=analyzer
        )
        async with rag:
            summary = await rag.ingest([SAMPLES])
            assert summary.ok, summary.failures

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def analyzed_store(
    tmp_path_factory: pytest.TempPathFactory,
    sample_store: Path,
    embedder: Any,
    extractor: Any,
    analyzer: Any,
) -> Path:
    """A copy of the sample store after `graphrag analyze` (ranks, communities); built once."""
    from graphrag.config import load_settings
    from graphrag.runtime import open_components
    from pipelines.analyze_job import run_analysis

    path = tmp_path_factory.mktemp("analyzed") / "default.db"
    shutil.copy(sample_store, path)

    async def analyze() -> None:
        settings = load_settings(embedded={"path": path})
        components = await open_components(
            settings, embedder=embedder, extractor=extractor, analyzer=analyzer
        )
        try:
            report = await run_analysis(components)
            assert report.communities > 0, report
        finally:
            await components.close()

    asyncio.run(analyze())
    return path


def api_settings(tmp_path: Path, store: Path, **api: Any) -> Any:
    """Settings of a test service whose default workspace is ``store``."""
    from graphrag.config import load_settings

    section = {
        "jwt_secret": SECRET,
        "workspaces_dir": tmp_path / "workspaces",
        "spool_dir": tmp_path / "spool",
        "audit_log": str(tmp_path / "audit.log"),
        **api,
    }
    return load_settings(embedded={"path": store}, api=section)


@dataclass
class Api:
    """A client of a running test app, and what it was built from."""

    client: httpx.AsyncClient
    settings: Any
    app: Any

    def token(self, role: str = "reader", *, workspace: str | None = None, **kw: Any) -> str:
        """A valid token for ``role`` in ``workspace`` (default workspace by default)."""
        from api.security import Role, mint_token

        return mint_token(
            self.settings,
            subject=kw.pop("subject", f"test-{role}"),
            role=Role(role),
            workspace=workspace or self.settings.api.default_workspace,
            **kw,
        )

    def auth(self, role: str = "reader", **kw: Any) -> dict[str, str]:
        """The Authorization header for ``role``."""
        return {"Authorization": f"Bearer {self.token(role, **kw)}"}


@pytest.fixture
async def api(
    tmp_path: Path, sample_store: Path, embedder: Any, extractor: Any, analyzer: Any
) -> AsyncIterator[Api]:
    """A fresh app over a copy of the sample store."""
    from api.app import create_app
    from graphrag.workspaces import WorkspaceManager

    store = tmp_path / "default.db"
    shutil.copy(sample_store, store)
    settings = api_settings(tmp_path, store)
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, settings=settings, app=app)


async def wait_for_job(api: Api, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """Poll a job until it is finished (at most 120 s)."""
    for _ in range(600):
        reply = await api.client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert reply.status_code == 200, reply.text
        job: dict[str, Any] = reply.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")
