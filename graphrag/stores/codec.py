"""JSON form of the operational records (jobs, API keys) that both stores keep.

Timestamps are written as UTC ISO-8601 strings with microseconds
(``2026-01-02T03:04:05.000006+00:00``): every one has the same width, so comparing and
sorting the strings compares the times, in SQLite and in AQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graphrag.records import ApiKeyRecord, Job

Data = dict[str, Any]


def to_time(value: datetime) -> str:
    """Encode a datetime as a sortable UTC ISO string (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dump(model: Job | ApiKeyRecord) -> Data:
    data: Data = model.model_dump(mode="json")
    for name, value in model:
        if isinstance(value, datetime):
            data[name] = to_time(value)
    return data


def job_to_data(job: Job) -> Data:
    """Return a job as a JSON object with sortable timestamps (``id`` included)."""
    return _dump(job)


def job_from_data(data: Data) -> Job:
    """Return the job stored as ``data`` (ArangoDB's ``_key``/``_id``/``_rev`` are dropped)."""
    return Job.model_validate(_strip(data))


def key_to_data(record: ApiKeyRecord) -> Data:
    """Return an API key record as a JSON object with sortable timestamps."""
    return _dump(record)


def key_from_data(data: Data) -> ApiKeyRecord:
    """Return the API key record stored as ``data``."""
    return ApiKeyRecord.model_validate(_strip(data))


def _strip(data: Data) -> Data:
    found = {k: v for k, v in data.items() if k not in ("_key", "_id", "_rev")}
    if "id" not in found and "_key" in data:
        found["id"] = data["_key"]
    return found
