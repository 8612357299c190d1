"""Documents and ingest jobs.

Upload (files or JSON texts) as background jobs; list, read and delete documents; job status,
progress and resume.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import Scope, audit, jobs, scoped
from api.errors import ApiError
from api.schemas import (
    ChunkEntities,
    DeleteResult,
    DocumentDetail,
    JobView,
    Page,
    TextDocument,
    TextUpload,
)
from api.security import Role
from api.views import chunk_entities
from graphrag.ids import content_hash
from graphrag.jobs import JobInput
from graphrag.models import Document, DocumentStatus
from graphrag.records import JobStatus

router = APIRouter(prefix="/v1", tags=["documents"])

MAX_OFFSET = 1_000_000_000
"""Largest page offset accepted (SQLite integers are 64-bit; a larger offset pages nothing)."""

Reader = Annotated[Scope, Depends(scoped(Role.READER))]
Writer = Annotated[Scope, Depends(scoped(Role.WRITER))]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "force": {"type": "boolean", "default": False},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/TextUpload"}},
        },
    }
}


@router.post(
    "/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload documents (files or JSON texts) as a background ingest job",
)
async def upload(request: Request, scope: Writer) -> JobView:
    """Start an ingest job; poll ``GET /v1/jobs/{id}`` for its progress."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        inputs, force = await _files(request)
    elif kind == "application/json":
        inputs, force = await _texts(request)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"content type {kind or '(none)'!r} is not accepted; send multipart/form-data "
            "with one or more 'files' fields, or application/json {\"documents\": [...]}",
        )
    job = await jobs(request).submit(
        scope.workspace, inputs, subject=scope.principal.subject, force=force
    )
    audit(request, scope.principal, "document.upload", job.id, detail={"inputs": len(inputs)})
    return JobView.of(job)


async def _files(request: Request) -> tuple[list[JobInput], bool]:
    limit = request.app.state.settings.api.max_upload_files
    async with request.form(max_files=limit, max_fields=20) as form:
        uploads = [v for k, v in form.multi_items() if k == "files" and isinstance(v, UploadFile)]
        force = str(form.get("force", "false")).strip().lower() in ("1", "true", "yes", "on")
        if not uploads:
            raise ApiError(422, "invalid_request", "no 'files' field in the form; attach files")
        inputs = [JobInput(name=u.filename or "", data=await u.read()) for u in uploads]
    return inputs, force


async def _texts(request: Request) -> tuple[list[JobInput], bool]:
    try:
        body = TextUpload.model_validate(json.loads(await request.body()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the JSON body is nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(422, "invalid_request", f"{where}: {first['msg']}") from None
    return [_text_input(d) for d in body.documents], body.force


def _text_input(document: TextDocument) -> JobInput:
    source = document.source or f"api:{document.title or content_hash(document.text)[:16]}"
    return JobInput(name=source, text=document.text, title=document.title)


@router.get("/documents", response_model=Page[Document], summary="List documents")
async def list_documents(
    scope: Reader,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status_: Annotated[DocumentStatus | None, Query(alias="status")] = None,
    contains: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[Document]:
    """Documents, newest first; filter by status or by text in the source."""
    found = await scope.rag.documents(status=status_, contains=contains)
    return Page(items=found[offset : offset + limit], total=len(found), offset=offset, limit=limit)


@router.get("/documents/{document_id}", response_model=DocumentDetail, summary="One document")
async def get_document(document_id: str, scope: Reader) -> DocumentDetail:
    """A document with its chunks."""
    document = await scope.rag.document(document_id)
    return DocumentDetail(document=document, chunks=await scope.rag.chunks(document.id))


@router.get(
    "/documents/{document_id}/entities",
    response_model=ChunkEntities,
    summary="The entities each chunk of a document mentions",
)
async def document_entities(document_id: str, scope: Reader) -> ChunkEntities:
    """Chunk id -> the entities it mentions, for every chunk of the document."""
    document = await scope.rag.document(document_id)  # 404 for an unknown id
    ids = [c.id for c in await scope.rag.chunks(document.id)]
    return ChunkEntities(chunks=await chunk_entities(scope.rag, ids))


@router.get(
    "/chunks/entities",
    response_model=ChunkEntities,
    tags=["graph"],
    summary="The entities some chunks mention",
)
async def chunks_entities(
    scope: Reader,
    ids: Annotated[
        list[str], Query(alias="id", min_length=1, max_length=100, description="Chunk ids.")
    ],
) -> ChunkEntities:
    """Chunk id -> the entities it mentions (an unknown chunk maps to an empty list)."""
    if any(not chunk_id.strip() for chunk_id in ids):
        raise ApiError(422, "invalid_request", "an empty chunk id was given; pass ?id=<chunk id>")
    return ChunkEntities(chunks=await chunk_entities(scope.rag, ids))


@router.delete("/documents/{document_id}", response_model=DeleteResult, summary="Delete one")
async def delete_document(document_id: str, request: Request, scope: Writer) -> DeleteResult:
    """Delete a document and what only it supported."""
    document = await scope.rag.document(document_id)  # by id only: 404 otherwise
    reports = await scope.rag.delete(document.id)
    audit(request, scope.principal, "document.delete", document.id)
    return DeleteResult(deleted=reports)


@router.get("/jobs", response_model=Page[JobView], tags=["jobs"], summary="List jobs")
async def list_jobs(
    scope: Reader,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
) -> Page[JobView]:
    """Jobs of the workspace, newest first."""
    store = scope.rag.components.store
    found = await store.list_jobs(status=status_, limit=limit, offset=offset)
    return Page(items=[JobView.of(j) for j in found], total=None, offset=offset, limit=limit)


@router.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"], summary="One job")
async def get_job(job_id: str, request: Request, scope: Reader) -> JobView:
    """Status, progress (done/total) and the state of every input."""
    return JobView.of(await jobs(request).get(scope.workspace, job_id))


@router.post("/jobs/{job_id}/resume", response_model=JobView, tags=["jobs"], summary="Resume")
async def resume_job(job_id: str, request: Request, scope: Writer) -> JobView:
    """Run an interrupted job again in this worker (finished inputs are kept)."""
    job = await jobs(request).resume(scope.workspace, job_id)
    audit(request, scope.principal, "job.resume", job_id)
    return JobView.of(job)
