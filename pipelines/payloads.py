"""What the commands print with ``--json``: one JSON object each, with stable keys.

:func:`jsonable` turns models, dataclasses, paths, enums and datetimes into JSON values; the
``*_payload`` functions shape a command's result. Counts keep the names of the human tables
(with underscores), so a script can switch from scraping a table to reading the JSON.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from graphrag.models import DeleteReport, Document, MergeRecord

if TYPE_CHECKING:
    from graphrag.operations.ingest import IngestSummary
    from pipelines.eval_job import EvalRun


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON data (non-finite floats become ``null``)."""
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def failures_payload(failures: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Return ``path: reason`` failures as objects."""
    return [{"path": path, "reason": reason} for path, reason in failures]


def ingest_payload(summary: IngestSummary) -> dict[str, Any]:
    """Return the ingest summary (the rows of the table, and every failure)."""
    report = summary.report
    return {
        "ok": summary.ok,
        "inputs_failed": len(summary.input_errors),
        "files": summary.files,
        "files_failed": len(summary.file_errors),
        "documents": summary.documents,
        "new": summary.new,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "failed": len(report.failed),
        "records_removed": summary.removed,
        "chunks": report.chunks,
        "entities_new": report.entities_new,
        "relations_new": report.relations_new,
        "mentions": report.mentions,
        "merges": report.merges,
        "seconds": round(summary.seconds, 3),
        "docs_per_second": round(summary.docs_per_second, 3),
        "chunks_per_second": round(summary.chunks_per_second, 3),
        "failures": failures_payload(summary.failures),
        "stopped": report.stopped,
    }


def delete_payload(reports: Sequence[DeleteReport]) -> dict[str, Any]:
    """Return what deleting one or more documents removed."""
    return {"deleted": [r.model_dump(mode="json") for r in reports]}


def merges_payload(records: Sequence[MergeRecord], names: Mapping[str, str]) -> dict[str, Any]:
    """Return the merge records, each with its canonical entity's name."""
    return {
        "total": len(records),
        "active": sum(1 for r in records if r.undone_at is None),
        "merges": [
            {**r.model_dump(mode="json"), "canonical_name": names.get(r.canonical_id)}
            for r in records
        ],
    }


def eval_payload(run: EvalRun, paths: Mapping[str, Path]) -> dict[str, Any]:
    """Return the evaluation summary (scores per mode) and the files written."""
    data = run.to_dict()
    data.pop("per_question", None)
    return {**data, "files": {kind: str(path) for kind, path in paths.items()}}


def document_row(document: Document) -> dict[str, Any]:
    """Return one stored document as listed by ``graphrag documents``."""
    return {
        "id": document.id,
        "source": document.source,
        "title": document.title,
        "status": str(document.status),
        "chunks": document.chunk_count,
        "updated_at": document.updated_at.isoformat(timespec="seconds"),
        "error": document.error,
    }
