"""Token budget: cut a ranked chunk list to what fits the context window."""

from __future__ import annotations

from collections.abc import Sequence

from graphrag.models import ScoredChunk

__all__ = ["apply_budget"]


def apply_budget(
    chunks: Sequence[ScoredChunk], *, token_budget: int, top_k: int
) -> tuple[list[ScoredChunk], bool]:
    """Keep chunks in rank order while they fit the token budget, then at most ``top_k``.

    Chunks are taken in the given order while the running sum of ``token_count`` stays within
    ``token_budget``; the first chunk that would overflow stops the cut (later, smaller chunks
    are not used to fill the gap, so the ranking is preserved). The best chunk is always kept,
    even when it alone exceeds the budget.

    Args:
        chunks: Chunks, best first.
        token_budget: Maximum total tokens.
        top_k: Maximum number of chunks.

    Returns:
        ``(kept, truncated)``; ``truncated`` is true when the budget dropped at least one chunk
        that ``top_k`` alone would have kept.
    """
    limit = min(len(chunks), max(top_k, 0))
    kept: list[ScoredChunk] = []
    used = 0
    for chunk in chunks[:limit]:
        if kept and used + chunk.token_count > token_budget:
            break
        kept.append(chunk)
        used += chunk.token_count
    return kept, len(kept) < limit
