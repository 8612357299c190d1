"""Background ingest jobs, persisted in the workspace's store so any worker can report them.

A job is created with its inputs spooled to disk (``api.spool_dir``), saved as ``queued``
and started in this process. While it runs its worker refreshes a heartbeat; every input
(an uploaded file or a text) is marked ``done`` or ``failed`` as soon as it is written, so
an interrupted job resumes where it stopped: a graceful shutdown marks it ``interrupted``,
a killed worker leaves a stale heartbeat, and in both cases the next runner that scans the
workspace (at start-up and every ``poll_seconds``) claims it atomically
(:meth:`~graphrag.ports.JobStore.claim_job`) and finishes the pending inputs. Documents of
an input that was half written are rebuilt: the builder writes each document atomically and
skips unchanged ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from graphrag.errors import GraphRAGError, IngestError, InvalidArgumentError, NotFoundError
from graphrag.facade import GraphRAG
from graphrag.ids import content_hash, document_id
from graphrag.ingest.common import SUPPORTED_EXTENSIONS, supported_list
from graphrag.llm.usage import budget_scope
from graphrag.models import Document, utcnow
from graphrag.records import Job, JobFile, JobFileStatus, JobStatus

logger = logging.getLogger(__name__)

OpenWorkspace = Callable[[str], Awaitable[GraphRAG]]
ListWorkspaces = Callable[[], Awaitable[list[str]]]
"""Returns the names of every workspace (scanned for jobs to resume)."""
Observer = Callable[[str, int, int], None]
"""Called after every input with ``(workspace, documents written, inputs failed)``."""

"""Returns the open facade of a workspace (see :class:`graphrag.workspaces.WorkspaceManager`)."""

BATCH_DOCUMENTS = 256
"""Most documents handed to the builder at once (the CLI's default ``--batch-size``)."""

UPLOAD_SCHEME = "upload://"
"""Source prefix of uploaded files: ``upload://<workspace-unique file name>``."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class JobInput:
    """One input of an ingest job: a file's bytes, or a text with its source.

    Attributes:
        name: File name as uploaded, or the text's source (``api:<name>`` if none).
        data: The file's bytes (files).
        text: The text (texts).
        title: The text's title.
    """

    name: str
    data: bytes | None = None
    text: str | None = None
    title: str | None = None


def safe_file_name(name: str) -> str:
    """Return an uploaded file's name without folders or unsafe characters.

    Raises:
        InvalidArgumentError: If nothing usable remains or the extension is not supported.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:200]
    if not cleaned or cleaned.startswith("."):
        msg = f"unusable file name {name!r}; give the file a plain name such as notes.txt"
        raise InvalidArgumentError(msg)
    if Path(cleaned).suffix.lower() not in SUPPORTED_EXTENSIONS:
        msg = f"file {cleaned!r} has an unsupported extension; supported: {supported_list()}"
        raise InvalidArgumentError(msg)
    return cleaned


def text_document(item: JobInput) -> Document:
    """The document of a text input (its source is its name)."""
    text = item.text or ""
    return Document(
        id=document_id(item.name),
        source=item.name,
        title=item.title or item.name,
        mime="text/plain",
        content_hash=content_hash(text),
        text=text,
    )


class JobRunner:
    """Create, run, resume and report ingest jobs of every workspace this process serves.

    Args:
        open_workspace: Returns the open facade of a workspace.
        spool_dir: Where inputs wait until their job is done (shared by all workers).
        heartbeat_seconds: How often a running job refreshes its heartbeat.
        stale_seconds: A running job without heartbeat for this long is taken over.
        poll_seconds: How often the workspaces in use are scanned for jobs to resume.
        observe: Told about every finished input (metrics).
        list_workspaces: Every workspace's name; each scan covers them all (without it, the
            workspaces given to :meth:`start` and those jobs were submitted to).
    """

    def __init__(
        self,
        open_workspace: OpenWorkspace,
        spool_dir: Path,
        *,
        heartbeat_seconds: float = 5.0,
        stale_seconds: float = 60.0,
        poll_seconds: float = 30.0,
        observe: Observer | None = None,
        list_workspaces: ListWorkspaces | None = None,
    ) -> None:
        self._list = list_workspaces
        self._observe = observe
        self._open = open_workspace
        self._spool = spool_dir
        self._heartbeat = heartbeat_seconds
        self._stale = stale_seconds
        self._poll = poll_seconds
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._workspaces: set[str] = set()
        self._run_lock = asyncio.Lock()  # one job at a time per process: CPU-bound work
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, workspaces: Sequence[str]) -> None:
        """Resume the unfinished jobs of ``workspaces`` and keep scanning them."""
        self._workspaces.update(workspaces)
        await self.scan()
        self._poller = asyncio.create_task(self._poll_forever(), name="job-poller")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop: running jobs get ``grace`` seconds, then are marked ``interrupted``."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.scan()
            except GraphRAGError as exc:  # a workspace store unreachable for a while
                logger.warning("job scan failed: %s", exc)

    async def scan(self) -> int:
        """Claim and start every resumable job of the workspaces in use; returns how many."""
        started = 0
        if self._list is not None:
            try:
                self._workspaces.update(await self._list())
            except GraphRAGError as exc:  # e.g. no right to list ArangoDB databases
                logger.warning("cannot list workspaces (scanning the known ones): %s", exc)
        for workspace in sorted(self._workspaces):
            try:
                rag = await self._open(workspace)
            except NotFoundError:  # deleted meanwhile (by this or another process)
                self.forget(workspace)
                continue
            store = rag.components.store
            for status in (JobStatus.INTERRUPTED, JobStatus.QUEUED, JobStatus.RUNNING):
                for job in await store.list_jobs(status=status, limit=100):
                    if job.id in self._tasks:
                        continue
                    stale = 0.0 if self._dead_here(job.worker) else self._stale
                    if await self._claim(workspace, rag, job.id, stale_seconds=stale):
                        started += 1
        return started

    @property
    def running(self) -> int:
        """Jobs this process is running now."""
        return len(self._tasks)

    def forget(self, workspace: str) -> None:
        """Stop scanning a workspace (it was deleted)."""
        self._workspaces.discard(workspace)

    # -- submitting and reading -------------------------------------------------------

    async def submit(
        self, workspace: str, inputs: Sequence[JobInput], *, subject: str, force: bool = False
    ) -> Job:
        """Spool the inputs, save the job as ``queued`` and start it in this process.

        Raises:
            InvalidArgumentError: If there are no inputs or a file name is unusable.
        """
        if not inputs:
            msg = "no documents to ingest; send files or texts"
            raise InvalidArgumentError(msg)
        job_id = "j_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
        folder = self._spool / workspace / job_id
        files = await asyncio.to_thread(self._spool_inputs, folder, inputs)
        job = Job(id=job_id, subject=subject, total=len(files), files=files)
        job.options = {"force": force}
        rag = await self._open(workspace)
        await rag.components.store.save_job(job)
        self._workspaces.add(workspace)
        await self._claim(workspace, rag, job.id)
        return (await rag.components.store.get_job(job.id)) or job

    def _spool_inputs(self, folder: Path, inputs: Sequence[JobInput]) -> list[JobFile]:
        """Write the inputs under ``folder``.

        Every name is checked before anything is written, and a failure midway removes the
        folder, so a refused upload leaves nothing behind.
        """
        names = [safe_file_name(i.name) if i.data is not None else i.name for i in inputs]
        folder.mkdir(parents=True, exist_ok=True)
        files: list[JobFile] = []
        try:
            for index, (item, name) in enumerate(zip(inputs, names, strict=True)):
                if item.data is not None:
                    path = folder / f"{index:04d}-{name}"
                    path.write_bytes(item.data)
                else:
                    path = folder / f"{index:04d}.text.json"
                    record = {"source": item.name, "title": item.title, "text": item.text}
                    path.write_text(json.dumps(record), encoding="utf-8")
                files.append(JobFile(name=name, spool=str(path)))
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return files

    async def get(self, workspace: str, job_id: str) -> Job:
        """A job of the workspace.

        Raises:
            NotFoundError: If the workspace has no such job.
        """
        rag = await self._open(workspace)
        job = await rag.components.store.get_job(job_id)
        if job is None:
            msg = f"no job {job_id!r} in this workspace; list jobs with GET /v1/jobs"
            raise NotFoundError(msg)
        return job

    async def resume(self, workspace: str, job_id: str) -> Job:
        """Start an interrupted job again (or a stale running one) in this process."""
        job = await self.get(workspace, job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        rag = await self._open(workspace)
        self._workspaces.add(workspace)
        await self._claim(workspace, rag, job_id)
        return await self.get(workspace, job_id)

    async def wait(self, job_id: str) -> None:
        """Wait until this process's run of the job ends (tests, the CLI)."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- running ----------------------------------------------------------------------

    def _dead_here(self, worker: str | None) -> bool:
        """Whether ``worker`` was a process of this host that no longer exists."""
        host, _, pid = (worker or "").rpartition(":")
        if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    async def _claim(
        self, workspace: str, rag: GraphRAG, job_id: str, *, stale_seconds: float | None = None
    ) -> bool:
        stale = self._stale if stale_seconds is None else stale_seconds
        claimed = await rag.components.store.claim_job(job_id, self.worker, stale_seconds=stale)
        if claimed is None:
            return False
        task = asyncio.create_task(self._run(workspace, rag, claimed), name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return True

    async def _run(self, workspace: str, rag: GraphRAG, job: Job) -> None:
        store = rag.components.store
        beat = asyncio.create_task(self._beat(rag, job))
        try:
            async with self._run_lock:
                job.started_at = job.started_at or utcnow()
                await self._save(rag, job)
                with budget_scope():  # a job is one run for the LLM budget
                    await self._ingest_pending(workspace, rag, job)
            self._finish(job)
            await self._save(rag, job)
            if job.status is JobStatus.SUCCEEDED or job.done == job.total:
                await asyncio.to_thread(self._remove_spool, job)
        except asyncio.CancelledError:
            job.status, job.worker = JobStatus.INTERRUPTED, None
            with contextlib.suppress(GraphRAGError):
                await asyncio.shield(
                    store.save_job(job.model_copy(update={"updated_at": utcnow()}))
                )
            raise
        except GraphRAGError as exc:
            logger.error("job %s failed: %s", job.id, exc)
            job.status, job.error, job.worker = JobStatus.FAILED, str(exc), None
            job.finished_at = utcnow()
            await self._save(rag, job)
        finally:
            beat.cancel()

    async def _ingest_pending(self, workspace: str, rag: GraphRAG, job: Job) -> None:
        """Ingest the pending inputs in batches, as the CLI does (one builder call per batch).

        A batch closes at :data:`BATCH_DOCUMENTS` documents or ``ingest.max_batch_chars``
        characters; its inputs are marked done (or failed) together once it is written.
        """
        force = bool(job.options.get("force", False))
        max_chars = rag.settings.ingest.max_batch_chars
        batch: list[tuple[JobFile, list[Document]]] = []
        for entry in job.files:
            if entry.status is not JobFileStatus.PENDING:
                continue
            try:
                documents = await asyncio.to_thread(self._load, rag, entry)
            except GraphRAGError as exc:
                if not _is_input_error(exc):
                    raise
                entry.status, entry.error = JobFileStatus.FAILED, str(exc)[:1000]
                await self._finished(workspace, rag, job, [entry])
                continue
            batch.append((entry, documents))
            loaded = [d for _, docs in batch for d in docs]
            if len(loaded) >= BATCH_DOCUMENTS or sum(len(d.text) for d in loaded) >= max_chars:
                await self._ingest_batch(workspace, rag, job, batch, force=force)
                batch = []
        if batch:
            await self._ingest_batch(workspace, rag, job, batch, force=force)

    async def _ingest_batch(
        self,
        workspace: str,
        rag: GraphRAG,
        job: Job,
        batch: list[tuple[JobFile, list[Document]]],
        *,
        force: bool,
    ) -> None:
        documents = [d for _, docs in batch for d in docs]
        summary = await rag.ingest_documents(documents, force=force)
        if summary.report.stopped is not None:  # the LLM budget: these inputs stay pending
            raise GraphRAGError(summary.report.stopped)
        failed = dict(summary.report.failed)
        for entry, docs in batch:
            reasons = [f"{d.source}: {failed[d.source]}" for d in docs if d.source in failed]
            entry.documents = len(docs)
            entry.status = JobFileStatus.FAILED if reasons else JobFileStatus.DONE
            entry.error = "; ".join(reasons)[:1000] or None
        _add_counts(job, summary.report.written, summary.report.chunks, len(failed))
        await self._finished(workspace, rag, job, [entry for entry, _ in batch])

    async def _finished(
        self, workspace: str, rag: GraphRAG, job: Job, entries: list[JobFile]
    ) -> None:
        job.done += len(entries)
        await self._save(rag, job)
        if self._observe is None:
            return
        for entry in entries:
            failed_input = int(entry.status is JobFileStatus.FAILED)
            self._observe(workspace, 0 if failed_input else entry.documents, failed_input)

    def _load(self, rag: GraphRAG, entry: JobFile) -> list[Document]:
        from graphrag.ingest.loaders import load_file

        path = Path(entry.spool or "")
        if path.name.endswith(".text.json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            item = JobInput(name=record["source"], text=record["text"], title=record["title"])
            return [text_document(item)]
        try:
            loaded = load_file(path, rag.settings.ingest)
        except IngestError as exc:  # name the upload, not the spool path on this server
            raise IngestError(entry.name, exc.reason) from None
        return [_as_upload(d, str(path.resolve()), entry.name) for d in loaded]

    def _finish(self, job: Job) -> None:
        failed = [f for f in job.files if f.status is JobFileStatus.FAILED]
        job.status = (
            JobStatus.FAILED if failed and len(failed) == job.total else JobStatus.SUCCEEDED
        )
        if failed:
            job.error = f"{len(failed)} of {job.total} input(s) failed; see files"
        job.worker, job.finished_at = None, utcnow()

    async def _save(self, rag: GraphRAG, job: Job) -> None:
        job.updated_at = utcnow()
        job.heartbeat_at = job.updated_at if job.worker else job.heartbeat_at
        await rag.components.store.save_job(job)

    async def _beat(self, rag: GraphRAG, job: Job) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            with contextlib.suppress(GraphRAGError):
                await self._save(rag, job)

    def _remove_spool(self, job: Job) -> None:
        folders = {Path(f.spool).parent for f in job.files if f.spool}
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def _add_counts(job: Job, written: int, chunks: int, failed: int) -> None:
    summary = job.summary
    summary["documents_written"] = int(summary.get("documents_written", 0)) + written
    summary["chunks"] = int(summary.get("chunks", 0)) + chunks
    summary["documents_failed"] = int(summary.get("documents_failed", 0)) + failed


def _is_input_error(exc: GraphRAGError) -> bool:
    from graphrag.errors import InvalidGraphError

    return isinstance(exc, IngestError | InvalidGraphError)


def _as_upload(document: Document, spool_path: str, name: str) -> Document:
    """Give a document loaded from the spool its upload source (``upload://name[#record]``)."""
    rest = document.source[len(spool_path) :] if document.source.startswith(spool_path) else ""
    source = f"{UPLOAD_SCHEME}{name}{rest}"
    spooled = Path(spool_path)

    def unspool(value: str) -> str:  # the spool's "0000-" prefix and folder never show
        value = value.replace(str(spooled), name).replace(spooled.name, name)
        return value.replace(spooled.stem, Path(name).stem)

    metadata = {k: unspool(v) if isinstance(v, str) else v for k, v in document.metadata.items()}
    return document.model_copy(
        update={
            "id": document_id(source),
            "source": source,
            "title": unspool(document.title),
            "metadata": metadata,
        }
    )
