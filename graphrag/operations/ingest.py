"""The ingest job: discover files, load them, build the graph in batches.

A file that cannot be loaded is recorded and skipped; the other files go on. Documents are
handed to :class:`~graphrag.build.GraphBuilder` in batches of ``batch_size``; the builder
skips unchanged documents (same content hash) unless ``force`` is set, so a rerun after a
crash or an edit only does the missing work.

On glibc the job keeps the process small: it has the allocator return freed memory at once
and calls ``malloc_trim`` after each batch, before the next batch forks its spaCy workers
(see :mod:`graphrag.native_memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrag.build import IngestReport
from graphrag.errors import IngestError, InvalidArgumentError
from graphrag.ids import document_id
from graphrag.ingest.discover import discover
from graphrag.ingest.loaders import load_file
from graphrag.models import Document
from graphrag.native_memory import release_free_memory, trim_on_free
from graphrag.ports import GraphStore
from graphrag.runtime import Components

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called with ``(documents processed, documents loaded so far)``."""


@dataclass
class IngestSummary:
    """What an ingest job did, for the summary table.

    Attributes:
        files: Files found by discovery.
        input_errors: ``(input, reason)`` of inputs that matched no file.
        file_errors: ``(path, reason)`` of files that could not be loaded.
        documents: Documents loaded from the files.
        removed: Stored records (of JSON, JSON Lines and CSV files) that are no longer in
            their file: deleted, as a fresh ingest of the file would not have them.
        report: The builder's merged report.
        seconds: Wall time of the whole job (loading included).
    """

    files: int = 0
    input_errors: list[tuple[str, str]] = field(default_factory=list)
    file_errors: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0
    removed: int = 0
    report: IngestReport = field(default_factory=IngestReport)
    seconds: float = 0.0

    @property
    def new(self) -> int:
        """Documents written for the first time."""
        return self.report.written - self.report.replaced

    @property
    def failures(self) -> list[tuple[str, str]]:
        """Every failure as a ``(what, reason)`` pair, in this order.

        ``what`` is the input that matched no file, then the path of a file that could not
        be loaded, then the source of a document that failed to build.
        """
        return [*self.input_errors, *self.file_errors, *self.report.failed]

    @property
    def ok(self) -> bool:
        """Whether every file loaded and every document was built (no budget stop)."""
        return not self.failures and self.report.stopped is None

    @property
    def docs_per_second(self) -> float:
        """Documents handled per second of wall time."""
        return self.documents / self.seconds if self.seconds > 0 else 0.0

    @property
    def chunks_per_second(self) -> float:
        """Chunks written per second of wall time."""
        return self.report.chunks / self.seconds if self.seconds > 0 else 0.0


def _load_one(path: Path, components: Components) -> list[Document]:
    """Load one file; a failure of any kind becomes an :class:`IngestError` for that file."""
    try:
        return load_file(path, components.settings.ingest)
    except IngestError:
        raise
    except Exception as exc:  # a parser failure nobody foresaw must not stop the other files
        name = type(exc).__name__
        logger.debug("unexpected %s while loading %s", name, path, exc_info=True)
        detail = " ".join(str(exc).split())[:200]
        reason = (
            f"unexpected {name} while loading ({detail}); the file was skipped: run with "
            "--log-level DEBUG for the traceback and report it"
        )
        raise IngestError(str(path), reason) from exc


def discover_inputs(
    inputs: Sequence[str | Path], *, recursive: bool = True, follow_external_links: bool = False
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand paths, folders and globs into the files to load.

    Returns:
        The files in a stable order and ``(input, reason)`` for inputs that matched nothing.
    """
    paths, errors = discover(
        [str(i) for i in inputs], recursive=recursive, follow_external_links=follow_external_links
    )
    return list(paths), [(e.path, e.reason) for e in errors]


async def run_ingest(
    components: Components,
    inputs: Sequence[str | Path],
    *,
    force: bool = False,
    batch_size: int = 256,
    recursive: bool = True,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Discover, load and ingest files through the builder.

    Args:
        components: The open components (store, builder, ...).
        inputs: Files, folders or glob patterns.
        force: Rebuild documents even when their content is unchanged.
        batch_size: Most documents per builder call (a batch also closes at
            ``ingest.max_batch_chars`` characters, so a large file forms its own batch).
        recursive: Descend into sub-folders.
        progress: Optional callback for a progress bar (documents).

    Returns:
        The summary; failures are listed in it, not raised.
    """
    if batch_size < 1:
        msg = f"batch size must be at least 1 (got {batch_size})"
        raise InvalidArgumentError(msg)
    start = time.perf_counter()
    trim_on_free()
    follow = components.settings.ingest.follow_external_links
    paths, errors = await asyncio.to_thread(
        discover_inputs, inputs, recursive=recursive, follow_external_links=follow
    )
    summary = IngestSummary(files=len(paths), input_errors=errors)
    max_chars = components.settings.ingest.max_batch_chars
    pending: list[Document] = []
    done = 0
    for path in paths:
        if summary.report.stopped:
            break  # the LLM budget stopped the run: a rerun continues from here
        documents = await _load_recorded(path, components, summary)
        if not documents:
            continue
        summary.documents += len(documents)
        summary.removed += await _remove_vanished_records(components, documents)
        for document in documents:
            if pending and _chars(pending) + len(document.text) > max_chars:
                done = await _ingest_batch(components, pending, summary, force=force, done=done)
                pending = []
                _notify(progress, done, summary.documents)
            pending.append(document)
            if len(pending) >= batch_size:
                done = await _ingest_batch(components, pending, summary, force=force, done=done)
                pending = []
                _notify(progress, done, summary.documents)
            if summary.report.stopped:
                pending = []
                break
        _notify(progress, done, summary.documents)
    if pending and not summary.report.stopped:
        done = await _ingest_batch(components, pending, summary, force=force, done=done)
    _notify(progress, done, summary.documents)
    summary.seconds = time.perf_counter() - start
    return summary


async def _remove_vanished_records(components: Components, documents: list[Document]) -> int:
    """Delete stored records of a multi-record file that the file no longer holds.

    Only for files that loaded: a file that fails keeps its stored records.

    Returns:
        How many were deleted.
    """
    from graphrag.resolution.actions import delete_documents

    prefixes = {d.source.split("#", 1)[0] + "#" for d in documents if "#" in d.source}
    if not prefixes:
        return 0
    present = {d.id for d in documents}
    stored = await components.store.list_documents()
    gone = [
        d.id
        for d in stored
        if d.id not in present and any(d.source.startswith(p) for p in prefixes)
    ]
    if gone:
        logger.info("deleting %d records no longer in their file", len(gone))
        await delete_documents(components.store, components.builder.reconciler, gone)
    return len(gone)


def _chars(documents: Sequence[Document]) -> int:
    return sum(len(d.text) for d in documents)


async def _load_recorded(
    path: Path, components: Components, summary: IngestSummary
) -> list[Document]:
    """Load one file; whatever goes wrong becomes its one line in ``summary.file_errors``.

    Failures are logged at DEBUG only: the CLI prints the summary's failures, once each.
    """
    try:
        return await asyncio.to_thread(_load_one, path, components)
    except IngestError as exc:
        logger.debug("skipping %s: %s", exc.path, exc.reason)
        summary.file_errors.append((exc.path, exc.reason))
    except Exception as exc:  # never let one file stop the others
        logger.debug("unexpected %s while loading %s", type(exc).__name__, path, exc_info=True)
        reason = f"unexpected {type(exc).__name__} while loading; the file was skipped"
        summary.file_errors.append((str(path), reason))
    return []


async def ingest_documents(
    components: Components,
    documents: Sequence[Document],
    *,
    force: bool = False,
    batch_size: int = 256,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest already loaded documents in batches (datasets, re-ingests).

    Returns:
        The merged builder report.
    """
    summary = IngestSummary(documents=len(documents))
    trim_on_free()
    done = 0
    for start in range(0, len(documents), batch_size):
        batch = list(documents[start : start + batch_size])
        done = await _ingest_batch(components, batch, summary, force=force, done=done)
        _notify(progress, done, len(documents))
    return summary.report


async def _ingest_batch(
    components: Components,
    batch: list[Document],
    summary: IngestSummary,
    *,
    force: bool,
    done: int,
) -> int:
    report = await components.builder.ingest(batch, force=force)
    # the batch is written: give freed memory back before the next batch forks its workers
    await asyncio.to_thread(release_free_memory)
    summary.report = summary.report.merge(report)
    logger.info(
        "batch of %d: %d written, %d unchanged, %d failed in %.1fs",
        len(batch),
        report.written,
        report.unchanged,
        len(report.failed),
        report.seconds,
    )
    return done + len(batch)


def _notify(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


async def find_document_ids(store: GraphStore, ref: str) -> list[str]:
    """Return the ids of the stored documents ``ref`` names.

    ``ref`` may be a document id, a source as stored, or a file path (relative paths are
    resolved); a JSON/JSONL/CSV file names all of its records (sources ``<path>#...``).

    Returns:
        The matching document ids (empty when nothing matches).
    """
    for candidate in (ref, document_id(ref)):
        found = await store.get_document(candidate)
        if found is not None:
            return [found.id]
    source = await asyncio.to_thread(_absolute, ref)
    found = await store.get_document(document_id(source))
    if found is not None:
        return [found.id]
    prefix = source + "#"
    return [d.id for d in await store.list_documents() if d.source.startswith(prefix)]


def _absolute(ref: str) -> str:
    """Return ``ref`` as an absolute path (``~user`` of an unknown user stays as written)."""
    path = Path(ref)
    with contextlib.suppress(RuntimeError):  # no home for that user: keep ``~user`` as written
        path = path.expanduser()
    return str(path.resolve())


async def undo_merge(components: Components, merge_id: str) -> tuple[int, bool]:
    """Undo a merge and derive the documents it touched again (from the stored chunks).

    Returns:
        The number of documents derived again, and whether the merge was already undone.

    Raises:
        NotFoundError: If there is no such merge.
    """
    from graphrag.resolution.actions import undo_merge as undo

    _, outcome = await undo(components.store, components.builder.reconciler, merge_id)
    return outcome.documents, outcome.already_undone
