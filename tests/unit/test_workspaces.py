"""Workspaces: one store each, opened once per process, isolated, created and deleted.

Embedded workspaces with the real models (the session's embedder and extractor); the
ArangoDB naming is checked offline (the database calls need a server).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from graphrag.config import StoreKind, load_settings
from graphrag.errors import ConfigError, InvalidArgumentError, NotFoundError
from graphrag.ids import content_hash, document_id
from graphrag.models import Document
from graphrag.records import Job
from graphrag.stores.arango.workspaces import workspace_database, workspace_databases
from graphrag.workspaces import WorkspaceManager, validate_workspace_name

BAD_NAMES = ["../x", "A", "", "a" * 41, "1abc", "a_b", "a.b", "a/b", "x/../y", "a\n", "-a", "é"]


@pytest.fixture
def ws_settings(tmp_path: Path) -> Any:
    return load_settings(
        embedded={"path": tmp_path / "graph.db"}, api={"workspaces_dir": tmp_path / "ws"}
    )


@pytest.fixture
async def manager(ws_settings: Any, embedder: Any, extractor: Any) -> Any:
    manager = WorkspaceManager(ws_settings, embedder=embedder, extractor=extractor)
    yield manager
    await manager.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def text_document(source: str, text: str) -> Document:
    return Document(
        id=document_id(source),
        source=source,
        title=source,
        mime="text/plain",
        content_hash=content_hash(text),
        text=text,
    )


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["a", "team-a", "a1", "a" + "b" * 39, "x-1-y"])
def test_valid_names(name: str) -> None:
    assert validate_workspace_name(name) == name


@pytest.mark.parametrize("name", [*BAD_NAMES, None])
def test_bad_names_are_refused(name: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid workspace name"):
        validate_workspace_name(name)


async def test_every_operation_refuses_bad_names(manager: Any, tmp_path: Path) -> None:
    for name in BAD_NAMES:
        for call in (manager.get, manager.create, manager.delete, manager.info):
            with pytest.raises(InvalidArgumentError):
                await call(name)
    assert listing(tmp_path) == []


def test_an_invalid_default_workspace_is_a_config_error(
    tmp_path: Path, hash_embedder: Any, extractor: Any
) -> None:
    settings = load_settings(api={"default_workspace": "Main"})
    with pytest.raises(ConfigError, match="GRAPHRAG_API__DEFAULT_WORKSPACE"):
        WorkspaceManager(settings, embedder=hash_embedder, extractor=extractor)


# --------------------------------------------------------------------------- embedded


async def test_the_default_workspace_is_the_configured_store_created_on_first_use(
    manager: Any, ws_settings: Any
) -> None:
    path = ws_settings.embedded.path
    assert not path.exists()
    [info] = await manager.list()
    assert (info.name, info.default, info.exists, info.open) == ("default", True, False, False)

    rag = await manager.get("default")

    assert rag.components.store.location == str(path) == manager.location("default")
    assert path.is_file()
    assert await manager.get("default") is rag
    assert (await manager.info("default")).open


async def test_an_unknown_workspace_is_not_found_and_not_created(
    manager: Any, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match="workspace 'team-a' does not exist") as err:
        await manager.get("team-a")
    assert str(tmp_path) not in str(err.value)  # no server path for API clients
    with pytest.raises(NotFoundError):
        await manager.info("team-a")
    assert not (tmp_path / "ws" / "team-a.sqlite").exists()


async def test_create_makes_the_file_once(manager: Any, tmp_path: Path) -> None:
    info = await manager.create("team-a")

    path = tmp_path / "ws" / "team-a.sqlite"
    assert (info.name, info.store, info.location) == ("team-a", StoreKind.EMBEDDED, str(path))
    assert (info.created, info.exists, info.open, info.default) == (True, True, True, False)
    assert path.is_file()
    again = await manager.create("team-a")
    assert (again.created, again.exists) == (False, True)
    assert (await manager.get("team-a")).settings.embedded.path == path


async def test_workspaces_are_isolated(manager: Any) -> None:
    await manager.create("a")
    await manager.create("b")
    rag_a, rag_b = await manager.get("a"), await manager.get("b")
    doc = text_document("notes/lantern.txt", "Ada Brandt built the Lantern Bridge in Velmora.")

    summary = await rag_a.ingest_documents([doc])
    await rag_a.components.store.save_job(Job(id="j_a"))

    assert summary.report.written == 1
    assert [d.id for d in await rag_a.documents()] == [doc.id]
    assert await rag_b.documents() == []
    assert (await rag_b.stats()).chunks == 0
    assert await rag_b.components.store.get_job("j_a") is None
    assert (await rag_a.components.store.get_job("j_a")) is not None
    assert await (await manager.get("default")).documents() == []


async def test_list_shows_the_default_first_then_by_name(manager: Any) -> None:
    for name in ("zeta", "alpha"):
        await manager.create(name)
    await manager.get("default")

    listed = await manager.list()

    assert [i.name for i in listed] == ["default", "alpha", "zeta"]
    assert all(i.exists and i.open for i in listed)
    assert [i.default for i in listed] == [True, False, False]


async def test_delete_removes_every_file_of_the_workspace(manager: Any, tmp_path: Path) -> None:
    await manager.create("team-a")
    rag = await manager.get("team-a")
    async with rag.components.store.writer_lock():  # leaves the .lock file behind
        pass
    folder = tmp_path / "ws"
    assert "team-a.sqlite" in listing(folder)

    await manager.delete("team-a")

    assert listing(folder) == []
    with pytest.raises(NotFoundError):
        await manager.get("team-a")
    with pytest.raises(NotFoundError):
        await manager.delete("team-a")
    assert [i.name for i in await manager.list()] == ["default"]


async def test_the_default_workspace_cannot_be_deleted(manager: Any, ws_settings: Any) -> None:
    await manager.get("default")
    with pytest.raises(InvalidArgumentError, match="cannot be deleted"):
        await manager.delete("default")
    assert ws_settings.embedded.path.is_file()


async def test_concurrent_gets_open_a_workspace_once(manager: Any) -> None:
    await manager.create("team-a")
    await manager.close()

    opened = await asyncio.gather(*(manager.get("team-a") for _ in range(5)))

    assert len({id(r) for r in opened}) == 1


async def test_a_workspace_replaced_by_another_process_is_reopened(
    manager: Any, ws_settings: Any, embedder: Any, extractor: Any
) -> None:
    await manager.create("team-a")
    stale = await manager.get("team-a")
    await stale.components.store.save_job(Job(id="j_old"))
    other = WorkspaceManager(ws_settings, embedder=embedder, extractor=extractor)
    try:
        await other.delete("team-a")
        with pytest.raises(NotFoundError):
            await manager.get("team-a")  # gone: noticed, not served from the stale handle
        await other.create("team-a")
        fresh = await manager.get("team-a")
    finally:
        await other.close()

    assert fresh is not stale
    assert await fresh.components.store.get_job("j_old") is None


# --------------------------------------------------------------------------- ArangoDB naming


def test_arango_workspaces_are_databases_beside_the_default(
    hash_embedder: Any, extractor: Any
) -> None:
    settings = load_settings(
        store="arango",
        arango={"url": "http://user:pw@127.0.0.1:1", "database": "kg", "password": "s3cret"},
    )
    manager = WorkspaceManager(settings, embedder=hash_embedder, extractor=extractor)

    assert manager.settings_for("default").arango.database == "kg"
    team = manager.settings_for("team-a")
    assert team.arango.database == "kg_team-a"
    assert (team.arango.url, team.arango.password) == (
        settings.arango.url,
        settings.arango.password,
    )
    assert settings.arango.database == "kg"  # the shared settings are left alone
    assert manager.location("team-a") == "arango:http://127.0.0.1:1/kg_team-a"
    assert "s3cret" not in manager.location("team-a")
    assert "pw" not in manager.location("team-a")


def test_arango_database_names_stay_within_64_bytes() -> None:
    assert workspace_database("graphrag", "a" * 40) == "graphrag_" + "a" * 40
    with pytest.raises(InvalidArgumentError, match="too long"):
        workspace_database("d" * 30, "a" * 40)


def test_workspace_databases_are_found_by_prefix() -> None:
    names = ["_system", "graphrag", "graphrag_a", "graphrag_team-b", "graphrag_", "other_a"]
    assert workspace_databases(names, "graphrag") == ["a", "team-b"]


class FakeServer:
    """The database calls of graphrag.stores.arango.workspaces, against a set of names."""

    def __init__(self, databases: set[str]) -> None:
        self.databases = databases
        self.opened: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from graphrag.stores.arango import workspaces as arango_ws
        from graphrag.workspaces import GraphRAG

        async def list_databases(settings: Any) -> list[str]:
            return sorted(self.databases)

        async def database_exists(settings: Any, name: str) -> bool:
            return name in self.databases

        async def create_database(settings: Any, name: str) -> bool:
            new = name not in self.databases
            self.databases.add(name)
            return new

        async def drop_database(settings: Any, name: str) -> bool:
            found = name in self.databases
            self.databases.discard(name)
            return found

        async def open_rag(settings: Any, **_: Any) -> Any:
            self.opened.append(settings.arango.database)
            self.databases.add(settings.arango.database)  # ensure_schema creates it
            return FakeRag(settings)

        for fn in (list_databases, database_exists, create_database, drop_database):
            monkeypatch.setattr(arango_ws, fn.__name__, fn)
        monkeypatch.setattr(GraphRAG, "open", open_rag)


class FakeRag:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.closed = False
        self.components = type("C", (), {"store": type("S", (), {"location": "fake"})()})()

    async def close(self) -> None:
        self.closed = True


async def test_arango_workspaces_are_managed_as_databases(
    monkeypatch: pytest.MonkeyPatch, hash_embedder: Any, extractor: Any
) -> None:
    server = FakeServer({"_system", "kg_old", "kg_test_0a1b", "other"})
    server.install(monkeypatch)
    settings = load_settings(store="arango", arango={"url": "http://127.0.0.1:1", "database": "kg"})
    manager = WorkspaceManager(settings, embedder=hash_embedder, extractor=extractor)

    listed = await manager.list()
    assert [(i.name, i.exists, i.store) for i in listed] == [
        ("default", False, StoreKind.ARANGO),
        ("old", True, StoreKind.ARANGO),
    ]
    with pytest.raises(NotFoundError):
        await manager.get("team-a")
    assert "kg_team-a" not in server.databases  # an unknown workspace never creates one

    created = await manager.create("team-a")
    default = await manager.get("default")

    assert (created.created, created.location) == (True, "arango:http://127.0.0.1:1/kg_team-a")
    assert server.opened == ["kg_team-a", "kg"]
    assert (await manager.create("team-a")).created is False
    assert await manager.get("team-a") is await manager.get("team-a")
    team = await manager.get("team-a")

    await manager.delete("team-a")

    assert team.closed
    assert "kg_team-a" not in server.databases
    with pytest.raises(NotFoundError):
        await manager.delete("team-a")
    assert [i.name for i in await manager.list()] == ["default", "old"]
    await manager.close()
    assert default.closed
