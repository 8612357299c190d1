"""The ArangoDB store's job and API key methods: collections ``jobs`` and ``api_keys``.

They implement :class:`~graphrag.ports.JobStore` and :class:`~graphrag.ports.ApiKeyStore`.

A record is one document whose ``_key`` is the record's id; timestamps are sortable UTC ISO
strings (:mod:`graphrag.stores.codec`). Writes are single AQL queries, outside the writer
lease: an ingest job holds the lease while it writes documents, and its own progress must
still be recorded. Two writers saving the same record at once may collide (ArangoDB reports
a conflict, 1200, or a unique-constraint violation, 1210, when both try to insert it); the
save is then run again, so the last writer wins as with the embedded store.

:meth:`ArangoRecords.claim_job` is one conditional ``UPDATE`` with exclusive access to
``jobs`` (``claim_job.aql``): of two workers claiming the same job one takes it, the other
gets ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from arango.database import StandardDatabase
from arango.exceptions import AQLQueryExecuteError

from graphrag.records import ApiKeyRecord, Job, JobStatus
from graphrag.stores.arango import mapping as m
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.errors import ERR_CONFLICT, server_error_code
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.retry import ConflictPolicy, retry_write_conflicts
from graphrag.stores.codec import job_from_data, job_to_data, key_from_data, key_to_data, to_time

logger = logging.getLogger(__name__)

T = TypeVar("T")
Doc = dict[str, Any]

SAVE_ATTEMPTS = 3
"""Tries of a record save that collided with a concurrent write of the same record."""

RETRY_PAUSE_SECONDS = 0.05


def record_doc(data: Doc) -> Doc:
    """Return a record's JSON (:mod:`graphrag.stores.codec`) as a document: ``id`` -> ``_key``."""
    doc = dict(data)
    return {"_key": doc.pop("id"), **doc}


def retry_collisions(what: str, fn: Callable[[], T], attempts: int = SAVE_ATTEMPTS) -> T:
    """Run a record save, again after a write-write conflict or a racing insert.

    The shared loop of :func:`~graphrag.stores.arango.retry.retry_write_conflicts`, with
    ``attempts`` tries and short jittered pauses (a record save is one small query).

    Raises:
        StoreUnavailableError: If the last try still collided (it says so).
        AQLQueryExecuteError: Any other server error, at once.
    """
    policy = ConflictPolicy(attempts=attempts, base_delay=RETRY_PAUSE_SECONDS)
    return retry_write_conflicts(what, fn, policy=policy)


class ArangoRecords:
    """Jobs and API keys of the workspace on ArangoDB (see :mod:`graphrag.records`)."""

    _conn: ArangoConnection
    _queries: Queries

    # ------------------------------------------------------------------ jobs

    async def save_job(self, job: Job) -> None:
        """Insert or replace a job (by id); ``updated_at`` is the caller's.

        Raises:
            StoreQueryError: If the id is not a valid document key, or the server fails.
        """
        m.check_key("job", job.id)
        doc = record_doc(job_to_data(job))
        what = f"saving job {job.id}"
        await self._conn.run(
            what, lambda db: retry_collisions(what, lambda: self._queries.upsert_job(db, doc))
        )

    async def get_job(self, job_id: str) -> Job | None:
        """Return a job by id, or ``None``."""
        if not m.valid_keys([job_id]):
            return None
        row = await self._conn.run(
            f"reading job {job_id}", lambda db: self._queries.get_job(db, job_id), idempotent=True
        )
        return None if row is None else job_from_data(row)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[Job]:
        """Return jobs, newest first (``created_at``, then id), optionally by status."""
        if limit <= 0:
            return []
        wanted = None if status is None else str(status)
        rows = await self._conn.run(
            "listing jobs",
            lambda db: self._queries.list_jobs(db, wanted, max(offset, 0), limit),
            idempotent=True,
        )
        return [job_from_data(r) for r in rows]

    def _claim(self, db: StandardDatabase, job_id: str, worker: str, stale: float) -> Doc | None:
        now = datetime.now(UTC)
        before = to_time(now - timedelta(seconds=max(stale, 0.0)))
        try:
            return self._queries.claim_job(db, job_id, worker, to_time(now), before)
        except AQLQueryExecuteError as exc:
            if server_error_code(exc) == ERR_CONFLICT:  # another worker changed it meanwhile
                return None
            raise

    async def claim_job(self, job_id: str, worker: str, *, stale_seconds: float) -> Job | None:
        """Atomically take a job to run it.

        A job can be taken when it is ``queued`` or ``interrupted``, or ``running`` with a
        heartbeat older than ``stale_seconds`` (or none at all); ``started_at`` is set on
        the first claim only. Times come from this process's clock, as the heartbeats do.

        Returns:
            The job as claimed (status ``running``, ``worker`` and ``heartbeat_at`` set), or
            ``None`` when another worker holds it or it is finished or unknown.
        """
        if not m.valid_keys([job_id]):
            return None
        row = await self._conn.run(
            f"claiming job {job_id}", lambda db: self._claim(db, job_id, worker, stale_seconds)
        )
        return None if row is None else job_from_data(row)

    # ------------------------------------------------------------------ API keys

    async def save_api_key(self, record: ApiKeyRecord) -> None:
        """Insert or replace a key record (by id).

        Raises:
            StoreQueryError: If the id is not a valid document key, or another record has
                the same ``key_hash`` (unique index; nothing is written).
        """
        m.check_key("API key", record.id)
        doc = record_doc(key_to_data(record))
        what = f"saving API key {record.id}"
        await self._conn.run(
            what, lambda db: retry_collisions(what, lambda: self._queries.save_api_key(db, doc))
        )

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """Return the record with this hash (revoked ones too), or ``None``."""
        row = await self._conn.run(
            "looking up an API key",
            lambda db: self._queries.find_api_key(db, key_hash),
            idempotent=True,
        )
        return None if row is None else key_from_data(row)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Return every key record, newest first."""
        rows = await self._conn.run(
            "listing API keys", self._queries.list_api_keys, idempotent=True
        )
        return [key_from_data(r) for r in rows]
