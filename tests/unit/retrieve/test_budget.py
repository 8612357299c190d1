from __future__ import annotations

from graphrag.models import ScoredChunk
from graphrag.retrieve.budget import apply_budget


def chunk(i: int, tokens: int) -> ScoredChunk:
    return ScoredChunk(
        id=f"c{i}",
        document_id="d",
        source="s",
        title="t",
        ordinal=i,
        text="x",
        score=1.0 / (i + 1),
        token_count=tokens,
    )


def test_keeps_rank_order_within_budget() -> None:
    chunks = [chunk(0, 40), chunk(1, 50), chunk(2, 30), chunk(3, 5)]
    kept, truncated = apply_budget(chunks, token_budget=100, top_k=10)
    # c2 would overflow (120 > 100): the cut stops there, c3 does not jump the queue
    assert [c.id for c in kept] == ["c0", "c1"]
    assert truncated


def test_budget_exactly_reached_is_not_truncated() -> None:
    kept, truncated = apply_budget([chunk(0, 60), chunk(1, 40)], token_budget=100, top_k=5)
    assert [c.id for c in kept] == ["c0", "c1"]
    assert not truncated


def test_always_keeps_the_best_chunk() -> None:
    kept, truncated = apply_budget([chunk(0, 500), chunk(1, 10)], token_budget=100, top_k=5)
    assert [c.id for c in kept] == ["c0"]
    assert truncated


def test_top_k_cut_is_not_reported_as_truncation() -> None:
    kept, truncated = apply_budget([chunk(i, 10) for i in range(6)], token_budget=1000, top_k=3)
    assert [c.id for c in kept] == ["c0", "c1", "c2"]
    assert not truncated


def test_empty_input() -> None:
    assert apply_budget([], token_budget=100, top_k=3) == ([], False)
