"""The LLM side of ``graphrag ingest``: ``--dry-run`` output, usage lines, budget stops.

Used by the ``ingest`` command (:mod:`pipelines.cli_graph`) when ``extraction.tier`` is
``llm`` or ``tiered``: the dry run's table and JSON, one summary line of the LLM's work
(chunks parsed, retried, failed; calls, cache hits, tokens, cost) and the failed chunks,
and the one line printed when the budget stopped the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from graphrag.extract.dry_run import DryRunReport
    from graphrag.extract.llm_extractor import ExtractionStats, LLMExtractor
    from graphrag.llm.usage import Budget, UsageTotals

MAX_CHUNK_LINES = 10
"""Failed chunks listed on stderr (the rest are counted)."""


def dry_run_payload(report: DryRunReport) -> dict[str, Any]:
    """The dry run as one JSON object."""
    estimate = report.estimate
    return {
        "dry_run": True,
        "tier": report.tier,
        "engine": report.engine,
        "model": report.model,
        "files": report.files,
        "documents": report.documents,
        "chunks": report.chunks,
        "llm_chunks": report.llm_chunks,
        "calls": estimate.calls,
        "cached_calls": estimate.cached_calls,
        "prompt_tokens": estimate.prompt_tokens,
        "completion_tokens_guess": estimate.completion_tokens_guess,
        "total_tokens": estimate.total_tokens,
        "cost": round(estimate.cost, 6),
        "cache_checked": report.cache_checked,
        "seconds": round(report.seconds, 3),
        "failures": [{"path": p, "reason": r} for p, r in report.failures],
    }


def budget_warning(report: DryRunReport, budget: Budget) -> str | None:
    """A line when the estimate exceeds the run's budget (the real run would stop early)."""
    estimate = report.estimate
    over: list[str] = []
    if budget.max_tokens is not None and estimate.total_tokens > budget.max_tokens:
        over.append(
            f"{estimate.total_tokens:,} estimated tokens > GRAPHRAG_LLM__MAX_TOKENS_PER_RUN "
            f"{budget.max_tokens:,}"
        )
    if budget.max_cost is not None and estimate.cost > budget.max_cost:
        cost = f"{estimate.cost:.4f}"
        over.append(f"estimated cost {cost} > GRAPHRAG_LLM__MAX_COST {budget.max_cost}")
    if not over:
        return None
    return (
        f"the budget would stop this run before the end ({'; '.join(over)}): raise it, or run "
        "it in parts (each rerun continues where the last one stopped, cached replies are free)"
    )


def dry_run_table(report: DryRunReport) -> Table:
    """The dry run as a table (nothing was called or written)."""
    estimate = report.estimate
    table = Table(title="Ingest dry run (no model called, nothing written)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    cached = "yes" if report.cache_checked else "no (no cache file or no model set)"
    rows = [
        ("extraction tier", report.tier + (f" ({report.engine} engine)" if report.engine else "")),
        ("model", report.model or "none configured"),
        ("files", f"{report.files} ({len(report.failures)} failed)"),
        ("documents", str(report.documents)),
        ("chunks", str(report.chunks)),
        ("chunks for the LLM", str(report.llm_chunks)),
        ("expected LLM calls", f"{estimate.calls:,}"),
        ("  already cached (free)", f"{estimate.cached_calls:,}"),
        ("prompt tokens", f"{estimate.prompt_tokens:,}"),
        ("completion tokens (guess)", f"{estimate.completion_tokens_guess:,}"),
        ("cost", f"{estimate.cost:.4f}"),
        ("cache consulted", cached),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def usage_payload(extractor: LLMExtractor) -> dict[str, Any]:
    """What the LLM did in this run: chunks and calls, tokens and cost."""
    stats = extractor.stats
    totals = extractor.meter.totals() if extractor.meter is not None else None
    payload: dict[str, Any] = {
        "chunks": stats.chunks,
        "parsed": stats.parsed,
        "retries": stats.retries,
        "failed": stats.failed,
        "not_sent": stats.not_sent,
        "mentions": stats.mentions,
        "relations": stats.relations,
        "dropped_nodes": stats.dropped_nodes,
        "dropped_relations": stats.dropped_relations,
        "ungrounded": stats.ungrounded,
        "budget_stop": stats.budget_stop,
        "failed_chunks": [{"chunk_id": c, "reason": r} for c, r in stats.failures],
    }
    if totals is not None:
        payload.update(_totals(totals))
    return payload


def _totals(totals: UsageTotals) -> dict[str, Any]:
    return {
        "calls": totals.calls,
        "cached_calls": totals.cached_calls,
        "hit_rate": round(totals.hit_rate, 4),
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "cost": round(totals.cost, 6),
        "call_seconds": round(totals.seconds, 3),
    }


def usage_line(extractor: LLMExtractor) -> str:
    """One line: chunks parsed, retried and failed; calls, cache hits, tokens and cost."""
    stats = extractor.stats
    line = (
        f"LLM extraction: {stats.chunks} chunks, {stats.parsed} parsed, {stats.retries} "
        f"retries, {stats.failed} failed"
    )
    if stats.not_sent:
        line += f", {stats.not_sent} not sent (budget)"
    meter = extractor.meter
    if meter is not None:
        t = meter.totals()
        line += (
            f"; {t.calls} calls, {t.cached_calls} cached (hit rate {t.hit_rate:.0%}), "
            f"{t.prompt_tokens:,} prompt + {t.completion_tokens:,} completion tokens, "
            f"cost {t.cost:.4f}"
        )
    return line


def failed_chunk_lines(stats: ExtractionStats) -> list[tuple[str, str]]:
    """``(chunk, reason)`` of the failed chunks, at most :data:`MAX_CHUNK_LINES` and a count."""
    lines = [(f"chunk {chunk}", reason) for chunk, reason in stats.failures[:MAX_CHUNK_LINES]]
    rest = len(stats.failures) - MAX_CHUNK_LINES
    if rest > 0:
        lines.append(("chunks", f"{rest} more failed chunks (--json lists them all)"))
    return lines


def budget_message(reason: str, documents_done: int | None = None) -> str:
    """The one line printed when the budget stopped the run.

    Args:
        reason: The budget error's message.
        documents_done: Documents processed before the stop, when the builder let the
            error through (the run ended there).
    """
    reason = reason.rstrip(".")
    where = "" if documents_done is None else f" after {documents_done} document(s) were processed"
    return (
        f"stopped by the LLM budget{where}: {reason}. Rerun the same command to continue: "
        "documents already stored are skipped, replies already received come from the cache, "
        "free"
    )


def stop_message(reason: str) -> str:
    """The one line printed when the run stopped early (the budget, or the LLM failing).

    Args:
        reason: ``IngestReport.stopped``: the error that stopped the run.
    """
    if reason.startswith(BUDGET_PREFIX):
        return budget_message(reason)
    return (
        f"stopped: the LLM cannot be used, so no further document was sent to it: "
        f"{reason.rstrip('.')}. Documents already stored are kept and the others were not "
        "touched (none is marked failed). Fix the cause and rerun the same command: stored "
        "documents are skipped, replies already received come from the cache"
    )


BUDGET_PREFIX = "LLM budget reached"
"""How a :class:`~graphrag.llm.errors.BudgetExceededError` message starts."""
