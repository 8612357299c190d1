r"""Human-facing reports: rich tables for the CLI and the evaluation outputs.

Evaluation outputs (``write_eval_report``): ``results.json`` (everything, per question too),
``results.md`` (one markdown table: mode, R@2, R@5, R@10, AG@5, AG@8, the answer containment
columns ans⊇gold, top5⊇gold, span EM, span F1 (and LLM⊇gold with an LLM), p50 ms, p95 ms, and
with an LLM the answers scored out of those wanted, EM, F1 and not-supported answers; failed
or budget-stopped answers are summarised under the table) and
``recall.png`` (grouped bars of R@2/R@5/R@10 per mode, matplotlib's Agg backend).

Everything printed that came from documents or users (answers, quotes, titles, sources,
entity names, failure reasons, file paths) goes through :func:`printable` first, so text
can never drive the terminal: control characters other than newline and tab are shown as
``\xNN`` escapes.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from graphrag.evaluation import ALL_GOLD_KS, RECALL_KS, ModeScores
from graphrag.models import (
    Answer,
    AnswerKind,
    DeleteReport,
    MergeRecord,
    RetrievedContext,
    StoreStats,
)

if TYPE_CHECKING:
    from graphrag.operations.ingest import IngestSummary
    from pipelines.eval_job import EvalRun

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Bidirectional controls: they reorder what a terminal shows (Trojan Source, CVE-2021-42574)."""
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
_CONTROLS_AND_NEWLINES = re.compile(f"[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f{_BIDI}]")
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f]")


def printable(text: object, *, one_line: bool = False) -> str:
    r"""Return ``str(text)`` with control characters shown as ``\xNN`` escapes.

    Bidirectional controls (U+202E and the like, which reorder what a terminal shows) are
    shown as ``\uNNNN``. Newline and tab are kept, except that ``one_line`` escapes
    newlines too (for paths, names and reasons that must stay on their line).

    Example:
        >>> printable("red \x1b[31m text")
        'red \\x1b[31m text'
    """
    pattern = _CONTROLS_AND_NEWLINES if one_line else _CONTROLS
    return pattern.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_json(text: str) -> str:
    r"""Return JSON text with DEL and C1 control characters written as ``\u`` escapes.

    JSON encoders already escape C0 controls; DEL and C1 (``\x9b`` is a one-byte CSI on
    some terminals) are legal raw in JSON strings, so they are escaped here. Outside strings
    JSON is plain ASCII, so the result is the same JSON value.
    """
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class PrintableLogs(logging.Filter):
    """Shows control characters in log messages as escapes (file names, document text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message of ``record`` when it holds control characters; keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let the handler report it as usual
            return True
        cleaned = printable(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def escape_log_output() -> None:
    """Add :class:`PrintableLogs` to every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PrintableLogs) for f in handler.filters):
            handler.addFilter(PrintableLogs())


def _line(text: object) -> str:
    """Markup-escaped, one-line printable text for rich markup strings."""
    return escape(printable(text, one_line=True))


EXTRACTIVE_NOTE = (
    "extractive answer (no LLM configured): the sentences below are quoted verbatim from the "
    "retrieved passages"
)


def ingest_table(summary: IngestSummary) -> Table:
    """Return the ingest summary table (files, documents, graph counts, throughput)."""
    report = summary.report
    table = Table(title="Ingest summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    rows: list[tuple[str, str]] = [
        ("inputs failed", str(len(summary.input_errors))),
        ("files", f"{summary.files} ({len(summary.file_errors)} failed)"),
        ("documents", str(summary.documents)),
        ("  new", str(summary.new)),
        ("  replaced", str(report.replaced)),
        ("  unchanged", str(report.unchanged)),
        ("  failed", str(len(report.failed))),
        ("records removed", str(summary.removed)),
        ("chunks", str(report.chunks)),
        ("entities (new)", str(report.entities_new)),
        ("relations (new)", str(report.relations_new)),
        ("mentions", str(report.mentions)),
        ("merges", str(report.merges)),
        ("seconds", f"{summary.seconds:.1f}"),
        (
            "throughput",
            f"{summary.docs_per_second:.1f} docs/s, {summary.chunks_per_second:.1f} chunks/s",
        ),
    ]
    for name, value in rows:
        if name == "inputs failed" and not summary.input_errors:
            continue
        if name == "records removed" and not summary.removed:
            continue
        if name == "files" and not summary.files and not summary.file_errors:
            continue  # no file was found: the "inputs failed" line says why
        table.add_row(name, value)
    return table


def progress_bar(label: str, console: Console) -> Progress:
    """A transient rich progress bar (silent when ``console`` is not a terminal).

    Each task shows its label, a bar, done/total, its rate per second, the elapsed time and
    the estimated time left.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _rate(progress: Progress, task: TaskID) -> str:
    found = [t for t in progress.tasks if t.id == task]
    speed = found[0].speed if found else None
    return f"{speed:.1f}/s" if speed else ""


def progress_callback(progress: Progress, label: str) -> Callable[[int, int], None]:
    """Return a ``(done, total)`` callback that drives one task of ``progress``."""
    task = progress.add_task(label, total=None, rate="")

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=max(total, done))
        progress.update(task, rate=_rate(progress, task))

    return update


def chunk_counter(progress: Progress) -> Callable[[int], None]:
    """Return a callback counting chunks extracted and embedded (rate, no total)."""
    task = progress.add_task("chunks", total=None, rate="")

    def advance(count: int) -> None:
        progress.advance(task, count)
        progress.update(task, rate=_rate(progress, task))

    return advance


def print_failures(console: Console, failures: Sequence[tuple[str, str]]) -> None:
    """Print one red line per failure: ``path: reason``."""
    for path, reason in failures:
        console.print(f"[red]{_line(path)}: {_line(reason)}[/red]", soft_wrap=True)


def print_answer(console: Console, answer: Answer, *, show_context: bool = True) -> None:
    """Print an answer, its citations and (optionally) the retrieved context with timings."""
    label = "extractive" if answer.kind is AnswerKind.EXTRACTIVE else "LLM"
    console.print(f"[bold]Q:[/bold] {escape(printable(answer.question))}", soft_wrap=True)
    console.print(
        f"[bold]A[/bold] ({label}, mode {answer.mode.value}): {escape(printable(answer.text))}",
        soft_wrap=True,
    )
    if answer.short_answer:
        console.print(
            f"[bold]short answer:[/bold] {escape(printable(answer.short_answer, one_line=True))}",
            soft_wrap=True,
        )
    if answer.kind is AnswerKind.EXTRACTIVE and not answer.notes:
        console.print(f"[dim]{EXTRACTIVE_NOTE}[/dim]")
    for note in answer.notes:
        console.print(f"[dim]note: {escape(printable(note))}[/dim]", soft_wrap=True)
    for citation in answer.citations:
        line = f"{citation.title} ({citation.source}) chunk {citation.chunk_id}"
        console.print(
            f"  [{citation.marker}] {printable(line, one_line=True)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if show_context and answer.context is not None:
        console.print(context_table(answer.context))
        print_graph_context(console, answer.context)
        timings = ", ".join(f"{k} {v:.1f} ms" for k, v in answer.context.timings.items())
        if timings:
            console.print(f"[dim]timings: {timings}[/dim]", soft_wrap=True)


def context_table(context: RetrievedContext) -> Table:
    """Return the retrieved chunks with their scores, documents and chunk ids."""
    table = Table(title=f"Context ({len(context.chunks)} chunks, {context.token_count} tokens)")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document / chunk", overflow="fold")
    table.add_column("text")
    for rank, chunk in enumerate(context.chunks, start=1):
        text = chunk.text if len(chunk.text) <= 160 else chunk.text[:157] + "..."
        table.add_row(
            str(rank),
            f"{chunk.score:.3f}",
            f"{_line(chunk.title)}\n{_line(chunk.id)}",
            escape(printable(text)),
        )
    return table


def print_graph_context(console: Console, context: RetrievedContext) -> None:
    """Print the context's communities, entities and relations (names, not ids)."""
    for rank, community in enumerate(context.communities[:5], start=1):
        line = f"{community.title} ({community.size} members, score {community.score:.3f})"
        console.print(f"[bold]community {rank}:[/bold] {_line(line)}", soft_wrap=True)
    if context.entities:
        names = ", ".join(f"{e.name} ({e.type})" for e in context.entities[:20])
        console.print(f"[bold]entities:[/bold] {_line(names)}", soft_wrap=True)
    if context.relations:
        by_id = {e.id: e.name for e in context.entities}
        rels = "; ".join(
            f"{by_id.get(r.source_id, r.source_id)} -{r.predicate}-> "
            f"{by_id.get(r.target_id, r.target_id)}"
            for r in context.relations[:10]
        )
        console.print(f"[bold]relations:[/bold] {_line(rels)}", soft_wrap=True)


def stats_table(stats: StoreStats) -> Table:
    """Return the store counts."""
    table = Table(title=_line(f"Store {stats.backend} at {stats.location}"))
    table.add_column("object")
    table.add_column("count", justify="right")
    for name in (
        "documents",
        "failed_documents",
        "chunks",
        "entities",
        "relations",
        "mentions",
        "merges",
        "communities",
        "keys",
        "dirty_keys",
        "pending_documents",
        "schema_version",
    ):
        table.add_row(name.replace("_", " "), str(getattr(stats, name)))
    if stats.dirty_keys or stats.pending_documents:
        table.caption = (
            "an interrupted write left entity resolution unfinished; the next ingest, delete "
            "or merge undo finishes it"
        )
    return table


def documents_table(rows: Sequence[Mapping[str, object]], total: int) -> Table:
    """Return stored documents (rows of :func:`pipelines.payloads.document_row`)."""
    table = Table(title=f"Documents ({len(rows)} of {total})")
    for name in ("id", "source", "title"):
        table.add_column(name, overflow="fold")
    table.add_column("status")
    table.add_column("chunks", justify="right")
    table.add_column("updated")
    for row in rows:
        status = str(row["status"])
        table.add_row(
            _line(row["id"]),
            _line(row["source"]),
            _line(row["title"]),
            f"[red]{status}[/red]" if status == "failed" else status,
            str(row["chunks"]),
            str(row["updated_at"]),
        )
    if len(rows) < total:
        table.caption = f"the {len(rows)} most recent shown; pass --limit {total} to see all"
    return table


def delete_table(report: DeleteReport) -> Table:
    """Return what deleting a document removed."""
    table = Table(title=_line(f"Deleted document {report.document_id}"))
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in report.model_dump(exclude={"document_id"}).items():
        table.add_row(name.replace("_", " "), str(value))
    return table


def print_merges(
    console: Console, records: Sequence[MergeRecord], names: Mapping[str, str]
) -> None:
    """Print one line per merge: id, alias (type) -> canonical name, method, score, undone.

    Lines, not a table, so full merge ids can be copied into ``graphrag merges --undo``.
    """
    active = sum(1 for r in records if r.undone_at is None)
    console.print(f"{len(records)} merges ({active} active)")
    for record in records:
        canonical = names.get(record.canonical_id, record.canonical_id)
        undone = (
            f" undone {record.undone_at.isoformat(timespec='seconds')}" if record.undone_at else ""
        )
        line = (
            f"{record.id}  {record.alias_name} ({record.alias_type}) -> {canonical}  "
            f"[{record.method} {record.score:.3f}]{undone}"
        )
        console.print(
            printable(line, one_line=True),
            markup=False,
            soft_wrap=True,
        )


def eval_table(scores: Sequence[ModeScores]) -> Table:
    """Return the evaluation scores (percent) and latencies as a rich table.

    The answer containment columns are in :func:`containment_table` (one table with both
    would not fit a terminal).
    """
    table = Table(title="Retrieval evaluation")
    headers = _headers(_answered(scores))
    for position, header in enumerate(headers):
        table.add_column(header, justify="left" if position == 0 else "right")
    for row in _rows(scores, containment=False):
        table.add_row(*row)
    return table


def containment_table(scores: Sequence[ModeScores]) -> Table | None:
    """Return the answer containment per mode (percent), or ``None`` if not measured.

    Columns: ``ans⊇gold``, ``top5⊇gold``, ``span EM``, ``span F1`` and, with an LLM,
    ``LLM⊇gold`` (see :data:`CONTAINMENT_LEGEND`).
    """
    if not _contained(scores):
        return None
    table = Table(title="Answer containment", caption=CONTAINMENT_LEGEND)
    table.add_column("mode")
    answered = _answered(scores)
    for header in (*CONTAINMENT_HEADERS, *([LLM_CONTAINMENT_HEADER] if answered else [])):
        table.add_column(header, justify="right")
    for s in scores:
        cells = _containment_cells(s) + ([_llm_containment_cell(s)] if answered else [])
        table.add_row(s.mode, *cells)
    return table


CONTAINMENT_LEGEND = (
    "ans⊇gold: extractive answers containing the gold answer or an alias (SQuAD "
    "normalisation, whole tokens); top5⊇gold: the same for the top five retrieved chunks "
    "(the ceiling of a perfect reader); span EM/F1: the answers' short answer span (none "
    "counts 0); percent of the questions with a gold answer."
)


def eval_markdown(run: EvalRun) -> str:
    """Return ``results.md``: a heading, the setup line and the scores table.

    With an LLM configured the table also has how many questions were answered out of those
    with a gold answer (``answered``, what EM and F1 are over), the answers' EM and F1
    (percent, SQuAD-style normalisation, aliases counted) and how many said the context does
    not support one. Failed or budget-stopped answers are summarised under the table.

    When the questions were answered (the default), containment columns come before the
    latencies: ``ans⊇gold`` (the extractive answer contains the gold answer or an alias, SQuAD
    normalisation, whole tokens), ``top5⊇gold`` (one of the top five chunks does: what a
    perfect reader could reach), ``span EM`` and ``span F1`` (the answer's short answer span)
    and, with an LLM, ``LLM⊇gold`` (its answers); the setup line explains them.
    """
    headers = _headers(_answered(run.scores), _contained(run.scores))
    legend = f" {CONTAINMENT_LEGEND}" if _contained(run.scores) else ""
    lines = [
        f"# Retrieval evaluation: {run.dataset}",
        "",
        f"{run.questions} questions, {run.passages} passages, created {run.created_at}. "
        f"Recall and all-gold in percent; latency is retrieval wall time (warm).{legend}",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(run.scores)]
    problems = run.answer_problems()
    if problems:
        lines += ["", *(f"**{printable(line, one_line=True)}**" for line in problems)]
        lines += ["", "EM and F1 are over the answered questions only (see `answered`)."]
    return "\n".join(lines) + "\n"


def write_eval_report(run: EvalRun) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and ``recall.png`` into ``run.out_dir``.

    Returns:
        The written paths by kind (``json``, ``markdown``, ``plot``).
    """
    out = run.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "results.json",
        "markdown": out / "results.md",
        "plot": out / "recall.png",
    }
    paths["json"].write_text(json.dumps(run.to_dict(), indent=2), encoding="utf-8")
    paths["markdown"].write_text(eval_markdown(run), encoding="utf-8")
    plot_recall(run.scores, paths["plot"], title=f"Recall@k on {run.dataset}")
    return paths


def plot_recall(scores: Sequence[ModeScores], path: Path, *, title: str) -> None:
    """Draw grouped bars of R@2/R@5/R@10 per mode into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(scores) + 2), 4.0))
    width = 0.8 / len(RECALL_KS)
    for position, k in enumerate(RECALL_KS):
        xs = [i + (position - (len(RECALL_KS) - 1) / 2) * width for i in range(len(scores))]
        values = [100.0 * s.recall[k] for s in scores]
        bars = ax.bar(xs, values, width, label=f"R@{k}")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(scores)), [s.mode for s in scores])
    ax.set_ylim(0, 100)
    ax.set_ylabel("recall (%)")
    ax.set_title(title)
    ax.legend(loc="upper left", ncols=len(RECALL_KS))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


CONTAINMENT_HEADERS = ("ans⊇gold", "top5⊇gold", "span EM", "span F1")
"""Containment columns: the share of answers containing the gold answer or an alias, the same
share for the top five chunks, the short answer span's exact match and F1 (percent)."""

LLM_CONTAINMENT_HEADER = "LLM⊇gold"
"""With an LLM: the share of its answers containing the gold answer or an alias (percent)."""


def _headers(answers: bool = False, containment: bool = False) -> list[str]:
    contained = [*CONTAINMENT_HEADERS, *([LLM_CONTAINMENT_HEADER] if answers else [])]
    return [
        "mode",
        *(f"R@{k}" for k in RECALL_KS),
        *(f"AG@{k}" for k in ALL_GOLD_KS),
        *(contained if containment else []),
        "p50 ms",
        "p95 ms",
        *(["answered", "EM", "F1", "not supported"] if answers else []),
    ]


def _answered(scores: Sequence[ModeScores]) -> bool:
    """Whether the LLM answered in this run (then the answered, EM, F1, not-supported columns)."""
    return any(s.answers is not None for s in scores)


def _contained(scores: Sequence[ModeScores]) -> bool:
    """Whether answer containment was measured in this run (then its columns)."""
    return any(s.containment is not None for s in scores)


def _rows(scores: Sequence[ModeScores], *, containment: bool = True) -> list[list[str]]:
    answered = _answered(scores)
    contained = containment and _contained(scores)
    return [
        [
            s.mode,
            *(f"{100.0 * s.recall[k]:.1f}" for k in RECALL_KS),
            *(f"{100.0 * s.all_gold[k]:.1f}" for k in ALL_GOLD_KS),
            *(_containment_cells(s) if contained else []),
            *([_llm_containment_cell(s)] if answered and contained else []),
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            *(_answer_cells(s) if answered else []),
        ]
        for s in scores
    ]


def _containment_cells(scores: ModeScores) -> list[str]:
    found = scores.containment
    if found is None or not found.questions:
        return ["n/a"] * len(CONTAINMENT_HEADERS)
    return [
        f"{100.0 * value:.1f}"
        for value in (found.answer, found.top_chunks, found.span_em, found.span_f1)
    ]


def _llm_containment_cell(scores: ModeScores) -> str:
    found = scores.containment
    if found is None or found.generated is None:
        return "n/a"
    return f"{100.0 * found.generated:.1f}"


def _answer_cells(scores: ModeScores) -> list[str]:
    answers = scores.answers
    if answers is None:
        return ["n/a", "n/a", "n/a", "n/a"]
    answered = f"{answers.questions}/{answers.questions + answers.errors}"
    if not answers.questions:
        return [answered, "n/a", "n/a", "n/a"]
    return [
        answered,
        f"{100.0 * answers.em:.1f}",
        f"{100.0 * answers.f1:.1f}",
        f"{answers.not_supported}/{answers.questions}",
    ]


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"
