"""Graph analysis: PageRank, Louvain communities, extractive summaries or LLM reports."""

from __future__ import annotations

from graphrag.analyze.graph_analysis import AnalysisReport, analyze_graph
from graphrag.analyze.llm_reports import REPORT_PREFIX, CommunityReporter
from graphrag.analyze.summaries import SUMMARY_PREFIX, parse_key_sentences

__all__ = [
    "REPORT_PREFIX",
    "SUMMARY_PREFIX",
    "AnalysisReport",
    "CommunityReporter",
    "analyze_graph",
    "parse_key_sentences",
]
