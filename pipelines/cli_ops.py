"""Commands that move or measure the whole graph.

``export``, ``eval``, ``migrate``, ``schema``, ``analyze`` and ``demo``; registered on the app
by :mod:`pipelines.cli`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphrag.config import EmbeddedStoreSettings, StoreKind, load_settings
from graphrag.errors import ConfigError
from pipelines import cli_common
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
from pipelines.export import ExportFormat

if TYPE_CHECKING:
    from graphrag.runtime import Components


@shared()
def export(
    opts: CommonOptions,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="File to write (a folder for parquet)."),
    ],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="graphml or json (networkx node-link): the entity graph; parquet: one "
            "table per kind of object.",
            **enum_choice(ExportFormat, "export format"),
        ),
    ] = ExportFormat.GRAPHML,
    with_chunks: Annotated[
        bool,
        typer.Option("--with-chunks", help="graphml/json: add document and chunk nodes."),
    ] = False,
    with_embeddings: Annotated[
        bool,
        typer.Option("--with-embeddings", help="parquet: add the chunk vectors."),
    ] = False,
) -> None:
    """Export the graph: GraphML or JSON for graph tools, Parquet tables for data teams.

    Parquet writes documents, chunks, entities, relations, mentions, merges and communities
    as one file each into the --output folder.
    """
    from pipelines.export import export_graph
    from pipelines.parquet_export import export_tables

    with errors():
        settings = opts.settings(existing=True)
        if fmt is ExportFormat.PARQUET:
            tables = run_with(
                settings, lambda c: export_tables(c.store, output, with_embeddings=with_embeddings)
            )
            if opts.as_json:
                emit_json(tables)
                return
            counts = ", ".join(f"{t.name} {t.rows}" for t in tables.tables)
            say(f"wrote {tables.path} (parquet): {counts} rows")
            return
        summary = run_with(
            settings, lambda c: export_graph(c.store, fmt, output, with_chunks=with_chunks)
        )
    if opts.as_json:
        emit_json(summary)
        return
    say(
        f"wrote {summary.path} ({summary.format.value}): {summary.nodes} nodes, "
        f"{summary.edges} edges ({summary.entities} entities, {summary.relations} "
        f"relations, {summary.documents} documents, {summary.chunks} chunks)"
    )


@shared()
def evaluate(
    opts: CommonOptions,
    dataset: Annotated[
        Path, typer.Option("--dataset", help="Dataset folder or questions JSON (HippoRAG format).")
    ],
    modes: Annotated[
        str, typer.Option("--modes", help="Comma-separated retrieval modes.")
    ] = "naive,bm25,local,hybrid,ppr,global",
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="First N questions (and their passages)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default .graphrag/eval/<name>).")
    ] = None,
    reuse_index: Annotated[
        bool, typer.Option("--reuse-index/--no-reuse-index", help="Keep a matching index.")
    ] = True,
) -> None:
    """Score retrieval modes on a dataset: recall@2/5/10, all-gold@5/8, latency.

    The corpus is indexed into <out>/index.db (an embedded store, whatever --store and --db
    say); results go to <out>/results.json, results.md and recall.png. With an LLM the
    answers' EM and F1 are scored too; when answers failed or the LLM budget stopped them,
    one summary line says so and the command exits with code 1 (the results are written).
    """
    from graphrag.evaluation import load_dataset
    from pipelines.eval_job import parse_modes, run_eval
    from pipelines.payloads import eval_payload
    from pipelines.report import (
        containment_table,
        eval_table,
        printable,
        progress_bar,
        progress_callback,
        write_eval_report,
    )

    with errors():
        settings = opts.settings()
        chosen = parse_modes(modes)
        data = load_dataset(dataset).slice(limit)
        out_dir = out or Path(".graphrag") / "eval" / data.name
        with progress_bar("evaluation", stderr) as bar:
            result = asyncio.run(
                run_eval(
                    data,
                    settings=settings,
                    opener=cli_common.open_components,
                    out_dir=out_dir,
                    modes=chosen,
                    reuse_index=reuse_index,
                    index_progress=progress_callback(bar, "indexing"),
                    query_progress=progress_callback(bar, "queries"),
                )
            )
        paths = write_eval_report(result)
    if opts.as_json:
        emit_json(eval_payload(result, paths))
    else:
        stdout.print(eval_table(result.scores))
        answers = containment_table(result.scores)
        if answers is not None:
            stdout.print(answers)
        stdout.print(f"{result.questions} questions, {result.passages} passages")
        for kind, path in paths.items():
            say(f"{kind}: {path}")
    problems = result.answer_problems()
    for line in problems:
        stderr.print(printable(line, one_line=True), style="red", markup=False, soft_wrap=True)
    if problems:
        raise typer.Exit(FAILURE)


@shared()
def migrate(
    opts: CommonOptions,
    to: Annotated[
        StoreKind,
        typer.Option("--to", help="Target store kind.", **enum_choice(StoreKind, "store")),
    ],
    target_db: Annotated[
        Path | None,
        typer.Option("--target-db", help="SQLite file when --to embedded.", show_default=False),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Documents per write to the target.")
    ] = 100,
) -> None:
    """Copy the configured store into the other one (documents, graph, vectors, merges)."""
    from graphrag.operations.migrate import export_to_store, same_store
    from pipelines.report import progress_bar, progress_callback

    with errors():
        settings = opts.settings(existing=True)
        overrides: dict[str, Any] = {"store": to}
        if target_db is not None or opts.db is not None:
            overrides["embedded"] = {"path": target_db or opts.db}
        target = load_settings(opts.config, **overrides)
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
    if opts.as_json:
        emit_json(result)
        return
    say(
        f"migrated {result.documents} documents ({result.chunks} chunks, "
        f"{result.entities_new} entities, {result.relations_new} relations, "
        f"{result.merges} merges) from {result.source} to {result.target} in "
        f"{result.seconds:.1f} s"
    )


@shared()
def schema(opts: CommonOptions) -> None:
    """Create the store schema (idempotent) and, for ArangoDB, build the vector indexes."""
    from pipelines.report import stats_table

    async def body(c: Components) -> Any:
        finalize = getattr(c.store, "finalize_load", None)
        if finalize is not None:
            await finalize()
        return await c.store.stats()

    with errors():
        result = run_with(opts.settings(), body)
    if opts.as_json:
        emit_json({"ready": True, "location": result.location, "stats": result})
        return
    say(f"schema ready at {result.location}")
    stdout.print(stats_table(result))


@shared()
def analyze(
    opts: CommonOptions,
    resolution: Annotated[
        float, typer.Option("--resolution", help="Louvain resolution (> 0; above 1: smaller).")
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Louvain random seed.")] = 42,
    min_size: Annotated[
        int,
        typer.Option(
            "--min-community-size", min=1, help="Communities with fewer members are not saved."
        ),
    ] = 2,
) -> None:
    """Rank entities (PageRank) and detect communities (Louvain) over the stored graph.

    With an LLM configured (and llm.community_reports on), the largest communities get
    LLM-written reports; a budget stop saves the analysis and exits with code 1.
    """
    from pipelines.analyze_job import budget_line, llm_line, run_analysis

    with errors():
        settings = opts.settings(existing=True)
        report = run_with(
            settings,
            lambda c: run_analysis(
                c, resolution=resolution, seed=seed, min_community_size=min_size
            ),
            llm=settings.llm.community_reports,
        )
    if opts.as_json:
        emit_json(report)
    else:
        say(
            f"ranked {report.entities} entities over {report.relations} relations; "
            f"saved {report.communities} communities in {report.seconds:.1f} s"
        )
        line = llm_line(report)
        if line is not None:
            say(line)
    stopped = budget_line(report)
    if stopped is not None:
        stderr.print(stopped, style="red", markup=False, soft_wrap=True)
        raise typer.Exit(FAILURE)


@shared(json_output=False)
def demo(opts: CommonOptions) -> None:
    """Quick start: ingest the bundled sample corpus and answer its sample questions.

    The store is the configured one; an embedded store left at its default path is replaced
    by .graphrag/demo.db so the demo never mixes with your own graph.
    """
    from pipelines.demo import DEMO_DB, run_demo

    with errors():
        settings = opts.settings()
        if opts.db is None and settings.embedded.path == EmbeddedStoreSettings().path:
            settings = settings.model_copy(update={"embedded": EmbeddedStoreSettings(path=DEMO_DB)})
        result = run_with(settings, lambda c: run_demo(c, stdout), llm=True)
    if result.errors or not result.summary.ok:
        raise typer.Exit(FAILURE)
