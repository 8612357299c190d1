"""Commands that build, query and inspect the graph.

``ingest``, ``query``, ``documents``, ``delete``, ``stats`` and ``merges``; registered on the
app by :mod:`pipelines.cli`, the shared options come from :func:`pipelines.cli_common.shared`.
"""

from __future__ import annotations

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
    run_rag,
    say,
    shared,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from graphrag.facade import GraphRAG
    from graphrag.models import Document


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

            async def body(rag: GraphRAG) -> Any:
                rag.components.builder.on_chunks = chunks
                return await rag.ingest(
                    paths,
                    force=force,
                    batch_size=batch_size,
                    recursive=not no_recursive,
                    progress=progress,
                )

            summary = run_rag(settings, body)
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

        async def body(rag: GraphRAG) -> Any:
            return await rag.answer(text, mode=retrieval_mode, top_k=settings.retrieval.top_k)

        answer = run_rag(settings, body)
    if opts.as_json:
        typer.echo(safe_json(answer.model_dump_json(indent=2)))
    else:
        print_answer(stdout, answer)


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

        async def body(rag: GraphRAG) -> list[Document]:
            return await rag.documents(status=status, contains=source_contains, pattern=source)

        found = run_rag(settings, body)
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
    from pipelines.payloads import delete_payload
    from pipelines.report import delete_table

    with errors():
        settings = opts.settings(existing=True)

        async def body(rag: GraphRAG) -> list[Any]:
            try:
                return await rag.delete(doc)
            except NotFoundError:
                msg = (
                    f"no document with id or source {doc!r}; list the stored documents with "
                    "`graphrag documents` (--source-contains TEXT narrows the list)"
                )
                raise NotFoundError(msg) from None

        reports = run_rag(settings, body)
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
        result = run_rag(settings, lambda rag: rag.stats())
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
    from pipelines.payloads import merges_payload
    from pipelines.report import print_merges

    with errors():
        settings = opts.settings(existing=True)
        if undo is None:
            records, names = run_rag(settings, _merges_with_names)
        else:
            derived, already = run_rag(settings, lambda rag: rag.undo_merge(undo))
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


async def _merges_with_names(rag: GraphRAG) -> tuple[list[Any], dict[str, str]]:
    records = await rag.merges()
    ids = list(dict.fromkeys(r.canonical_id for r in records))
    entities = await rag.components.store.get_entities(ids) if ids else []
    names = {e.id: f"{e.name} ({e.type})" for e in entities}
    for record in records:  # a canonical entity that is gone (its documents were deleted)
        names.setdefault(record.canonical_id, f"{record.canonical_id} (deleted)")
    return records, names
