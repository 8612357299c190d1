"""Retrieval: the modes (naive, bm25, local, hybrid, ppr, global), fusion and token budgets.

:class:`RetrievalService` is the one object entry points use; the pure parts (fusion,
PageRank, budget) are importable on their own for tests and tuning.
"""

from __future__ import annotations

from graphrag.retrieve.budget import apply_budget
from graphrag.retrieve.fusion import minmax, minmax_fuse, rrf_fuse
from graphrag.retrieve.modes import ModeRetriever, RetrievalService, parse_mode
from graphrag.retrieve.question import QuestionAnalyzer, validate_question

__all__ = [
    "ModeRetriever",
    "QuestionAnalyzer",
    "RetrievalService",
    "apply_budget",
    "minmax",
    "minmax_fuse",
    "parse_mode",
    "rrf_fuse",
    "validate_question",
]
