"""Embedded store specifics of jobs and API keys: schema v4 migration, claims across
processes, no wait for the writer lock, caches left valid."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from graphrag.errors import StoreUnavailableError
from graphrag.records import ApiKeyRecord, Job, JobStatus
from graphrag.stores.embedded import EmbeddedGraphStore
from graphrag.stores.embedded.schema import SCHEMA_VERSION
from tests.contract.builder import CORPUS, build_all

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODEL, DIM = "hash-embedder-v1", 32


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=MODEL, dim=DIM)
    yield store
    await store.close()


def _meta(path: Path, name: str) -> str:
    with sqlite3.connect(path) as conn:
        value = str(conn.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()[0])
    conn.close()
    return value


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        found = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    return found


async def test_a_version_3_store_is_migrated_and_keeps_its_data(
    tmp_path: Path, hash_embedder: Any
) -> None:
    path = tmp_path / "v3.db"
    old = EmbeddedGraphStore(path)
    await old.ensure_schema(embedding_model=MODEL, dim=DIM)
    await old.upsert_documents(await build_all(hash_embedder, CORPUS))
    before = await old.stats()
    await old.close()
    with sqlite3.connect(path) as conn:  # what version 3 looked like: no jobs, no API keys
        conn.execute("DROP TABLE jobs")
        conn.execute("DROP TABLE api_keys")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    assert {"jobs", "api_keys"}.isdisjoint(_tables(path))

    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=MODEL, dim=DIM)
    try:
        after = await store.stats()
        assert after.schema_version == SCHEMA_VERSION == 5
        assert after.model_dump(exclude={"schema_version"}) == before.model_dump(
            exclude={"schema_version"}
        )
        await store.save_job(Job(id="j_1"))
        assert (await store.claim_job("j_1", "w", stale_seconds=60)) is not None
    finally:
        await store.close()
    assert _meta(path, "schema_version") == str(SCHEMA_VERSION)
    assert {"jobs", "api_keys", "jobs_status", "jobs_created", "api_keys_created"} <= _tables(path)


async def test_record_writes_leave_the_write_counter_and_caches_alone(store: Any) -> None:
    path = Path(store.location)
    counter = _meta(path, "write_counter")

    await store.save_job(Job(id="j_1"))
    await store.claim_job("j_1", "w", stale_seconds=60)
    await store.save_api_key(ApiKeyRecord(id="k_1", name="ci", role="reader", key_hash="ab"))

    assert _meta(path, "write_counter") == counter


async def test_job_writes_pass_another_holder_of_the_writer_lock(tmp_path: Path) -> None:
    """Another store instance (as another process would) holds the file lock meanwhile."""
    path = tmp_path / "graph.db"
    holder = EmbeddedGraphStore(path)
    other = EmbeddedGraphStore(path, writer_timeout=0.3)
    for s in (holder, other):
        await s.ensure_schema(embedding_model=MODEL, dim=DIM)
    try:
        async with holder.writer_lock():
            with pytest.raises(StoreUnavailableError):  # the graph writers do wait
                async with other.writer_lock():
                    pass
            await asyncio.wait_for(other.save_job(Job(id="j_1")), timeout=10)
            claimed = await asyncio.wait_for(other.claim_job("j_1", "w", stale_seconds=9), 10)
        assert claimed is not None
        assert await holder.get_job("j_1") == claimed
    finally:
        await holder.close()
        await other.close()


_CLAIMER = """
import asyncio, sys, time
from pathlib import Path
from graphrag.stores.embedded import EmbeddedGraphStore

async def main() -> None:
    path, worker, go, count = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model="hash-embedder-v1", dim=32)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.0005)
    won = []
    for i in range(count):
        job = await store.claim_job(f"j_{i:03d}", worker, stale_seconds=60)
        if job is not None:
            assert job.worker == worker and job.status == "running"
            won.append(job.id)
    await store.close()
    print(" ".join(won), flush=True)

asyncio.run(main())
"""


async def _claimer(path: Path, worker: str, go: Path, count: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CLAIMER, str(path), worker, str(go), str(count),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_two_processes_claiming_the_same_jobs_each_job_has_one_winner(
    store: Any, tmp_path: Path
) -> None:
    count = 100
    for i in range(count):
        await store.save_job(Job(id=f"j_{i:03d}"))
    go = tmp_path / "go"
    procs = [await _claimer(Path(store.location), w, go, count) for w in ("a", "b")]
    for proc in procs:  # both stores open before either claims
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line.strip() == b"ready", (line, await proc.stderr.read())  # type: ignore[union-attr]
    go.touch()

    outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs
    won = {w: set(out.decode().split()) for w, (out, _) in zip("ab", outputs, strict=True)}
    assert won["a"].isdisjoint(won["b"])
    assert won["a"] | won["b"] == {f"j_{i:03d}" for i in range(count)}
    for worker, ids in won.items():
        for job_id in ids:
            stored = await store.get_job(job_id)
            assert (stored.status, stored.worker) == (JobStatus.RUNNING, worker)
