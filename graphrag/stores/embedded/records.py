"""The embedded store's job and API key methods: tables ``jobs`` and ``api_keys``.

They implement :class:`~graphrag.ports.JobStore` and :class:`~graphrag.ports.ApiKeyStore`.

Each write is one short ``BEGIN IMMEDIATE`` transaction on the store's write connection. It
does not take the store's writer lock (:mod:`.lock`): an ingest job holds that lock while it
writes documents, and the job's own progress must still be recorded. Writers of other
processes are serialised by SQLite itself (each waits up to the busy timeout for the file's
write lock). The writes leave the store's write counter alone, so they never force the
in-memory vector and graph indexes to be rebuilt.

:func:`claim_job` is one conditional ``UPDATE``: SQLite runs it under the file's write lock,
so of two processes claiming the same job exactly one changes the row; the other sees the
job already taken and gets ``None``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from graphrag.records import ApiKeyRecord, Job, JobStatus
from graphrag.stores.codec import job_from_data, job_to_data, key_from_data, key_to_data, to_time
from graphrag.stores.embedded.base import SQLiteStoreBase
from graphrag.stores.embedded.rows import dumps
from graphrag.stores.embedded.writes import transaction

_SAVE_JOB = (
    "INSERT INTO jobs (id, status, created_at, updated_at, heartbeat_at, worker, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "status = excluded.status, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at, heartbeat_at = excluded.heartbeat_at, "
    "worker = excluded.worker, data = excluded.data"
)

_CLAIM_JOB = (
    "UPDATE jobs SET status = 'running', worker = :worker, heartbeat_at = :now, "
    "updated_at = :now, data = json_set(data, '$.status', 'running', '$.worker', :worker, "
    "'$.heartbeat_at', :now, '$.updated_at', :now, "
    "'$.started_at', COALESCE(json_extract(data, '$.started_at'), :now)) "
    "WHERE id = :id AND (status IN ('queued', 'interrupted') OR (status = 'running' AND "
    "(heartbeat_at IS NULL OR heartbeat_at < :stale_before)))"
)
"""A running job without any heartbeat counts as stale (no sign of life)."""

_SAVE_KEY = (
    "INSERT INTO api_keys (id, key_hash, created_at, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash, "
    "created_at = excluded.created_at, data = excluded.data"
)


# --------------------------------------------------------------------------- jobs


def save_job(conn: sqlite3.Connection, job: Job) -> None:
    """Insert or replace a job (one transaction on the write connection)."""
    data = job_to_data(job)
    row = (
        job.id,
        str(job.status),
        data["created_at"],
        data["updated_at"],
        data["heartbeat_at"],
        job.worker,
        dumps(data),
    )
    with transaction(conn, f"saving job {job.id}", counter=False):
        conn.execute(_SAVE_JOB, row)


def get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    """Return a job by id, or ``None``."""
    row = conn.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else job_from_data(json.loads(row[0]))


def list_jobs(
    conn: sqlite3.Connection, status: JobStatus | None, limit: int, offset: int
) -> list[Job]:
    """Return jobs newest first (then by id), optionally by status, one page."""
    page = (max(limit, 0), max(offset, 0))
    if status is None:
        found = conn.execute(
            "SELECT data FROM jobs ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", page
        )
    else:
        found = conn.execute(
            "SELECT data FROM jobs WHERE status = ? ORDER BY created_at DESC, id DESC "
            "LIMIT ? OFFSET ?",
            (str(status), *page),
        )
    return [job_from_data(json.loads(row[0])) for row in found]


def claim_job(
    conn: sqlite3.Connection, job_id: str, worker: str, stale_seconds: float
) -> Job | None:
    """Take a job atomically (see the module docstring); ``None`` if it cannot be taken."""
    now = datetime.now(UTC)
    binds = {
        "id": job_id,
        "worker": worker,
        "now": to_time(now),
        "stale_before": to_time(now - timedelta(seconds=max(stale_seconds, 0.0))),
    }
    with transaction(conn, f"claiming job {job_id}", counter=False):
        if conn.execute(_CLAIM_JOB, binds).rowcount != 1:
            return None
        row = conn.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return job_from_data(json.loads(row[0]))


# --------------------------------------------------------------------------- API keys


def save_api_key(conn: sqlite3.Connection, record: ApiKeyRecord) -> None:
    """Insert or replace a key record by id (another record with the same hash is refused)."""
    data = key_to_data(record)
    row = (record.id, record.key_hash, data["created_at"], dumps(data))
    with transaction(conn, f"saving API key {record.id}", counter=False):
        conn.execute(_SAVE_KEY, row)


def find_api_key(conn: sqlite3.Connection, key_hash: str) -> ApiKeyRecord | None:
    """Return the record with this hash, or ``None``."""
    row = conn.execute("SELECT data FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
    return None if row is None else key_from_data(json.loads(row[0]))


def list_api_keys(conn: sqlite3.Connection) -> list[ApiKeyRecord]:
    """Return every key record, newest first (then by id)."""
    found = conn.execute("SELECT data FROM api_keys ORDER BY created_at DESC, id DESC")
    return [key_from_data(json.loads(row[0])) for row in found]


# --------------------------------------------------------------------------- the methods


class RecordMethods(SQLiteStoreBase):
    """Jobs and API keys of the workspace (see :mod:`graphrag.records`)."""

    async def save_job(self, job: Job) -> None:
        """Insert or replace a job (by id); ``updated_at`` is the caller's.

        Raises:
            StoreQueryError: If SQLite fails (e.g. the file stays locked past the busy
                timeout); nothing is written.
        """
        await self._run(self._write, save_job, job)

    async def get_job(self, job_id: str) -> Job | None:
        """Return a job by id, or ``None``."""
        return await self._run(self._read, get_job, job_id)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 50, offset: int = 0
    ) -> list[Job]:
        """Return jobs, newest first (``created_at``, then id), optionally by status."""
        return await self._run(self._read, list_jobs, status, limit, offset)

    async def claim_job(self, job_id: str, worker: str, *, stale_seconds: float) -> Job | None:
        """Atomically take a job to run it (safe across processes).

        A job can be taken when it is ``queued`` or ``interrupted``, or ``running`` with a
        heartbeat older than ``stale_seconds`` (or none at all). ``started_at`` is set on
        the first claim only.

        Returns:
            The job as claimed (status ``running``, ``worker`` and ``heartbeat_at`` set), or
            ``None`` when another worker holds it or it is finished or unknown.
        """
        return await self._run(self._write, claim_job, job_id, worker, stale_seconds)

    async def save_api_key(self, record: ApiKeyRecord) -> None:
        """Insert or replace a key record (by id).

        Raises:
            StoreQueryError: If another record has the same ``key_hash`` (nothing written).
        """
        await self._run(self._write, save_api_key, record)

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """Return the record with this hash (revoked ones too), or ``None``."""
        return await self._run(self._read, find_api_key, key_hash)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Return every key record, newest first."""
        return await self._run(self._read, list_api_keys)
