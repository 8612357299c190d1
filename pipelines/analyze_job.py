"""The analysis job: rank entities, find and summarise communities over the whole graph.

Run it after ingesting (and again after changes: it is a full recompute, and until it reruns
the communities miss what was added, changed or deleted). It replaces the previous ranks and
communities and embeds the community summaries for the ``global`` retrieval mode. With an LLM
configured (and ``llm.community_reports`` on), the largest communities
(``llm.max_community_reports``) get LLM-written reports instead of extractive summaries. The
CLI command is a thin wrapper around :func:`run_analysis`; :func:`llm_line` and
:func:`budget_line` are the lines it prints about the reports.
"""

from __future__ import annotations

import logging

from graphrag.analyze import AnalysisReport, CommunityReporter, analyze_graph
from graphrag.runtime import Components

logger = logging.getLogger(__name__)


def make_reporter(components: Components) -> CommunityReporter | None:
    """The reporter of the components' chat model, or ``None`` (no LLM, reports off, or 0)."""
    llm = components.settings.llm
    if components.llm is None or not llm.community_reports or llm.max_community_reports == 0:
        return None
    return CommunityReporter(components.llm, llm)


async def run_analysis(
    components: Components,
    *,
    resolution: float = 1.0,
    seed: int = 42,
    min_community_size: int = 2,
) -> AnalysisReport:
    """Run PageRank and Louvain on the store of ``components`` and save the results.

    Args:
        components: The opened components (the store, the embedder for the summaries, and
            the chat model for the community reports when ``llm.community_reports`` is on).
        resolution: Louvain resolution (above 1: more, smaller communities).
        seed: Louvain's random seed (same graph and seed: same communities).
        min_community_size: Communities with fewer members are not saved.

    Returns:
        Entities ranked, relations read, communities saved (and embedded), the wall time,
        the seconds per stage and the LLM reports' figures (``llm_stopped`` after a budget
        stop: the analysis is saved, the communities not reported keep extractive summaries).

    Raises:
        ConfigError: On a non-positive resolution or a minimum size below 1.
        StoreError: If the store cannot be read or written.
        EmbeddingError: If the summaries cannot be embedded (nothing is saved).
        LLMError: If the chat model cannot be used (nothing is saved).
    """
    logger.info("analysing the graph in %s", components.store.location)
    return await analyze_graph(
        components.store,
        embedder=components.embedder,
        resolution=resolution,
        seed=seed,
        min_community_size=min_community_size,
        reporter=make_reporter(components),
    )


def llm_line(report: AnalysisReport) -> str | None:
    """One line about the LLM reports (``None`` when no LLM wrote any).

    Example: ``LLM reports (gpt-4o-mini): 40 written, 2 malformed (kept extractive); 42 calls,
    0 from the cache, 1,234 tokens``.
    """
    if report.llm_model is None:
        return None
    line = (
        f"LLM reports ({report.llm_model}): {report.llm_reports:,} written, "
        f"{report.llm_malformed:,} malformed (kept extractive)"
    )
    if report.llm_unknown_refs:
        line += f", {report.llm_unknown_refs:,} unknown entity ids removed"
    if report.llm_not_asked:
        line += f", {report.llm_not_asked:,} not asked (budget)"
    return (
        f"{line}; {report.llm_calls:,} calls, {report.llm_cached_calls:,} from the cache, "
        f"{report.llm_tokens:,} tokens"
    )


def budget_line(report: AnalysisReport) -> str | None:
    """The one line printed when the budget stopped the reports (``None`` otherwise)."""
    if report.llm_stopped is None:
        return None
    reason = report.llm_stopped.rstrip(".")
    return (
        f"community reports stopped by the LLM budget after {report.llm_reports:,} reports: "
        f"{reason}. The analysis is saved; {report.llm_not_asked:,} communities keep their "
        "extractive summary. Rerun the same command to continue: reports already written "
        "come from the cache, free"
    )
