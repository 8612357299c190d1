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
    fail,
    run_rag,
    say,
    shared,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from graphrag.config import Settings
    from graphrag.extract.llm_extractor import LLMExtractor
    from graphrag.facade import GraphRAG
    from graphrag.models import Answer, Document
    from graphrag.operations.ingest import IngestSummary


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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Load and chunk the files, then print the expected LLM calls, tokens and cost "
            "of the extraction tier (cached replies free); no model is called, nothing written.",
        ),
    ] = False,
) -> None:
    """Load files and build the graph; unchanged documents are skipped.

    With an LLM extraction tier, a budget (llm.max_cost, llm.max_tokens_per_run) that is
    reached stops the run cleanly (exit code 1); rerunning the command continues.
    """
    with errors():
        overrides: dict[str, Any] = {}
        if follow_links:
            overrides["ingest"] = {"follow_external_links": True}
        settings = opts.settings(**overrides)
        if dry_run:
            _ingest_dry_run(settings, paths, recursive=not no_recursive, as_json=opts.as_json)
            return
        run = _IngestRun(paths, force=force, batch_size=batch_size, recursive=not no_recursive)
        summary, extractor, stopped = run_rag(settings, run.body)
    _ingest_output(summary, extractor, stopped, run.done, as_json=opts.as_json)


class _IngestRun:
    """One ``graphrag ingest``: progress bars, the LLM's start-up check, a budget stop."""

    def __init__(self, paths: list[str], *, force: bool, batch_size: int, recursive: bool) -> None:
        self.paths, self.force, self.batch_size = paths, force, batch_size
        self.recursive = recursive
        self.done = 0
        """Documents processed (batches finished), for the budget-stop line."""

    async def body(
        self, rag: GraphRAG
    ) -> tuple[IngestSummary | None, LLMExtractor | None, str | None]:
        """Ingest; return the summary (``None`` if the budget stopped the builder)."""
        from graphrag.extract.factory import llm_part
        from graphrag.llm.errors import BudgetExceededError
        from pipelines.report import chunk_counter, progress_bar, progress_callback

        extractor = llm_part(rag.components.extractor)
        if extractor is not None:
            await extractor.check()  # a wrong URL, key or model fails here, at once
        with progress_bar("documents", stderr) as bar:
            progress = progress_callback(bar, "documents")
            rag.components.builder.on_chunks = chunk_counter(bar)

            def track(processed: int, total: int) -> None:
                self.done = processed
                progress(processed, total)

            try:
                summary = await rag.ingest(
                    self.paths, force=self.force, batch_size=self.batch_size,
                    recursive=self.recursive, progress=track,
                )  # fmt: skip
            except BudgetExceededError as exc:
                return None, extractor, str(exc)
        return summary, extractor, None


def _ingest_output(
    summary: IngestSummary | None,
    extractor: LLMExtractor | None,
    stopped: str | None,
    done: int,
    *,
    as_json: bool,
) -> None:
    """Print the summary (and the LLM's work); exit 1 on failures or a budget stop."""
    from pipelines.payloads import ingest_payload
    from pipelines.report import ingest_table, print_failures

    if summary is None:  # the builder let the budget stop through: nothing more to show
        _print_llm(extractor, as_json=True)
        from pipelines.ingest_llm import budget_message

        raise fail(budget_message(stopped or "LLM budget reached", done), FAILURE)
    if as_json:
        payload = ingest_payload(summary)
        if extractor is not None:
            from pipelines.ingest_llm import usage_payload

            payload["llm"] = usage_payload(extractor)
        emit_json(payload)
    else:
        stdout.print(ingest_table(summary))
    _print_llm(extractor, as_json=as_json)
    print_failures(stderr, summary.failures)
    stopped = summary.report.stopped
    if stopped is None and extractor is not None:
        stopped = extractor.stats.budget_stop
    if stopped is not None:
        from pipelines.ingest_llm import stop_message

        stderr.print(stop_message(stopped), style="red", markup=False, soft_wrap=True)
    if not summary.ok or stopped is not None:
        raise typer.Exit(FAILURE)


def _ingest_dry_run(
    settings: Settings, paths: list[str], *, recursive: bool, as_json: bool
) -> None:
    """Print what an ingest of ``paths`` would send to the LLM (nothing is called)."""
    import asyncio

    from graphrag.extract.dry_run import dry_run
    from graphrag.llm import Budget
    from pipelines.ingest_llm import budget_warning, dry_run_payload, dry_run_table
    from pipelines.report import print_failures

    report = asyncio.run(dry_run(settings, paths, recursive=recursive))
    warning = budget_warning(report, Budget(settings.llm.max_cost, settings.llm.max_tokens_per_run))
    if as_json:
        emit_json({**dry_run_payload(report), "budget_warning": warning})
    else:
        stdout.print(dry_run_table(report))
    print_failures(stderr, report.failures)
    if warning is not None:
        stderr.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)


def _print_llm(extractor: LLMExtractor | None, *, as_json: bool) -> None:
    """The LLM's work in one line (not with --json: the payload has it), failed chunks."""
    from pipelines.ingest_llm import failed_chunk_lines, usage_line
    from pipelines.report import print_failures

    if extractor is None:
        return
    if not as_json:
        say(usage_line(extractor))
    print_failures(stderr, failed_chunk_lines(extractor.stats))


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

    With an LLM configured the answer is written by the model and shown as it is generated,
    then its checked citations. With --json the whole Answer (with its context) is printed
    as JSON.
    """
    from pipelines.report import print_answer, safe_json

    with errors():
        chosen = {"mode": None if mode is None else mode.value, "top_k": top_k}
        retrieval = {k: v for k, v in chosen.items() if v is not None}
        settings = opts.settings(existing=True, **({"retrieval": retrieval} if retrieval else {}))
        query = _QueryRun(settings, question, opts.as_json)
        answer, streamed = run_rag(settings, query.body, llm=True)
    if opts.as_json:
        typer.echo(safe_json(answer.model_dump_json(indent=2)))
    elif streamed:
        print_streamed_tail(answer)
    else:
        print_answer(stdout, answer)


class _QueryRun:
    """Answers one question: streamed live when an LLM writes it (and no JSON is wanted)."""

    def __init__(self, settings: Settings, question: str, as_json: bool) -> None:
        from graphrag.retrieve.modes import parse_mode
        from graphrag.retrieve.question import validate_question

        self.text = validate_question(question, settings.retrieval.max_question_chars)
        self.mode = parse_mode(settings.retrieval.mode)
        self.top_k = settings.retrieval.top_k
        self.as_json = as_json

    async def body(self, rag: GraphRAG) -> tuple[Answer, bool]:
        """Return the answer and whether it was streamed to stdout."""
        if self.as_json or rag.components.llm is None:
            return await rag.answer(self.text, mode=self.mode, top_k=self.top_k), False
        return await stream_answer(rag, self.text, self.mode, self.top_k), True


async def stream_answer(rag: GraphRAG, question: str, mode: RetrievalMode, top_k: int) -> Answer:
    """Print the question, then the answer's pieces as they arrive (stdout, flushed).

    Returns:
        The final answer (print the rest with :func:`print_streamed_tail`).
    """
    from rich.markup import escape

    from pipelines.report import printable

    stream = await rag.answer_stream(question, mode=mode, top_k=top_k)
    stdout.print(f"[bold]Q:[/bold] {escape(printable(question))}", soft_wrap=True)
    stdout.print(f"[bold]A[/bold] (LLM, mode {mode.value}): ", end="", soft_wrap=True)
    out = stdout.file
    try:
        async for piece in stream:
            out.write(printable(piece))
            out.flush()
    finally:
        out.write("\n")
        out.flush()
    return stream.answer


def print_streamed_tail(answer: Answer) -> None:
    """Print what follows a streamed answer: notes, citations with quotes, usage, context."""
    from pipelines.report import context_table, print_graph_context, printable

    for note in answer.notes:
        stdout.print(f"note: {printable(note)}", style="dim", markup=False, soft_wrap=True)
    for citation in answer.citations:
        line = f"{citation.title} ({citation.source}) chunk {citation.chunk_id}"
        say(f"  [{citation.marker}] {printable(line, one_line=True)}")
        say(f"      \u201c{printable(citation.quote, one_line=True)}\u201d")
    if answer.usage is not None:
        usage = answer.usage
        flags = "".join(
            f", {flag}"
            for flag, on in (("estimated", usage.estimated), ("cached", usage.cached))
            if on
        )
        say(
            f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
            f"tokens ({usage.model}{flags})"
        )
    if answer.context is not None:
        stdout.print(context_table(answer.context))
        print_graph_context(stdout, answer.context)
    stages = [("retrieval", answer.context.timings if answer.context else {})]
    for label, timings in [*stages, ("answer", answer.timings)]:
        if timings:
            say(f"{label} timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))


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
