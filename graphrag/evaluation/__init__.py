"""Retrieval evaluation: dataset readers (HippoRAG formats) and recall/latency metrics.

The runner that indexes a corpus and scores every retrieval mode is
``pipelines/eval_job.py``; this package holds the pure parts it builds on.
"""

from __future__ import annotations

from graphrag.evaluation.datasets import EvalDataset, EvalQuestion, Passage, load_dataset
from graphrag.evaluation.metrics import (
    ALL_GOLD_KS,
    RECALL_KS,
    ModeScores,
    all_gold_at_k,
    dedupe_ranking,
    percentile,
    recall_at_k,
    score_mode,
)

__all__ = [
    "ALL_GOLD_KS",
    "RECALL_KS",
    "EvalDataset",
    "EvalQuestion",
    "ModeScores",
    "Passage",
    "all_gold_at_k",
    "dedupe_ranking",
    "load_dataset",
    "percentile",
    "recall_at_k",
    "score_mode",
]
