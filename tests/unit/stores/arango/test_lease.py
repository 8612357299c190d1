"""The ArangoDB writer lease, driven through a fake server (no ArangoDB needed).

The fake implements the lease queries with the semantics of the AQL files: the lease is
free when absent, expired or held by the caller; a racer may get a conflict (1200).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arango.exceptions import AQLQueryExecuteError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251

from graphrag.config import ArangoSettings
from graphrag.errors import StoreUnavailableError
from graphrag.stores.arango import resolution
from graphrag.stores.arango.store import ArangoGraphStore


class FakeLeaseServer:
    """The ``locks/writer`` document and the lease queries, with a controllable clock."""

    def __init__(self) -> None:
        self.now = 0
        self.lease: dict[str, Any] | None = None
        self.conflicts = 0
        self.failures = 0
        self.released: list[str] = []

    def acquire_writer_lock(self, db: Any, owner: str, ttl: int) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("blip")
        if self.conflicts:
            self.conflicts -= 1
            raise conflict()
        lease = self.lease
        if lease is None or lease["expires"] < self.now or lease["owner"] == owner:
            self.lease = {"owner": owner, "expires": self.now + ttl}
        return {"owner": self.lease["owner"]}

    def fence_writer_lock(self, db: Any, owner: str, ttl: int) -> int:
        if self.lease is None or self.lease["owner"] != owner:
            return 0
        self.lease["expires"] = self.now + ttl
        return 1

    def release_writer_lock(self, db: Any, owner: str) -> None:
        if self.lease is not None and self.lease["owner"] == owner:
            self.lease = None
        self.released.append(owner)


def conflict() -> AQLQueryExecuteError:
    response = Response("post", "http://fake:8529/_api/cursor", {}, 409, "Conflict", "{}")
    response.error_code, response.error_message = 1200, "write-write conflict"
    return AQLQueryExecuteError(response, Request(method="post", endpoint="/_api/cursor"))


def store(server: FakeLeaseServer, timeout: float = 2.0) -> ArangoGraphStore:
    settings = ArangoSettings(url="http://127.0.0.1:9", writer_timeout=timeout)
    made = ArangoGraphStore(settings)
    made._queries = server  # type: ignore[assignment]

    async def run(operation: str, fn: Any, **_: Any) -> Any:
        from graphrag.stores.arango.errors import ErrorContext, translate_error

        try:
            return fn(object())
        except ConnectionError as exc:
            ctx = ErrorContext(operation=operation, url="http://fake", database="graphrag",
                               user="root")  # fmt: skip
            raise translate_error(exc, ctx) from exc

    made._conn.run = run  # type: ignore[method-assign]
    return made


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolution, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(resolution, "LEASE_SECONDS", 0.3)


async def test_the_lease_is_held_for_the_block_and_released() -> None:
    server = FakeLeaseServer()
    first = store(server)
    async with first.writer_lock():
        assert server.lease is not None
        holder = server.lease["owner"]
        fence = first._fence()
        assert fence is not None
        fence(object())  # a write transaction proves it still holds the lease
    assert server.lease is None
    assert server.released == [holder]
    assert first._fence() is None


async def test_a_second_writer_waits_then_gets_the_lease() -> None:
    server = FakeLeaseServer()
    first, second = store(server), store(server)
    order: list[str] = []

    async def hold() -> None:
        async with first.writer_lock():
            order.append("first in")
            await asyncio.sleep(0.2)
            order.append("first out")

    async def wait() -> None:
        await asyncio.sleep(0.05)
        async with second.writer_lock():
            order.append("second in")

    await asyncio.gather(hold(), wait())
    assert order == ["first in", "first out", "second in"]


async def test_a_racer_that_loses_retries_and_a_held_lease_times_out_clearly() -> None:
    server = FakeLeaseServer()
    server.conflicts = 2
    async with store(server).writer_lock():
        pass
    server.lease = {"owner": "other-host:1:abc", "expires": 10**12}
    with pytest.raises(StoreUnavailableError, match=r"other-host:1:abc.*WRITER_TIMEOUT"):
        async with store(server, timeout=0.1).writer_lock():
            pass


async def test_renewal_survives_a_blip_and_a_lost_lease_fails_the_block() -> None:
    server = FakeLeaseServer()
    first = store(server)

    async def lose_the_lease() -> None:
        async with first.writer_lock():
            server.failures = 1  # the next renewal fails: logged, the one after succeeds
            await asyncio.sleep(0.25)
            assert first._lease_lost is False
            server.lease = {"owner": "thief", "expires": 10**12}  # taken over
            fence = first._fence()
            assert fence is not None
            with pytest.raises(StoreUnavailableError, match="committed"):
                fence(object())

    with pytest.raises(StoreUnavailableError, match="lease of this process was lost"):
        await lose_the_lease()
    assert server.lease == {"owner": "thief", "expires": 10**12}
