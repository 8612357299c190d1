"""Graph analysis: PageRank, Louvain communities and their extractive summaries."""

from __future__ import annotations

from graphrag.analyze.graph_analysis import AnalysisReport, analyze_graph
from graphrag.analyze.summaries import parse_key_sentences

__all__ = ["AnalysisReport", "analyze_graph", "parse_key_sentences"]
