"""Graph analysis (PageRank, communities)."""

from __future__ import annotations

from graphrag.analyze.graph_analysis import AnalysisReport, analyze_graph

__all__ = ["AnalysisReport", "analyze_graph"]
