"""Retrieval metrics as HippoRAG defines them, and latency percentiles.

``recall@k`` of one question is ``|gold ∩ top-k passages| / |gold|``; a run's recall@k is the
mean over questions. ``all-gold@k`` is the share of questions whose every gold passage is in
the top ``k``. Rankings are lists of passage (document) ids, best first, without duplicates;
:func:`dedupe_ranking` turns a chunk ranking into one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graphrag.errors import InvalidArgumentError

__all__ = [
    "ALL_GOLD_KS",
    "RECALL_KS",
    "ModeScores",
    "all_gold_at_k",
    "dedupe_ranking",
    "percentile",
    "recall_at_k",
    "score_mode",
]

RECALL_KS: tuple[int, ...] = (2, 5, 10)
ALL_GOLD_KS: tuple[int, ...] = (5, 8)


def dedupe_ranking(document_ids: Iterable[str]) -> list[str]:
    """Collapse a ranking of chunks' document ids to distinct documents, best rank kept.

    Args:
        document_ids: The document id of each retrieved chunk, best chunk first.

    Returns:
        Each document once, in the order of its best chunk.
    """
    return list(dict.fromkeys(document_ids))


def recall_at_k(ranking: Sequence[str], gold: set[str], k: int) -> float:
    """Return ``|gold ∩ ranking[:k]| / |gold|`` for one question.

    Args:
        ranking: Distinct passage ids, best first.
        gold: The gold passage ids (non-empty).
        k: The cut-off (at least 1).

    Returns:
        A value in ``[0, 1]``.

    Raises:
        InvalidArgumentError: If ``gold`` is empty or ``k`` is below 1.
    """
    _check(gold, k)
    return len(gold.intersection(ranking[:k])) / len(gold)


def all_gold_at_k(ranking: Sequence[str], gold: set[str], k: int) -> bool:
    """Return whether every gold passage is in the top ``k``.

    Raises:
        InvalidArgumentError: If ``gold`` is empty or ``k`` is below 1.
    """
    _check(gold, k)
    return gold.issubset(ranking[:k])


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) with linear interpolation (numpy's default).

    Returns:
        The percentile, or ``nan`` for an empty sequence.
    """
    if not values:
        return math.nan
    if not 0.0 <= q <= 100.0:
        msg = f"percentile q must be within [0, 100] (got {q})"
        raise InvalidArgumentError(msg)
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class ModeScores:
    """Aggregated scores of one retrieval mode over a set of questions.

    Attributes:
        mode: The retrieval mode.
        questions: Number of questions scored.
        recall: Mean recall@k for each k of :data:`RECALL_KS` (fractions, 0-1).
        all_gold: Share of questions with all gold in the top k, for :data:`ALL_GOLD_KS`.
        latency_ms: Per-question retrieval wall times in milliseconds.
        errors: Questions whose retrieval failed, as ``(question id, reason)``.
        abstained: Questions whose extractive answer abstained (relevance below
            ``answer.min_relevance``); ``None`` when the questions were not answered.
    """

    mode: str
    questions: int
    recall: dict[int, float]
    all_gold: dict[int, float]
    latency_ms: list[float] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    abstained: int | None = None

    @property
    def p50_ms(self) -> float:
        """Median retrieval latency in milliseconds."""
        return percentile(self.latency_ms, 50)

    @property
    def p95_ms(self) -> float:
        """95th-percentile retrieval latency in milliseconds."""
        return percentile(self.latency_ms, 95)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (recall as fractions, latencies in ms)."""
        return {
            "mode": self.mode,
            "questions": self.questions,
            "recall": {f"R@{k}": v for k, v in self.recall.items()},
            "all_gold": {f"AG@{k}": v for k, v in self.all_gold.items()},
            "latency_ms": {
                "p50": _finite(self.p50_ms),
                "p95": _finite(self.p95_ms),
                "mean": _finite(sum(self.latency_ms) / len(self.latency_ms))
                if self.latency_ms
                else None,
            },
            "errors": [{"question": q, "reason": r} for q, r in self.errors],
            "abstained": self.abstained,
        }


def score_mode(
    mode: str,
    rankings: Sequence[Sequence[str]],
    golds: Sequence[set[str]],
    *,
    latency_ms: Sequence[float] = (),
) -> ModeScores:
    """Average recall@k and all-gold@k over questions.

    Args:
        mode: The retrieval mode's name.
        rankings: One ranking of distinct passage ids per question.
        golds: The gold passage ids of each question, same order.
        latency_ms: Retrieval times of the questions, in milliseconds.

    Returns:
        The aggregated scores (all zero for an empty question list).

    Raises:
        InvalidArgumentError: If ``rankings`` and ``golds`` differ in length.
    """
    if len(rankings) != len(golds):
        msg = f"{len(rankings)} rankings but {len(golds)} gold sets; pass one per question"
        raise InvalidArgumentError(msg)
    n = len(golds)
    recall = {
        k: sum(recall_at_k(r, g, k) for r, g in zip(rankings, golds, strict=True)) / n if n else 0.0
        for k in RECALL_KS
    }
    all_gold = {
        k: sum(all_gold_at_k(r, g, k) for r, g in zip(rankings, golds, strict=True)) / n
        if n
        else 0.0
        for k in ALL_GOLD_KS
    }
    return ModeScores(
        mode=mode, questions=n, recall=recall, all_gold=all_gold, latency_ms=list(latency_ms)
    )


def _check(gold: set[str], k: int) -> None:
    if not gold:
        msg = "gold set is empty; a question needs at least one gold passage to be scored"
        raise InvalidArgumentError(msg)
    if k < 1:
        msg = f"k must be at least 1 (got {k})"
        raise InvalidArgumentError(msg)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
