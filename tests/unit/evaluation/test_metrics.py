from __future__ import annotations

import math

import pytest

from graphrag.evaluation import (
    all_gold_at_k,
    dedupe_ranking,
    percentile,
    recall_at_k,
    score_mode,
)


def test_recall_at_k_counts_gold_in_the_top_k() -> None:
    ranking = ["a", "x", "b", "y", "c"]
    gold = {"a", "b", "c", "d"}
    assert recall_at_k(ranking, gold, 1) == 0.25
    assert recall_at_k(ranking, gold, 2) == 0.25
    assert recall_at_k(ranking, gold, 3) == 0.5
    assert recall_at_k(ranking, gold, 10) == 0.75


def test_all_gold_at_k() -> None:
    ranking = ["x", "a", "y", "b"]
    assert not all_gold_at_k(ranking, {"a", "b"}, 3)
    assert all_gold_at_k(ranking, {"a", "b"}, 4)
    assert not all_gold_at_k([], {"a"}, 5)


def test_dedupe_keeps_each_document_at_its_best_rank() -> None:
    assert dedupe_ranking(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_score_mode_averages_over_questions() -> None:
    rankings = [["a", "b", "x"], ["y", "z", "c", "w", "v", "d"]]
    golds = [{"a", "b"}, {"c", "d"}]
    scores = score_mode("naive", rankings, golds, latency_ms=[10.0, 30.0])
    assert scores.questions == 2
    assert scores.recall[2] == pytest.approx((1.0 + 0.0) / 2)
    assert scores.recall[5] == pytest.approx((1.0 + 0.5) / 2)
    assert scores.recall[10] == pytest.approx(1.0)
    assert scores.all_gold[5] == pytest.approx(0.5)
    assert scores.all_gold[8] == pytest.approx(1.0)
    assert scores.p50_ms == pytest.approx(20.0)
    assert scores.p95_ms == pytest.approx(29.0)
    data = scores.to_dict()
    assert data["recall"] == {"R@2": 0.5, "R@5": 0.75, "R@10": 1.0}
    assert data["latency_ms"] == {"p50": 20.0, "p95": 29.0, "mean": 20.0}


def test_score_mode_with_no_questions_is_zero_and_latency_null() -> None:
    scores = score_mode("bm25", [], [])
    assert scores.recall == {2: 0.0, 5: 0.0, 10: 0.0}
    assert math.isnan(scores.p50_ms)
    assert scores.to_dict()["latency_ms"] == {"p50": None, "p95": None, "mean": None}


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="gold set is empty"):
        recall_at_k(["a"], set(), 2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        all_gold_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError, match="1 rankings but 2 gold sets"):
        score_mode("x", [["a"]], [{"a"}, {"b"}])
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 101)


def test_percentile_matches_linear_interpolation() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert math.isnan(percentile([], 50))
