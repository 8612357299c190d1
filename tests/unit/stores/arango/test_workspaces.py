"""Workspace databases on ArangoDB without a server: which database each call uses, as whom,
and how "already there" / "not there" answers are read. The real calls run in
tests/integration/test_arango_workspaces.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from arango.exceptions import DatabaseCreateError, ServerVersionError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.stores.arango import workspaces as ws
from graphrag.stores.arango.errors import ERR_DATABASE_NOT_FOUND, ERR_DUPLICATE_NAME

SETTINGS = ArangoSettings(url="http://127.0.0.1:1", password=SecretStr("x"))


def _error(cls: type, status: int, code: int) -> Exception:
    response = Response("get", "http://db:8529/_api/x", {}, status, "x", "{}")
    response.error_code, response.error_message = code, "error"
    return cls(response, Request(method="get", endpoint="/_api/x"))  # type: ignore[no-any-return]


class FakeDb:
    def __init__(self, *, databases: list[str], fail: Exception | None = None) -> None:
        self.existing = databases
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []

    def databases(self) -> list[str]:
        self.calls.append(("databases", None))
        return list(self.existing)

    def version(self) -> str:
        self.calls.append(("version", None))
        if self.fail is not None:
            raise self.fail
        return "3.12.12"

    def create_database(self, name: str) -> bool:
        self.calls.append(("create_database", name))
        if self.fail is not None:
            raise self.fail
        return True

    def delete_database(self, name: str, ignore_missing: bool = False) -> bool:
        self.calls.append(("delete_database", (name, ignore_missing)))
        return name in self.existing


class FakeConnection:
    """Stands in for ArangoConnection: runs ``fn`` on a fake database, records where."""

    db: FakeDb
    runs: ClassVar[list[tuple[str, bool, str | None]]] = []

    def __init__(self, settings: ArangoSettings) -> None:
        self.closed = False

    async def run(
        self, what: str, fn: Callable[[Any], Any], *, admin: bool = False, database: str | None
    ) -> Any:
        FakeConnection.runs.append((what, admin, database))
        return fn(FakeConnection.db)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeConnection]:
    monkeypatch.setattr(ws, "ArangoConnection", FakeConnection)
    FakeConnection.runs = []
    return FakeConnection


async def test_listing_asks_system_as_the_admin(fake: type[FakeConnection]) -> None:
    fake.db = FakeDb(databases=["_system", "kg", "kg_a"])

    assert await ws.list_databases(SETTINGS) == ["_system", "kg", "kg_a"]
    assert fake.runs == [("listing databases", True, "_system")]


async def test_existence_is_asked_of_the_database_itself(fake: type[FakeConnection]) -> None:
    fake.db = FakeDb(databases=[])
    assert await ws.database_exists(SETTINGS, "kg_a") is True
    assert fake.runs == [("checking database kg_a", True, "kg_a")]

    fake.db = FakeDb(databases=[], fail=_error(ServerVersionError, 404, ERR_DATABASE_NOT_FOUND))
    assert await ws.database_exists(SETTINGS, "kg_b") is False

    fake.db = FakeDb(databases=[], fail=_error(ServerVersionError, 401, 11))
    with pytest.raises(ServerVersionError):  # ArangoConnection translates it in real use
        await ws.database_exists(SETTINGS, "kg_c")


async def test_creating_reports_whether_it_was_new(fake: type[FakeConnection]) -> None:
    fake.db = FakeDb(databases=[])
    assert await ws.create_database(SETTINGS, "kg_a") is True
    assert fake.db.calls == [("create_database", "kg_a")]
    assert fake.runs[-1] == ("creating database kg_a", True, "_system")

    fake.db = FakeDb(databases=[], fail=_error(DatabaseCreateError, 409, ERR_DUPLICATE_NAME))
    assert await ws.create_database(SETTINGS, "kg_a") is False

    fake.db = FakeDb(databases=[], fail=_error(DatabaseCreateError, 403, 11))
    with pytest.raises(DatabaseCreateError):
        await ws.create_database(SETTINGS, "kg_a")


async def test_dropping_ignores_a_missing_database(fake: type[FakeConnection]) -> None:
    fake.db = FakeDb(databases=["kg_a"])

    assert await ws.drop_database(SETTINGS, "kg_a") is True
    assert await ws.drop_database(SETTINGS, "kg_b") is False
    assert fake.db.calls == [
        ("delete_database", ("kg_a", True)),
        ("delete_database", ("kg_b", True)),
    ]
    assert {r[1:] for r in fake.runs} == {(True, "_system")}
