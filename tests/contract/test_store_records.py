"""Contract: background jobs and API keys (``JobStore``, ``ApiKeyStore``) in every store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graphrag.errors import StoreQueryError
from graphrag.records import ApiKeyRecord, Job, JobFile, JobFileStatus, JobStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def job(n: int, status: JobStatus = JobStatus.QUEUED, **extra: Any) -> Job:
    """Job ``j_<n>`` created ``n`` minutes after T0 (a higher n is newer)."""
    created = T0 + timedelta(minutes=n)
    fields: dict[str, Any] = {
        "id": f"j_{n:03d}",
        "status": status,
        "subject": "alice",
        "created_at": created,
        "updated_at": created,
        **extra,
    }
    return Job(**fields)


def key(n: int, **extra: Any) -> ApiKeyRecord:
    """API key ``k_<n>`` created ``n`` minutes after T0."""
    fields: dict[str, Any] = {
        "id": f"k_{n:03d}",
        "name": f"key {n}",
        "role": "reader",
        "key_hash": f"{n:064x}",
        "created_at": T0 + timedelta(minutes=n),
        "created_by": "admin",
        **extra,
    }
    return ApiKeyRecord(**fields)


# --------------------------------------------------------------------------- jobs


async def test_a_job_round_trips_whole(store: Any) -> None:
    saved = job(
        1,
        total=2,
        done=1,
        files=[
            JobFile(name="a.txt", spool="/spool/a.txt", status=JobFileStatus.DONE, documents=1),
            JobFile(name="b.pdf", spool="/spool/b.pdf"),
        ],
        options={"force": True},
        summary={"chunks": 3, "seconds": 1.5},
        started_at=T0 + timedelta(seconds=1, microseconds=7),
    )

    await store.save_job(saved)

    assert await store.get_job("j_001") == saved
    assert await store.get_job("j_404") is None
    assert await store.get_job("not a valid key/") is None


async def test_saving_a_job_again_replaces_it(store: Any) -> None:
    await store.save_job(job(1))
    later = job(1, status=JobStatus.SUCCEEDED, done=3, total=3, error=None)
    later.updated_at = T0 + timedelta(hours=1)
    later.finished_at = later.updated_at

    await store.save_job(later)

    assert await store.get_job("j_001") == later
    assert [j.id for j in await store.list_jobs()] == ["j_001"]


async def test_jobs_are_listed_newest_first_by_status_in_pages(store: Any) -> None:
    statuses = [JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.QUEUED, JobStatus.FAILED]
    for n, status in zip([3, 1, 4, 2], statuses, strict=True):
        await store.save_job(job(n, status))

    assert [j.id for j in await store.list_jobs()] == ["j_004", "j_003", "j_002", "j_001"]
    assert [j.id for j in await store.list_jobs(status=JobStatus.QUEUED)] == ["j_004", "j_003"]
    assert [j.id for j in await store.list_jobs(status=JobStatus.RUNNING)] == []
    assert [j.id for j in await store.list_jobs(limit=2)] == ["j_004", "j_003"]
    assert [j.id for j in await store.list_jobs(limit=2, offset=2)] == ["j_002", "j_001"]
    assert [j.id for j in await store.list_jobs(limit=2, offset=3)] == ["j_001"]
    assert await store.list_jobs(limit=0) == []
    assert await store.list_jobs(offset=10) == []


async def test_a_queued_job_is_claimed_once(store: Any) -> None:
    await store.save_job(job(1))
    before = datetime.now(UTC)

    claimed = await store.claim_job("j_001", "host-a:1", stale_seconds=60)

    assert claimed is not None
    assert (claimed.status, claimed.worker) == (JobStatus.RUNNING, "host-a:1")
    assert claimed.heartbeat_at is not None
    assert claimed.heartbeat_at >= before - timedelta(seconds=1)
    assert claimed.started_at == claimed.heartbeat_at == claimed.updated_at
    assert (claimed.subject, claimed.created_at) == ("alice", T0 + timedelta(minutes=1))
    assert await store.get_job("j_001") == claimed
    assert await store.claim_job("j_001", "host-b:2", stale_seconds=60) is None
    assert (await store.get_job("j_001")).worker == "host-a:1"  # type: ignore[union-attr]


async def test_concurrent_claims_of_one_job_have_one_winner(store: Any) -> None:
    await store.save_job(job(1))

    results = await asyncio.gather(
        *(store.claim_job("j_001", f"w{i}", stale_seconds=60) for i in range(6))
    )

    winners = [r.worker for r in results if r is not None]
    assert len(winners) == 1
    assert (await store.get_job("j_001")).worker == winners[0]  # type: ignore[union-attr]


async def test_an_interrupted_job_is_claimed_and_keeps_its_start(store: Any) -> None:
    started = T0 + timedelta(minutes=5)
    await store.save_job(job(1, JobStatus.INTERRUPTED, started_at=started, done=1, total=2))

    claimed = await store.claim_job("j_001", "w2", stale_seconds=60)

    assert claimed is not None
    assert (claimed.status, claimed.worker, claimed.started_at) == (
        JobStatus.RUNNING,
        "w2",
        started,
    )
    assert (claimed.done, claimed.total) == (1, 2)


async def test_a_running_job_is_claimed_only_when_its_heartbeat_is_stale(store: Any) -> None:
    now = datetime.now(UTC)
    await store.save_job(job(1, JobStatus.RUNNING, worker="w1", heartbeat_at=now))
    await store.save_job(
        job(2, JobStatus.RUNNING, worker="w1", heartbeat_at=now - timedelta(seconds=120))
    )
    await store.save_job(job(3, JobStatus.RUNNING, worker="w1"))  # no heartbeat at all

    assert await store.claim_job("j_001", "w2", stale_seconds=60) is None
    stale = await store.claim_job("j_002", "w2", stale_seconds=60)
    assert stale is not None
    assert stale.worker == "w2"
    assert stale.heartbeat_at is not None
    assert stale.heartbeat_at > now - timedelta(seconds=5)
    silent = await store.claim_job("j_003", "w2", stale_seconds=60)
    assert silent is not None
    assert silent.worker == "w2"


async def test_finished_and_unknown_jobs_are_not_claimed(store: Any) -> None:
    await store.save_job(job(1, JobStatus.SUCCEEDED))
    await store.save_job(job(2, JobStatus.FAILED, error="boom"))

    for job_id in ("j_001", "j_002", "j_404", "bad key/"):
        assert await store.claim_job(job_id, "w1", stale_seconds=0) is None
    assert (await store.get_job("j_002")).status is JobStatus.FAILED  # type: ignore[union-attr]


async def test_job_writes_do_not_wait_for_the_writer_lock(store: Any) -> None:
    """An ingest job holds the writer lock while it writes; its progress must still be saved."""
    async with store.writer_lock():
        await asyncio.wait_for(store.save_job(job(1)), timeout=10)
        claimed = await asyncio.wait_for(store.claim_job("j_001", "w", stale_seconds=60), 10)
        await asyncio.wait_for(store.save_api_key(key(1)), timeout=10)
    assert claimed is not None


# --------------------------------------------------------------------------- API keys


async def test_api_keys_are_found_by_hash_and_listed_newest_first(store: Any) -> None:
    for n in (2, 3, 1):
        await store.save_api_key(key(n))

    found = await store.find_api_key(f"{3:064x}")

    assert found == key(3)
    assert await store.find_api_key("0" * 63 + "f") is None
    assert [k.id for k in await store.list_api_keys()] == ["k_003", "k_002", "k_001"]


async def test_a_revoked_key_is_still_found(store: Any) -> None:
    await store.save_api_key(key(1))
    revoked = key(1, revoked_at=T0 + timedelta(days=1), last_used_at=T0 + timedelta(hours=2))

    await store.save_api_key(revoked)

    assert await store.find_api_key(f"{1:064x}") == revoked
    assert await store.list_api_keys() == [revoked]


async def test_a_second_key_with_the_same_hash_is_refused(store: Any) -> None:
    await store.save_api_key(key(1))

    with pytest.raises(StoreQueryError):
        await store.save_api_key(key(2, key_hash=f"{1:064x}"))

    assert [k.id for k in await store.list_api_keys()] == ["k_001"]


async def test_records_leave_the_graph_alone(store: Any) -> None:
    await store.save_job(job(1))
    await store.save_api_key(key(1))

    stats = await store.stats()

    assert (stats.documents, stats.chunks, stats.entities) == (0, 0, 0)
