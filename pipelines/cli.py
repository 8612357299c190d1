"""The ``graphrag`` command line (typer).

Every command takes ``--config``, ``--store``, ``--db`` and ``--log-level``; settings are built
here and only here, with :func:`graphrag.config.load_settings`. Expected errors print one red
message on stderr and exit with code 2 (bad configuration or input) or 1 (runtime failure);
no traceback. Ctrl-C (SIGINT) exits with 130 and SIGTERM with 143 ("interrupted" /
"terminated"), after stopping the spaCy worker processes and closing the store. Text from
documents and users is printed through :func:`pipelines.report.printable`: control
characters never reach the terminal.

Heavy modules (models, stores) are imported inside the commands, so ``graphrag --help`` is
fast. Tests replace :func:`open_components` to reuse models loaded once per session.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from graphrag.config import LOG_LEVELS, EmbeddedStoreSettings, Settings, StoreKind, load_settings
from graphrag.errors import (
    ConfigError,
    EvaluationError,
    GraphRAGError,
    InvalidQueryError,
    NotFoundError,
)
from pipelines.report import (
    chunk_counter,
    escape_log_output,
    printable,
    progress_bar,
    progress_callback,
    safe_json,
)

if TYPE_CHECKING:
    from graphrag.runtime import Components

T = TypeVar("T")

app = typer.Typer(
    name="graphrag",
    help="Build a knowledge graph from documents and answer questions with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML/YAML settings file.", show_default=False)
]
StoreOpt = Annotated[
    StoreKind | None, typer.Option("--store", help="Graph store.", show_default=False)
]
DbOpt = Annotated[
    Path | None, typer.Option("--db", help="SQLite file of the embedded store.", show_default=False)
]
LogOpt = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING...", show_default=False)
]
BAD_INPUT = 2
FAILURE = 1
INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread when the CLI receives SIGTERM (handled like Ctrl-C)."""


async def open_components(settings: Settings) -> Components:
    """Build the components of a command (the hook tests replace)."""
    from graphrag.runtime import open_components as open_runtime

    return await open_runtime(settings)


def main() -> None:
    """Entry point of the ``graphrag`` script."""
    from pipelines import analyst_queries

    app.add_typer(analyst_queries.app, name="analyst-queries")
    install_sigterm_handler()
    app()


def install_sigterm_handler() -> None:
    """Make SIGTERM stop the command like Ctrl-C does (exit code 143, no orphan workers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    extractor = sys.modules.get("graphrag.extract.spacy_extractor")
    if extractor is not None:  # kill running spaCy workers so nothing waits for them
        extractor.stop_workers()
    raise TerminatedError


# --- plumbing ----------------------------------------------------------------------------------


def fail(message: str, code: int) -> typer.Exit:
    """Print ``message`` in red on stderr and return the exit to raise."""
    stderr.print(Text(f"error: {printable(message)}", style="red"), soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn expected errors into one red line and an exit code (2 bad input, 1 failure)."""
    try:
        yield
    except (ConfigError, InvalidQueryError, EvaluationError) as exc:
        raise fail(str(exc), BAD_INPUT) from None
    except NotFoundError as exc:
        raise fail(f"not found: {exc}", FAILURE) from None
    except GraphRAGError as exc:
        raise fail(str(exc), FAILURE) from None
    except TerminatedError:
        raise fail("terminated (SIGTERM); work already written is kept", TERMINATED) from None
    except KeyboardInterrupt:
        raise fail("interrupted", INTERRUPTED) from None


def make_settings(
    config: Path | None,
    store: StoreKind | None,
    db: Path | None,
    log_level: str | None,
    *,
    existing: bool = False,
    **overrides: Any,
) -> Settings:
    """Build the settings from the global options and configure logging.

    Args:
        config: ``--config``.
        store: ``--store``.
        db: ``--db``.
        log_level: ``--log-level``.
        existing: The command reads a graph: an embedded store file that does not exist is
            an error (a mistyped ``--db`` must not silently create an empty store).
        **overrides: Further top-level settings.

    Raises:
        ConfigError: If the file or a value is invalid, or the store file is missing.
    """
    if store is not None:
        overrides["store"] = store
    if db is not None:
        overrides["embedded"] = {"path": db}
    if log_level is not None:
        if log_level.strip().upper() not in LOG_LEVELS:
            msg = f"unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}"
            raise ConfigError(msg)
        overrides["log_level"] = log_level
    settings = load_settings(config, **overrides)
    level = settings.log_level
    path = settings.embedded.path
    if existing and settings.store is StoreKind.EMBEDDED and not path.exists():
        msg = (
            f"no graph store at {path}; ingest documents first (graphrag ingest PATH --db "
            f"{path}) or point --db / GRAPHRAG_EMBEDDED__PATH at an existing store"
        )
        raise ConfigError(msg)
    from graphrag.runtime import configure_logging

    configure_logging(level)
    escape_log_output()
    return settings


def run_with(settings: Settings, body: Callable[[Components], Coroutine[Any, Any, T]]) -> T:
    """Open the components, run ``body`` on them, close them; all in one event loop."""
    return asyncio.run(with_components(settings, body))


async def with_components(
    settings: Settings, body: Callable[[Components], Coroutine[Any, Any, T]]
) -> T:
    """Open the components, run ``body`` and close them whatever happens."""
    components = await open_components(settings)
    try:
        return await body(components)
    finally:
        await components.close()


# --- commands ----------------------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or glob patterns.")],
    force: Annotated[bool, typer.Option("--force", help="Rebuild unchanged documents.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 256,
    no_recursive: Annotated[
        bool, typer.Option("--no-recursive", help="Do not descend into sub-folders.")
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links", help="Follow symbolic links that point outside the given folders."
        ),
    ] = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Load files and build the graph; unchanged documents are skipped."""
    from pipelines.ingest_job import run_ingest
    from pipelines.report import ingest_table, print_failures

    with errors():
        overrides: dict[str, Any] = {}
        if follow_links:
            overrides["ingest"] = {"follow_external_links": True}
        settings = make_settings(config, store, db, log_level, **overrides)
        with progress_bar("documents", stderr) as bar:
            callback = progress_callback(bar, "documents")
            chunks = chunk_counter(bar)

            async def body(c: Components) -> Any:
                c.builder.on_chunks = chunks
                return await run_ingest(
                    c,
                    paths,
                    force=force,
                    batch_size=batch_size,
                    recursive=not no_recursive,
                    progress=callback,
                )

            summary = run_with(settings, body)
    stdout.print(ingest_table(summary))
    print_failures(stderr, summary.failures)
    if not summary.ok:
        raise typer.Exit(FAILURE)


@app.command()
def query(
    question: Annotated[str, typer.Argument(help="The question.")],
    mode: Annotated[
        str | None, typer.Option("--mode", help="ppr, naive, bm25, local or hybrid.")
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, help="Chunks retrieved.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Answer a question with citations and show the retrieved context."""
    from graphrag.retrieve.modes import parse_mode
    from graphrag.retrieve.question import validate_question
    from pipelines.report import print_answer

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)
        text = validate_question(question, settings.retrieval.max_question_chars)
        chosen = parse_mode(mode or settings.retrieval.mode)

        async def body(c: Components) -> Any:
            context = await c.retrieval.retrieve(text, mode=chosen, top_k=top_k)
            answer = await c.answerer.answer(text, context)
            return answer.model_copy(update={"context": context})

        answer = run_with(settings, body)
    if as_json:
        typer.echo(safe_json(answer.model_dump_json(indent=2)))
    else:
        print_answer(stdout, answer)


@app.command()
def delete(
    doc: Annotated[str, typer.Argument(help="Document id or source path.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Delete a document and what only it supported (a file path deletes all its records)."""
    from pipelines.ingest_job import find_document_ids
    from pipelines.report import delete_table

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)

        async def body(c: Components) -> list[Any]:
            from graphrag.resolution.actions import delete_documents

            ids = await find_document_ids(c.store, doc)
            if not ids:
                msg = f"no document with id or source {doc!r}; see `graphrag stats`"
                raise NotFoundError(msg)
            reports, _ = await delete_documents(c.store, c.builder.reconciler, ids)
            return reports

        reports = run_with(settings, body)
    for report in reports:
        stdout.print(delete_table(report))


@app.command()
def stats(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Show object counts of the store."""
    from pipelines.report import stats_table

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)
        result = run_with(settings, lambda c: c.store.stats())
    stdout.print(stats_table(result))


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="graphml or json.")] = "graphml",
    with_chunks: Annotated[
        bool, typer.Option("--with-chunks", help="Add document and chunk nodes.")
    ] = False,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Export entities and relations (optionally documents and chunks) with networkx."""
    from pipelines.export import ExportFormat, export_graph

    with errors():
        try:
            chosen = ExportFormat(fmt.lower())
        except ValueError:
            raise fail(f"unknown export format {fmt!r}; use graphml or json", BAD_INPUT) from None
        settings = make_settings(config, store, db, log_level, existing=True)
        summary = run_with(
            settings, lambda c: export_graph(c.store, chosen, output, with_chunks=with_chunks)
        )
    stdout.print(
        printable(
            f"wrote {summary.path} ({summary.format.value}): {summary.nodes} nodes, "
            f"{summary.edges} edges ({summary.entities} entities, {summary.relations} "
            f"relations, {summary.documents} documents, {summary.chunks} chunks)"
        ),
        markup=False,
    )


@app.command("eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="Dataset folder or questions JSON.")],
    modes: Annotated[
        str, typer.Option("--modes", help="Comma-separated modes.")
    ] = "naive,bm25,local,hybrid,ppr",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="First N questions (and their passages).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default .graphrag/eval/<name>).")
    ] = None,
    reuse_index: Annotated[
        bool, typer.Option("--reuse-index/--no-reuse-index", help="Keep a matching index.")
    ] = True,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Score retrieval modes on a dataset: recall@2/5/10, all-gold@5/8, latency.

    The corpus is indexed into <out>/index.db (an embedded store, whatever --store and --db
    say); results go to <out>/results.json, results.md and recall.png.
    """
    from graphrag.evaluation import load_dataset
    from pipelines.eval_job import parse_modes, run_eval
    from pipelines.report import eval_table, write_eval_report

    with errors():
        settings = make_settings(config, store, db, log_level)
        chosen = parse_modes(modes)
        data = load_dataset(dataset).slice(limit)
        out_dir = out or Path(".graphrag") / "eval" / data.name
        with progress_bar("evaluation", stderr) as bar:
            indexing = progress_callback(bar, "indexing")
            querying = progress_callback(bar, "queries")
            result = asyncio.run(
                run_eval(
                    data,
                    settings=settings,
                    opener=open_components,
                    out_dir=out_dir,
                    modes=chosen,
                    reuse_index=reuse_index,
                    index_progress=indexing,
                    query_progress=querying,
                )
            )
        paths = write_eval_report(result)
    stdout.print(eval_table(result.scores))
    stdout.print(f"{result.questions} questions, {result.passages} passages")
    for kind, path in paths.items():
        stdout.print(printable(f"{kind}: {path}"), markup=False)


@app.command()
def merges(
    undo: Annotated[
        str | None, typer.Option("--undo", help="Undo this merge and rebuild its documents.")
    ] = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """List entity merges (alias -> canonical), or undo one with --undo MERGE_ID."""
    from pipelines.ingest_job import undo_merge
    from pipelines.report import print_merges

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)
        if undo is None:
            records, names = run_with(settings, _merges_with_names)
            print_merges(stdout, records, names)
            return
        derived = run_with(settings, lambda c: undo_merge(c, undo))
    stdout.print(
        f"merge {undo} undone; {derived} document(s) derived again from their stored chunks"
    )


async def _merges_with_names(components: Components) -> tuple[list[Any], dict[str, str]]:
    records = await components.store.merges()
    ids = list(dict.fromkeys(r.canonical_id for r in records))
    entities = await components.store.get_entities(ids) if ids else []
    return records, {e.id: f"{e.name} ({e.type})" for e in entities}


@app.command()
def migrate(
    to: Annotated[StoreKind, typer.Option("--to", help="Target store kind.")],
    target_db: Annotated[
        Path | None, typer.Option("--target-db", help="SQLite file when --to embedded.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 100,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Copy the configured store into the other one (documents, graph, vectors, merges)."""
    from pipelines.export import export_to_store, same_store

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)
        overrides: dict[str, Any] = {"store": to}
        if target_db is not None:
            overrides["embedded"] = {"path": target_db}
        elif db is not None:
            overrides["embedded"] = {"path": db}
        target = load_settings(config, **overrides)
        if same_store(settings, target):
            msg = "source and target are the same store; pass --target-db or another --to"
            raise ConfigError(msg)
        with progress_bar("documents", stderr) as bar:
            callback = progress_callback(bar, "documents")
            result = run_with(
                settings,
                lambda c: export_to_store(
                    c.store, c.embedder, target, batch_size=batch_size, progress=callback
                ),
            )
    stdout.print(
        printable(
            f"migrated {result.documents} documents ({result.chunks} chunks, "
            f"{result.entities_new} entities, {result.relations_new} relations, "
            f"{result.merges} merges) from {result.source} to {result.target} in "
            f"{result.seconds:.1f} s"
        ),
        markup=False,
    )


@app.command()
def schema(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Create the store schema (idempotent) and, for ArangoDB, build the vector indexes."""
    from pipelines.report import stats_table

    async def body(c: Components) -> Any:
        finalize = getattr(c.store, "finalize_load", None)
        if finalize is not None:
            await finalize()
        return await c.store.stats()

    with errors():
        settings = make_settings(config, store, db, log_level)
        result = run_with(settings, body)
    stdout.print(printable(f"schema ready at {result.location}"), markup=False)
    stdout.print(stats_table(result))


@app.command()
def analyze(
    resolution: Annotated[float, typer.Option("--resolution", help="Louvain resolution.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Louvain random seed.")] = 42,
    min_size: Annotated[int, typer.Option("--min-community-size", min=1)] = 2,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Rank entities (PageRank) and detect communities (Louvain) over the stored graph."""
    from pipelines.analyze_job import run_analysis

    with errors():
        settings = make_settings(config, store, db, log_level, existing=True)
        report = run_with(
            settings,
            lambda c: run_analysis(
                c, resolution=resolution, seed=seed, min_community_size=min_size
            ),
        )
    stdout.print(
        f"ranked {report.entities} entities over {report.relations} relations; "
        f"saved {report.communities} communities in {report.seconds:.1f} s"
    )


@app.command()
def demo(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    db: DbOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Quick start: ingest the bundled sample corpus and answer its sample questions.

    The store is the configured one; an embedded store left at its default path is replaced
    by .graphrag/demo.db so the demo never mixes with your own graph.
    """
    from pipelines.demo import DEMO_DB, run_demo

    with errors():
        settings = make_settings(config, store, db, log_level)
        if db is None and settings.embedded.path == EmbeddedStoreSettings().path:
            settings = settings.model_copy(update={"embedded": EmbeddedStoreSettings(path=DEMO_DB)})
        result = run_with(settings, lambda c: run_demo(c, stdout))
    if result.errors or not result.summary.ok:
        raise typer.Exit(FAILURE)


if __name__ == "__main__":
    main()
