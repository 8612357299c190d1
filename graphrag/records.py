"""Operational records a store keeps beside the graph: background jobs and API keys.

Both live in the workspace's own store, so every API worker process (and a restarted
service) sees the same jobs and keys, and deleting a workspace deletes them too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from graphrag.models import _Model, utcnow


class JobStatus(StrEnum):
    """The life of a background job.

    ``queued`` -> ``running`` -> ``succeeded`` | ``failed``; a job whose worker died or was
    stopped is ``interrupted`` until a worker resumes it (back to ``queued``).
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class JobFileStatus(StrEnum):
    """The state of one input of a job."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class JobFile(_Model):
    """One input of an ingest job (an uploaded file or a JSON text).

    Attributes:
        name: The file name as uploaded (sanitised), or the text's source.
        spool: Where the input waits until the job is done (a path under the spool folder).
        status: Pending, done or failed.
        error: Why it failed, in one line.
        documents: Documents it produced (records of a JSON/CSV file count one each).
    """

    name: str
    spool: str | None = None
    status: JobFileStatus = JobFileStatus.PENDING
    error: str | None = None
    documents: int = 0


class Job(_Model):
    """A background job (today: ingest), persisted so any worker can report and resume it.

    Attributes:
        id: Random, URL-safe.
        kind: ``ingest``.
        status: See :class:`JobStatus`.
        subject: Who submitted it (token subject or API key id).
        worker: The worker process that runs it (host:pid), while it runs.
        heartbeat_at: Last sign of life of that worker; a running job whose heartbeat is
            older than the stale limit is interrupted and may be resumed.
        done: Inputs finished (done or failed).
        total: Inputs in the job.
        files: Every input with its state.
        options: What was asked (``force`` ...).
        summary: The ingest summary when finished (counts, seconds).
        error: Why the whole job failed, in one line.
    """

    id: str
    kind: str = "ingest"
    status: JobStatus = JobStatus.QUEUED
    subject: str = ""
    worker: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    done: int = 0
    total: int = 0
    files: list[JobFile] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class ApiKeyRecord(_Model):
    """A stored API key: only its hash is kept; the key itself is shown once, at creation.

    Attributes:
        id: Public identifier (shown in lists and audit lines).
        name: What it is for (a label chosen by the admin).
        role: ``reader``, ``writer`` or ``admin``.
        key_hash: SHA-256 hex digest of the secret part of the key.
        created_by: Subject of the admin who created it.
        revoked_at: Set when revoked; a revoked key is refused.
        last_used_at: Updated (at most once a minute) when the key is used.
    """

    id: str
    name: str
    role: str
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = ""
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
