from __future__ import annotations

import pytest

from graphrag.config import RetrievalSettings
from graphrag.models import Candidates, Expansion, Hit
from graphrag.retrieve.fusion import dedupe_hits, minmax, minmax_fuse, rrf_fuse
from graphrag.retrieve.modes import fuse_candidates


def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(id=i, score=s) for i, s in pairs]


def test_minmax_scales_to_unit_interval() -> None:
    assert minmax([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]


def test_minmax_constant_and_single_lists_are_all_best() -> None:
    assert minmax([0.3, 0.3, 0.3]) == [1.0, 1.0, 1.0]
    assert minmax([7.0]) == [1.0]
    assert minmax([]) == []


def test_rrf_uses_ranks_not_scores() -> None:
    dense = hits(("a", 0.9), ("b", 0.8), ("c", 0.1))
    bm25 = hits(("c", 100.0), ("b", 50.0))
    fused = rrf_fuse([dense, bm25], k=60)
    scores = {h.id: h.score for h in fused}
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    # c and b appear in both lists and beat a, which is first in one list only
    assert [h.id for h in fused] == ["c", "b", "a"]


def test_rrf_weights_shift_the_winner() -> None:
    dense = hits(("a", 1.0), ("b", 0.5))
    bm25 = hits(("b", 1.0), ("a", 0.5))
    assert rrf_fuse([dense, bm25], k=1, weights=[2.0, 1.0])[0].id == "a"
    assert rrf_fuse([dense, bm25], k=1, weights=[1.0, 2.0])[0].id == "b"


def test_rrf_ties_keep_first_appearance_and_ids_are_unique() -> None:
    fused = rrf_fuse([hits(("x", 1.0), ("y", 0.5)), hits(("y", 1.0), ("x", 0.5))])
    assert [h.id for h in fused] == ["x", "y"]
    assert fused[0].score == pytest.approx(fused[1].score)
    dup = rrf_fuse([hits(("x", 1.0), ("x", 0.9), ("y", 0.5))], k=60)
    assert [h.id for h in dup] == ["x", "y"]
    assert dup[1].score == pytest.approx(1 / 62)


def test_rrf_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rrf k"):
        rrf_fuse([hits(("a", 1.0))], k=0)
    with pytest.raises(ValueError, match="one weight per list"):
        rrf_fuse([hits(("a", 1.0))], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        minmax_fuse([hits(("a", 1.0))], weights=[-1.0])


def test_minmax_fuse_weights_normalised_scores() -> None:
    dense = hits(("a", 0.9), ("b", 0.7), ("c", 0.5))
    bm25 = hits(("c", 12.0), ("d", 2.0))
    fused = minmax_fuse([dense, bm25], weights=[0.7, 0.3])
    scores = {h.id: h.score for h in fused}
    assert scores["a"] == pytest.approx(0.7)
    assert scores["b"] == pytest.approx(0.35)
    assert scores["c"] == pytest.approx(0.3)  # 0 from dense (its minimum) + 0.3 from bm25
    assert scores["d"] == pytest.approx(0.0)
    assert [h.id for h in fused] == ["a", "b", "c", "d"]


def test_minmax_fuse_constant_list_counts_fully() -> None:
    fused = minmax_fuse([hits(("a", 0.4), ("b", 0.4)), hits(("b", 3.0))], weights=[0.5, 0.5])
    assert [(h.id, h.score) for h in fused] == [("b", 1.0), ("a", 0.5)]


def test_fusion_of_empty_lists_is_empty() -> None:
    assert rrf_fuse([[], []]) == []
    assert minmax_fuse([[], []]) == []
    assert dedupe_hits([]) == []


DEFAULTS = RetrievalSettings()
HALF = RetrievalSettings(local_dense_weight=0.5)
FORMER = RetrievalSettings(hybrid_dense_weight=0.5, hybrid_bm25_weight=0.2, hybrid_graph_weight=0.3)


def candidates() -> Candidates:
    return Candidates(
        vector_chunks=hits(("a", 0.9), ("b", 0.6), ("c", 0.3)),
        bm25_chunks=hits(("c", 9.0), ("d", 1.0)),
        entity_seeds=[],
        expansion=Expansion(entities=[], relations=[]),
        graph_chunks=hits(("b", 3.0), ("c", 1.0)),
    )


def test_local_scores_weigh_vector_and_graph() -> None:
    found = candidates()
    fused = {h.id: h.score for h in fuse_candidates(found, hybrid=False, settings=HALF)}
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0})  # BM25 is not used
    fused = {h.id: h.score for h in fuse_candidates(found, hybrid=False, settings=DEFAULTS)}
    assert fused == pytest.approx({"a": 0.7, "b": 0.35 + 0.3, "c": 0.0})  # 0.7 / 0.3
    dense_only = RetrievalSettings(local_dense_weight=1.0)
    fused = {h.id: h.score for h in fuse_candidates(found, hybrid=False, settings=dense_only)}
    assert fused == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})


def test_hybrid_default_is_weighted_minmax_and_rrf_on_request() -> None:
    found = candidates()
    fused = fuse_candidates(found, hybrid=True, settings=FORMER)
    scores = {h.id: h.score for h in fused}
    # 0.5 dense + 0.2 bm25 + 0.3 graph over min-max normalised lists
    assert scores == pytest.approx({"a": 0.5, "b": 0.25 + 0.3, "c": 0.2, "d": 0.0})
    assert [h.id for h in fused] == ["b", "a", "c", "d"]
    fused = fuse_candidates(found, hybrid=True, settings=DEFAULTS)  # 0.6 / 0.25 / 0.15
    scores = {h.id: h.score for h in fused}
    assert scores == pytest.approx({"a": 0.6, "b": 0.3 + 0.15, "c": 0.25, "d": 0.0})
    equal = {"hybrid_dense_weight": 1.0, "hybrid_bm25_weight": 1.0, "hybrid_graph_weight": 1.0}
    rrf_settings = RetrievalSettings(hybrid_fusion="rrf", **equal)
    rrf = fuse_candidates(found, hybrid=True, settings=rrf_settings)
    assert rrf[0].id == "c"  # in all three lists
    assert rrf[0].score == pytest.approx(1 / 63 + 1 / 61 + 1 / 62)
    # retrieval.rrf_k takes effect with RRF fusion
    flat = fuse_candidates(
        found, hybrid=True, settings=rrf_settings.model_copy(update={"rrf_k": 1})
    )
    assert flat[0].score == pytest.approx(1 / 4 + 1 / 2 + 1 / 3)


def test_hybrid_weights_are_settings_and_cannot_all_be_zero() -> None:
    found = candidates()
    bm25_only = RetrievalSettings(
        hybrid_dense_weight=0.0, hybrid_bm25_weight=1.0, hybrid_graph_weight=0.0
    )
    fused = fuse_candidates(found, hybrid=True, settings=bm25_only)
    assert fused[0].id == "c"  # the best BM25 chunk, last in the dense list
    assert fused[0].score == pytest.approx(1.0)
    with pytest.raises(ValueError, match="hybrid_dense_weight, hybrid_bm25_weight"):
        RetrievalSettings(hybrid_dense_weight=0.0, hybrid_bm25_weight=0.0, hybrid_graph_weight=0.0)
    with pytest.raises(ValueError, match="hybrid_fusion"):
        RetrievalSettings(hybrid_fusion="max")  # type: ignore[arg-type]
