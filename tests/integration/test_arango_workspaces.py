"""Workspaces on ArangoDB: one database each (needs a real ArangoDB 3.12).

Runs when ``GRAPHRAG_ARANGO__URL`` is set (``GRAPHRAG_ARANGO__PASSWORD``: the root password,
which may create and drop databases). The naming is tested offline in
tests/unit/test_workspaces.py; jobs and API keys on ArangoDB in tests/contract.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings, load_settings
from graphrag.errors import InvalidArgumentError, NotFoundError
from graphrag.records import Job
from graphrag.stores.arango.testing import SKIP_REASON
from graphrag.stores.arango.users import drop_database
from graphrag.workspaces import WorkspaceManager

URL = os.environ.get("GRAPHRAG_ARANGO__URL")
ROOT_PASSWORD = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")
pytestmark = [
    pytest.mark.arango,
    pytest.mark.skipif(
        not URL,
        reason=SKIP_REASON,
    ),
]


@pytest.fixture
async def manager(hash_embedder: Any, extractor: Any) -> AsyncIterator[WorkspaceManager]:
    assert URL is not None
    base = f"graphrag_ws_{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        store="arango",
        arango={"url": URL, "database": base, "username": "root", "password": ROOT_PASSWORD},
    )
    manager = WorkspaceManager(settings, embedder=hash_embedder, extractor=extractor)
    try:
        yield manager
    finally:
        await manager.close()
        admin = ArangoSettings(url=URL, username="root", password=SecretStr(ROOT_PASSWORD))
        for name in (base, f"{base}_team-a", f"{base}_team-b"):
            await drop_database(admin, name)


async def test_workspaces_are_databases_created_listed_isolated_and_dropped(
    manager: WorkspaceManager,
) -> None:
    base = manager.settings_for("default").arango.database
    with pytest.raises(NotFoundError, match="team-a"):
        await manager.get("team-a")

    default = await manager.get("default")  # created on first use
    info = await manager.create("team-a")
    again = await manager.create("team-a")
    team = await manager.get("team-a")
    await team.components.store.save_job(Job(id="j_team"))

    assert (info.created, again.created) == (True, False)
    assert info.location.endswith(f"/{base}_team-a")
    assert team.settings.arango.database == f"{base}_team-a"
    assert await default.components.store.get_job("j_team") is None
    assert await team.components.store.get_job("j_team") is not None
    assert [(i.name, i.exists) for i in await manager.list()] == [
        ("default", True),
        ("team-a", True),
    ]

    await manager.delete("team-a")

    assert [i.name for i in await manager.list()] == ["default"]
    with pytest.raises(NotFoundError):
        await manager.get("team-a")
    with pytest.raises(NotFoundError):
        await manager.delete("team-a")
    with pytest.raises(InvalidArgumentError):
        await manager.delete("default")
