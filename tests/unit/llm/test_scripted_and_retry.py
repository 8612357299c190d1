"""ScriptedChatModel, and retries with backoff and a concurrency bound around it."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from graphrag.errors import LLMError
from graphrag.llm import (
    ChatMessage,
    ChatResult,
    RetryingChatModel,
    RetryPolicy,
    ScriptedChatModel,
    Usage,
    as_messages,
)
from graphrag.llm.errors import (
    LLMConfigError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)

ASK = [ChatMessage.user("Extract the entities as JSON")]
TINY = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.004)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_malformed_output_passes_through_unchanged() -> None:
    chat = ScriptedChatModel(['{"entities": [{"name": "Velmora"'])

    result = await chat.complete(ASK, max_tokens=64, temperature=0.0, json_mode=True)

    assert result.text == '{"entities": [{"name": "Velmora"'
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.text)
    assert chat.calls[0].json_mode
    assert chat.calls[0].messages == tuple(ASK)


async def test_usage_counts_words_or_uses_the_scripted_result() -> None:
    given = ChatResult("x", Usage(100, 20), "big", finish_reason="length")
    chat = ScriptedChatModel(["three word reply", given], model_name="tiny")

    first = await chat.complete(ASK, max_tokens=8, temperature=0.0)
    second = await chat.complete(ASK, max_tokens=8, temperature=0.0)

    assert (first.usage.prompt_tokens, first.usage.completion_tokens, first.model) == (5, 3, "tiny")
    assert second is given


async def test_exhausted_script_is_an_llm_error_unless_repeating() -> None:
    chat = ScriptedChatModel(["only"])
    await chat.complete(ASK, max_tokens=8, temperature=0.0)
    with pytest.raises(LLMError, match="no reply left for call 2"):
        await chat.complete(ASK, max_tokens=8, temperature=0.0)

    repeating = ScriptedChatModel(["again"], repeat_last=True)
    texts = [(await repeating.complete(ASK, max_tokens=8, temperature=0.0)).text for _ in range(3)]
    assert texts == ["again"] * 3


async def test_stream_yields_words_and_the_result() -> None:
    chat = ScriptedChatModel(["Paris is  the capital."])

    stream = chat.stream(ASK, max_tokens=8, temperature=0.0)
    pieces = [piece async for piece in stream]

    assert "".join(pieces) == "Paris is  the capital."
    assert len(pieces) == 4
    assert stream.result.usage.completion_tokens == 4
    assert chat.calls[0].stream


async def test_stream_result_before_the_end_is_an_error() -> None:
    stream = ScriptedChatModel(["a b"]).stream(ASK, max_tokens=8, temperature=0.0)
    with pytest.raises(LLMError, match="has not finished"):
        _ = stream.result
    assert (await stream.collect()).text == "a b"


async def test_check_raises_the_scripted_error() -> None:
    chat = ScriptedChatModel([], check_error=LLMConfigError("set GRAPHRAG_LLM__API_KEY"))
    with pytest.raises(LLMConfigError):
        await chat.check()
    assert chat.checks == 1


def test_as_messages_accepts_dicts_and_rejects_bad_roles() -> None:
    messages = as_messages([{"role": "user", "content": "hi"}, ChatMessage.system("s")])
    assert messages == [ChatMessage.user("hi"), ChatMessage.system("s")]
    with pytest.raises(ValueError, match="role"):
        as_messages([{"role": "tool", "content": "x"}])


async def test_rate_limit_then_success_is_retried_with_exponential_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = ScriptedChatModel([LLMRateLimitError("429"), LLMServerError("503"), "ok"])
    sleeps = Sleeps()
    model = RetryingChatModel(
        chat, RetryPolicy(max_retries=3, base_delay=0.5, max_delay=10, jitter=False), sleep=sleeps
    )

    result = await model.complete(ASK, max_tokens=8, temperature=0.0)

    assert result.text == "ok"
    assert len(chat.calls) == 3
    assert sleeps.delays == [0.5, 1.0]
    assert model.retries == 2
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


async def test_real_sleeps_with_tiny_delays() -> None:
    chat = ScriptedChatModel([LLMRateLimitError("429"), LLMRateLimitError("429"), "ok"])
    model = RetryingChatModel(chat, TINY)

    assert (await model.complete(ASK, max_tokens=8, temperature=0.0)).text == "ok"


async def test_retry_after_from_the_server_wins_but_is_capped() -> None:
    chat = ScriptedChatModel(
        [LLMRateLimitError("429", retry_after=3.0), LLMRateLimitError("x", retry_after=99), "ok"]
    )
    sleeps = Sleeps()
    model = RetryingChatModel(chat, RetryPolicy(base_delay=0.1, max_delay=5), sleep=sleeps)

    await model.complete(ASK, max_tokens=8, temperature=0.0)

    assert sleeps.delays == [3.0, 5.0]


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=6.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0), (9, 6.0)):
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread, not constant


async def test_timeouts_until_the_retries_run_out_become_an_llm_timeout_error() -> None:
    chat = ScriptedChatModel([TimeoutError()], repeat_last=True)
    model = RetryingChatModel(chat, TINY)

    with pytest.raises(LLMTimeoutError, match="GRAPHRAG_LLM__TIMEOUT") as caught:
        await model.complete(ASK, max_tokens=8, temperature=0.0)

    assert isinstance(caught.value, LLMError)
    assert len(chat.calls) == TINY.max_retries + 1


async def test_configuration_errors_are_not_retried() -> None:
    chat = ScriptedChatModel([LLMConfigError("set GRAPHRAG_LLM__API_KEY"), "never"])
    model = RetryingChatModel(chat, TINY)

    with pytest.raises(LLMConfigError):
        await model.complete(ASK, max_tokens=8, temperature=0.0)
    assert len(chat.calls) == 1


async def test_concurrency_bound_is_respected() -> None:
    chat = ScriptedChatModel(["ok"], repeat_last=True, delay=0.02)
    model = RetryingChatModel(chat, TINY, max_concurrency=3)

    results = await asyncio.gather(
        *(model.complete(ASK, max_tokens=8, temperature=0.0) for _ in range(12))
    )

    assert len(results) == 12
    assert chat.max_in_flight == 3


async def test_backoff_releases_the_concurrency_slot() -> None:
    chat = ScriptedChatModel([LLMRateLimitError("429"), "a", "b"])
    gate = asyncio.Event()

    async def slow_sleep(_: float) -> None:
        await gate.wait()

    model = RetryingChatModel(chat, TINY, max_concurrency=1, sleep=slow_sleep)
    first = asyncio.create_task(model.complete(ASK, max_tokens=8, temperature=0.0))
    await asyncio.sleep(0.01)
    second = await asyncio.wait_for(model.complete(ASK, max_tokens=8, temperature=0.0), 1.0)
    gate.set()

    assert second.text == "a"
    assert (await first).text == "b"


async def test_stream_is_retried_before_its_first_piece() -> None:
    chat = ScriptedChatModel([LLMRateLimitError("429"), "streamed reply"])
    model = RetryingChatModel(chat, TINY)

    result = await model.stream(ASK, max_tokens=8, temperature=0.0).collect()

    assert result.text == "streamed reply"
    assert len(chat.calls) == 2


async def test_stream_failing_after_a_piece_is_not_retried() -> None:
    class Broken(ScriptedChatModel):
        async def _stream(self, messages, max_tokens, temperature):  # type: ignore[no-untyped-def]
            self.calls.append(None)  # type: ignore[arg-type]
            yield "partial "
            raise LLMServerError("connection dropped")

    chat = Broken([])
    model = RetryingChatModel(chat, TINY)
    stream = model.stream(ASK, max_tokens=8, temperature=0.0)

    with pytest.raises(LLMServerError):
        async for _ in stream:
            pass
    assert len(chat.calls) == 1


def test_secrets_are_scrubbed_from_messages(caplog: pytest.LogCaptureFixture) -> None:
    from graphrag.llm.errors import safe_url, scrub

    caplog.set_level(logging.DEBUG)
    assert scrub("key sk-secret-1 and Bearer abc.def", "sk-secret-1") == "key *** and Bearer ***"
    assert safe_url("http://u:p@h:1/v1") == "http://***@h:1/v1"
    assert scrub("x" * 400, None).endswith("...")
    assert len(scrub("x" * 400, None)) == 300
