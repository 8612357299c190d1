"""Usage per call, per tag and per run; prices; the budget stops before the call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from graphrag.config import LLMSettings
from graphrag.errors import LLMError
from graphrag.llm import (
    Budget,
    BudgetExceededError,
    ChatMessage,
    ChatModel,
    MeteredChatModel,
    Pricing,
    ScriptedChatModel,
    UsageMeter,
    estimate_prompt_tokens,
    make_chat_model,
    usage_tag,
)

ASK = [ChatMessage.user("a bb cc dd")]
"""Scripted usage: 4 prompt tokens (words). Estimate: ceil(10 chars / 4) + 3 + 3 = 9."""


async def run_until_refused(
    model: ChatModel, prompts: list[list[ChatMessage]], max_tokens: int
) -> tuple[list[str], BudgetExceededError | None]:
    """Send prompts in order until the budget refuses one; return the replies and the error."""
    texts: list[str] = []
    for prompt in prompts:
        try:
            result = await model.complete(prompt, max_tokens=max_tokens, temperature=0.0)
        except BudgetExceededError as exc:
            return texts, exc
        texts.append(result.text)
    return texts, None


def test_the_prompt_estimate_the_figures_below_rely_on() -> None:
    assert estimate_prompt_tokens(ASK) == 9


async def test_meter_sums_per_call_per_tag_and_per_run() -> None:
    meter = UsageMeter(Pricing(per_1k_prompt=1.0, per_1k_completion=2.0))
    model = MeteredChatModel(ScriptedChatModel(["a b", "c d e", "f"]), meter)

    with usage_tag("d_1"):
        await model.complete(ASK, max_tokens=8, temperature=0.0)
        await model.complete(ASK, max_tokens=8, temperature=0.0)
    with usage_tag("d_2"):
        await model.complete(ASK, max_tokens=8, temperature=0.0)

    totals = meter.totals()
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens) == (3, 12, 6)
    assert totals.cost == pytest.approx((12 * 1.0 + 6 * 2.0) / 1000)
    by_tag = meter.by_tag()
    assert (by_tag["d_1"].calls, by_tag["d_1"].completion_tokens) == (2, 5)
    assert (by_tag["d_2"].calls, by_tag["d_2"].completion_tokens) == (1, 1)
    records = meter.records()
    assert [r.tag for r in records] == ["d_1", "d_1", "d_2"]
    assert records[0].cost == pytest.approx((4 + 2 * 2) / 1000)
    assert records[0].seconds >= 0


async def test_tags_follow_tasks_started_inside_the_block() -> None:
    meter = UsageMeter()
    model = MeteredChatModel(ScriptedChatModel(["x"], repeat_last=True), meter)

    async def document(tag: str) -> None:
        with usage_tag(tag):
            await asyncio.gather(
                *(model.complete(ASK, max_tokens=4, temperature=0.0) for _ in range(3))
            )

    await asyncio.gather(document("a"), document("b"))

    assert {tag: t.calls for tag, t in meter.by_tag().items()} == {"a": 3, "b": 3}


async def test_token_budget_stops_before_the_call_that_could_exceed_it() -> None:
    chat = ScriptedChatModel(["one two"], repeat_last=True)  # uses 4 + 2 = 6 tokens per call
    meter = UsageMeter(budget=Budget(max_tokens=40))
    model = MeteredChatModel(chat, meter)

    done, error = await run_until_refused(model, [ASK] * 10, max_tokens=10)  # reserves 9 + 10

    # Before each call: used + 19 <= 40? 0, 6, 12, 18 -> yes; 24 + 19 = 43 -> refused, unsent.
    assert len(done) == 4
    assert len(chat.calls) == 4
    assert meter.totals().total_tokens == 24 <= 40
    assert isinstance(error, LLMError)
    assert (error.used, error.needed, error.limit, error.unit) == (24, 19, 40, "tokens")
    assert "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN" in str(error)
    assert "nothing was sent" in str(error)


async def test_cost_budget() -> None:
    chat = ScriptedChatModel(["x"], repeat_last=True)
    meter = UsageMeter(Pricing(10.0, 10.0), Budget(max_cost=0.25))
    model = MeteredChatModel(chat, meter)

    _, error = await run_until_refused(model, [ASK] * 10, max_tokens=2)

    assert error is not None
    assert "GRAPHRAG_LLM__MAX_COST" in str(error)
    assert meter.totals().cost <= 0.25
    assert len(chat.calls) == 3  # each call costs (4 + 1) x 0.01 and reserves (9 + 2) x 0.01


async def test_concurrent_calls_cannot_overrun_the_budget_together() -> None:
    chat = ScriptedChatModel(["w"], repeat_last=True, delay=0.01)
    meter = UsageMeter(budget=Budget(max_tokens=50))
    model = MeteredChatModel(chat, meter)

    results = await asyncio.gather(
        *(model.complete(ASK, max_tokens=2, temperature=0.0) for _ in range(20)),
        return_exceptions=True,
    )

    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(made) + len(refused) == 20
    assert len(made) == 4
    assert meter.totals().total_tokens <= 50


async def test_a_failed_call_releases_its_reservation() -> None:
    chat = ScriptedChatModel([LLMError("boom"), "x"])
    meter = UsageMeter(budget=Budget(max_tokens=15))  # one reservation of 9 + 4 fits
    model = MeteredChatModel(chat, meter)

    with pytest.raises(LLMError, match="boom"):
        await model.complete(ASK, max_tokens=4, temperature=0.0)
    await model.complete(ASK, max_tokens=4, temperature=0.0)  # would be refused if kept

    assert meter.totals().calls == 1


async def test_stream_is_metered_and_budget_checked_before_the_request() -> None:
    chat = ScriptedChatModel(["a b c"])  # uses 4 + 3; reserves 9 + 4
    meter = UsageMeter(budget=Budget(max_tokens=19))
    model = MeteredChatModel(chat, meter)

    await model.stream(ASK, max_tokens=4, temperature=0.0).collect()
    assert meter.totals().completion_tokens == 3
    with pytest.raises(BudgetExceededError):
        await model.stream(ASK, max_tokens=4, temperature=0.0).collect()
    assert len(chat.calls) == 1


async def test_rerun_after_a_budget_stop_replays_the_cache_and_continues(tmp_path: Path) -> None:
    settings = LLMSettings(
        cache_path=tmp_path / "cache.db", max_tokens_per_run=30, retry_base_delay=0.0
    )
    # Each call uses 3 + 2 tokens and reserves 9 + 8: used 0, 5, 10 -> sent; 15 + 17 > 30.
    prompts = [[ChatMessage.user(f"chunk {i} text")] for i in range(5)]

    first_chat = ScriptedChatModel([f"reply {i}" for i in range(5)])
    first = make_chat_model(settings, inner=first_chat)
    assert first is not None
    done, error = await run_until_refused(first, prompts, max_tokens=8)
    assert error is not None
    assert done == ["reply 0", "reply 1", "reply 2"]
    assert len(first_chat.calls) == 3

    second_chat = ScriptedChatModel(["reply 3", "reply 4"])
    second = make_chat_model(
        settings.model_copy(update={"max_tokens_per_run": None}), inner=second_chat
    )
    assert second is not None
    texts = [(await second.complete(p, max_tokens=8, temperature=0.0)).text for p in prompts]

    assert texts == [f"reply {i}" for i in range(5)]
    assert len(second_chat.calls) == 2  # only the calls the first run did not make
    totals = second.meter.totals()  # type: ignore[attr-defined]
    assert (totals.calls, totals.cached_calls) == (2, 3)
    assert totals.hit_rate == pytest.approx(0.6)


def test_meter_from_settings_and_reset() -> None:
    meter = UsageMeter.from_settings(
        LLMSettings(price_per_1k_prompt=0.5, price_per_1k_completion=1.5, max_cost=3.0)
    )
    assert meter.pricing == Pricing(0.5, 1.5)
    assert meter.budget == Budget(3.0, None)
    meter.reset()
    assert meter.totals().calls == 0
    assert meter.totals().hit_rate == 0.0


async def test_closing_a_stream_early_closes_the_request_and_frees_its_reservation() -> None:
    from graphrag.config import load_settings
    from graphrag.llm import ChatMessage, ScriptedChatModel, UsageMeter, make_chat_model

    inner = ScriptedChatModel(["one two three four five six seven eight nine ten"])
    settings = load_settings(llm={"cache": False, "max_tokens_per_run": 10_000})
    meter = UsageMeter.from_settings(settings.llm)
    model = make_chat_model(settings, inner=inner, meter=meter)
    assert model is not None

    stream = model.stream([ChatMessage.user("count")], max_tokens=64, temperature=0.0)
    first = [await stream.__anext__(), await stream.__anext__()]
    assert inner.in_flight == 1
    await stream.aclose()

    assert first == ["one ", "two "]
    assert inner.in_flight == 0  # the scripted request was closed, not left to the GC
    assert meter._ledger.reserved_tokens == 0  # the budget holds nothing for it any more
    assert meter.totals().calls == 0


async def test_a_budget_scope_is_one_run_and_the_meter_keeps_every_call() -> None:
    import asyncio

    from graphrag.config import load_settings
    from graphrag.llm import (
        BudgetExceededError,
        ChatMessage,
        ScriptedChatModel,
        UsageMeter,
        budget_scope,
        estimate_prompt_tokens,
        make_chat_model,
    )

    ask = [ChatMessage.user("one two three")]
    need = estimate_prompt_tokens(ask) + 20  # what one call reserves
    inner = ScriptedChatModel(["four words of reply"], repeat_last=True)
    settings = load_settings(llm={"cache": False, "max_tokens_per_run": need + 5})
    meter = UsageMeter.from_settings(settings.llm)
    model = make_chat_model(settings, inner=inner, meter=meter)
    assert model is not None

    async def one() -> None:
        await model.complete(ask, max_tokens=20, temperature=0.0)

    await one()  # books 7 tokens (3 prompt + 4 reply words)
    with pytest.raises(BudgetExceededError):
        await one()  # no scope: the meter's life is the run, 7 + need > need + 5
    for _ in range(3):  # each request in its own scope: the budget applies afresh
        with budget_scope():
            await one()
    with budget_scope(), pytest.raises(BudgetExceededError):
        await asyncio.gather(one(), one())  # tasks inherit the scope: 2 x need > need + 5
    assert meter.totals().calls == 5  # the meter still counts every call made
    assert meter._ledger.reserved_tokens == 0  # nothing left reserved anywhere
