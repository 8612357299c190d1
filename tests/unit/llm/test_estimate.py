"""Token estimates and dry-run figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.llm import (
    CachedChatModel,
    ChatMessage,
    LLMCache,
    Pricing,
    ScriptedChatModel,
    UsageMeter,
    estimate_prompt_tokens,
    estimate_run,
    estimate_tokens,
)
from graphrag.llm.estimate import MESSAGE_OVERHEAD, REPLY_OVERHEAD

M, R = MESSAGE_OVERHEAD, REPLY_OVERHEAD


def test_estimate_tokens_is_characters_over_four_rounded_up() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_prompt_estimate_adds_the_template_overhead_per_message() -> None:
    messages = [ChatMessage.system("abcd"), ChatMessage.user("abcdefgh")]
    assert estimate_prompt_tokens(messages) == 1 + 2 + 2 * M + R
    assert estimate_prompt_tokens("abcdefgh") == 2 + M + R
    assert estimate_prompt_tokens("abcd efgh", count=lambda t: len(t.split())) == 2 + M + R


def test_estimate_run_counts_calls_tokens_and_cost() -> None:
    prompts = ["x" * 400, [ChatMessage.system("y" * 40), ChatMessage.user("z" * 80)]]

    estimate = estimate_run(prompts, pricing=Pricing(2.0, 4.0), completion_tokens_per_call=100)

    assert estimate.calls == 2
    assert estimate.cached_calls == 0
    prompt_tokens = (100 + M + R) + (10 + M + 20 + M + R)
    assert estimate.prompt_tokens == prompt_tokens
    assert estimate.completion_tokens_guess == 200
    assert estimate.total_tokens == prompt_tokens + 200
    assert estimate.cost == pytest.approx((prompt_tokens * 2.0 + 200 * 4.0) / 1000)


async def test_estimate_run_leaves_out_cached_prompts(tmp_path: Path) -> None:
    model = CachedChatModel(ScriptedChatModel(["r"]), LLMCache(tmp_path / "c.db"))
    prompts = [[ChatMessage.user("first")], [ChatMessage.user("second")]]
    await model.complete(prompts[0], max_tokens=16, temperature=0.0)

    estimate = estimate_run(
        prompts,
        is_cached=lambda m: model.is_cached(m, max_tokens=16, temperature=0.0),
    )

    assert (estimate.calls, estimate.cached_calls, estimate.cost) == (1, 1, 0.0)


async def test_dry_run_estimate_against_scripted_usage_within_20_percent() -> None:
    """The estimator against a scripted model reporting usage at 4 characters per token."""
    from graphrag.llm import ChatResult, Usage

    texts = [
        f"Passage {i}: " + "Velmora harbour engineers built the bridge. " * (i + 3)
        for i in range(20)
    ]
    prompts = [[ChatMessage.system("Extract entities."), ChatMessage.user(t)] for t in texts]
    replies = [
        ChatResult("[]", Usage(sum(len(m.content) // 4 + 4 for m in p), 30), "scripted")
        for p in prompts
    ]
    meter = UsageMeter()
    chat = ScriptedChatModel(replies)
    for prompt in prompts:
        result = await chat.complete(prompt, max_tokens=64, temperature=0.0)
        meter.record(result)

    estimate = estimate_run(prompts, completion_tokens_per_call=30)
    actual = meter.totals()

    assert estimate.calls == actual.calls == 20
    assert abs(estimate.total_tokens - actual.total_tokens) / actual.total_tokens < 0.2
