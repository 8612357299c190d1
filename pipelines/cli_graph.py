"""Commands that build, query and inspect the graph.

``ingest``, ``query``, ``documents``, ``delete``, ``stats`` and ``merges``; registered on the
app by :mod:`pipelines.cli`, the shared options come from :func:`pipelines.cli_common.shared`.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphrag.errors import NotFoundError
from graphrag.models import DocumentStatus, RetrievalMode
from pipelines.cli_common import (
    FAILURE,
    CommonOptions,
    emit_json,
    enum_choice,
    errors,
    run_with,
    say,
    shared,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from graphrag.models import Document
    from graphrag.runtime import Components


@shared()
def ingest(
    opts: CommonOptions,
    paths: Annotated[list[str], typer.Argument(help="Files, folders or glob patterns.")],
    force: Annotated[bool, typer.Option("--force", help="Rebuild unchanged documents.")] = False,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            help="Documents handed to the builder at a time (a batch also closes at "
            "ingest.max_batch_chars characters).",
        ),
    ] = 256,
    no_recursive: Annotated[
        bool, typer.Option("--no-recursive", help="Do not descend into sub-folders.")
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Follow symbolic links that point outside the given folders.",
            envvar="GRAPHRAG_INGEST__FOLLOW_EXTERNAL_LINKS",
        ),
    ] = False,
) -> None:
    """Load files and build the graph; unchanged documents are skipped."""
    from pipelines.ingest_job import run_ingest
    from pipelines.payloads import ingest_payload
    from pipelines.report import chunk_counter, ingest_table, print_failures, progress_bar
    from pipelines.report import progress_callback as callback_of

    with errors():
        overrides: dict[str, Any] = {}
        if follow_links:
            overrides["ingest"] = {"follow_external_links": True}
        settings = opts.settings(**overrides)
        with progress_bar("documents", stderr) as bar:
            progress = callback_of(bar, "documents")
            chunks = chunk_counter(bar)

            async def body(c: Components) -> Any:
                c.builder.on_chunks = chunks
                return await run_ingest(
                    c,
                    paths,
                    force=force,
                    batch_size=batch_size,
                    recursive=not no_recursive,
                    progress=progress,
                )

            summary = run_with(settings, body)
    if opts.as_json:
        emit_json(ingest_payload(summary))
    else:
        stdout.print(ingest_table(summary))
    print_failures(stderr, summary.failures)
    if not summary.ok:
        raise typer.Exit(FAILURE)


@shared()
def query(
    opts: CommonOptions,
    question: Annotated[str, typer.Argument(help="The question.")],
    mode: Annotated[
        RetrievalMode | None,
        typer.Option(
            "--mode",
            help="Retrieval mode (default ppr).",
            envvar="GRAPHRAG_RETRIEVAL__MODE",
            show_default=False,
            **enum_choice(RetrievalMode, "retrieval mode"),
        ),
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            "--top-k",
            min=1,
            help="Chunks retrieved (default 10, at most 200).",
            envvar="GRAPHRAG_RETRIEVAL__TOP_K",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Answer a question with citations and show the retrieved context.

    With --json the whole Answer (with its context) is printed as JSON.
    """
    from graphrag.retrieve.modes import parse_mode
    from graphrag.retrieve.question import validate_question
    from pipelines.report import print_answer, safe_json

    with errors():
        chosen = {"mode": None if mode is None else mode.value, "top_k": top_k}
        retrieval = {k: v for k, v in chosen.items() if v is not None}
        settings = opts.settings(existing=True, **({"retrieval": retrieval} if retrieval else {}))
        text = validate_question(question, settings.retrieval.max_question_chars)
        retrieval_mode = parse_mode(settings.retrieval.mode)

        async def body(c: Components) -> Any:
            context = await c.retrieval.retrieve(
                text, mode=retrieval_mode, top_k=settings.retrieval.top_k
            )
            answer = await c.answerer.answer(text, context)
            return answer.model_copy(update={"context": context})

        answer = run_with(settings, body)
    if opts.as_json:
        typer.echo(safe_json(answer.model_dump_json(indent=2)))
    else:
        print_answer(stdout, answer)


def select_documents(
    documents: list[Document], *, contains: str | None, pattern: str | None
) -> list[Document]:
    """Keep the documents whose source contains ``contains`` and matches the glob ``pattern``."""
    folded = contains.casefold() if contains else None
    return [
        d
        for d in documents
        if (folded is None or folded in d.source.casefold())
        and (pattern is None or fnmatch.fnmatchcase(d.source, pattern))
    ]


@shared()
def documents(
    opts: CommonOptions,
    status: Annotated[
        DocumentStatus | None,
        typer.Option(
            "--status",
            help="Only documents in this state.",
            show_default=False,
            **enum_choice(DocumentStatus, "document status"),
        ),
    ] = None,
    source_contains: Annotated[
        str | None,
        typer.Option(
            "--source-contains",
            help="Only documents whose source contains this text (any case).",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Only documents whose source matches this glob pattern ('*.pdf', "
            "'/data/notes/*'; a JSON/CSV record's source ends in #id).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many (newest first).")
    ] = 50,
) -> None:
    """List stored documents: id, source, title, status, chunks, last update."""
    from pipelines.payloads import document_row
    from pipelines.report import documents_table

    with errors():
        settings = opts.settings(existing=True)

        async def body(c: Components) -> list[Document]:
            return await c.store.list_documents(status=status)

        found = select_documents(run_with(settings, body), contains=source_contains, pattern=source)
    rows = [document_row(d) for d in found[:limit]]
    if opts.as_json:
        emit_json({"total": len(found), "shown": len(rows), "documents": rows})
    else:
        stdout.print(documents_table(rows, len(found)))


@shared()
def delete(
    opts: CommonOptions,
    doc: Annotated[str, typer.Argument(help="Document id or source path.")],
) -> None:
    """Delete a document and what only it supported (a file path deletes all its records)."""
    from pipelines.ingest_job import find_document_ids
    from pipelines.payloads import delete_payload
    from pipelines.report import delete_table

    with errors():
        settings = opts.settings(existing=True)

        async def body(c: Components) -> list[Any]:
            from graphrag.resolution.actions import delete_documents

            ids = await find_document_ids(c.store, doc)
            if not ids:
                msg = (
                    f"no document with id or source {doc!r}; list the stored documents with "
                    "`graphrag documents` (--source-contains TEXT narrows the list)"
                )
                raise NotFoundError(msg)
            reports, _ = await delete_documents(c.store, c.builder.reconciler, ids)
            return reports

        reports = run_with(settings, body)
    if opts.as_json:
        emit_json(delete_payload(reports))
        return
    for report in reports:
        stdout.print(delete_table(report))


@shared()
def stats(opts: CommonOptions) -> None:
    """Show object counts of the store."""
    from pipelines.report import stats_table

    with errors():
        settings = opts.settings(existing=True)
        result = run_with(settings, lambda c: c.store.stats())
    if opts.as_json:
        emit_json(result)
    else:
        stdout.print(stats_table(result))


@shared()
def merges(
    opts: CommonOptions,
    undo: Annotated[
        str | None,
        typer.Option(
            "--undo",
            help="Undo this merge (its id, x_...) and rebuild its documents.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List entity merges (alias -> canonical), or undo one with --undo MERGE_ID."""
    from pipelines.ingest_job import undo_merge
    from pipelines.payloads import merges_payload
    from pipelines.report import print_merges

    with errors():
        settings = opts.settings(existing=True)
        if undo is None:
            records, names = run_with(settings, _merges_with_names)
        else:
            derived, already = run_with(settings, lambda c: undo_merge(c, undo))
    if undo is None:
        if opts.as_json:
            emit_json(merges_payload(records, names))
        else:
            print_merges(stdout, records, names)
    elif opts.as_json:
        emit_json({"undone": undo, "already_undone": already, "documents_derived": derived})
    elif already:
        say(f"merge {undo} was already undone; nothing to change ({derived} document(s) derived)")
    else:
        say(f"merge {undo} undone; {derived} document(s) derived again from their stored chunks")


async def _merges_with_names(components: Components) -> tuple[list[Any], dict[str, str]]:
    records = await components.store.merges()
    ids = list(dict.fromkeys(r.canonical_id for r in records))
    entities = await components.store.get_entities(ids) if ids else []
    names = {e.id: f"{e.name} ({e.type})" for e in entities}
    for record in records:  # a canonical entity that is gone (its documents were deleted)
        names.setdefault(record.canonical_id, f"{record.canonical_id} (deleted)")
    return records, names
