"""Evaluation: dataset readers (HippoRAG formats), recall, latency and answer metrics.

The runner that indexes a corpus and scores every retrieval mode is
``pipelines/eval_job.py``; this package holds the pure parts it builds on.
"""

from __future__ import annotations

from graphrag.evaluation.answers import (
    AnswerScores,
    ContainmentScores,
    answer_span,
    best_scores,
    contains_answer,
    exact_match,
    f1_score,
    normalize_answer,
    score_answers,
    score_containment,
)
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
    "AnswerScores",
    "ContainmentScores",
    "EvalDataset",
    "EvalQuestion",
    "ModeScores",
    "Passage",
    "all_gold_at_k",
    "answer_span",
    "best_scores",
    "contains_answer",
    "dedupe_ranking",
    "exact_match",
    "f1_score",
    "load_dataset",
    "normalize_answer",
    "percentile",
    "recall_at_k",
    "score_answers",
    "score_containment",
    "score_mode",
]
