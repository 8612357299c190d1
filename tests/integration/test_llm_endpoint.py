"""The LLM tier against a real OpenAI-compatible server (opt-in).

Runs when ``GRAPHRAG_LLM__BASE_URL`` is set (``GRAPHRAG_LLM__MODEL``, default
``gemma-3-270m``; ``GRAPHRAG_LLM__API_KEY`` if the server needs one), e.g. against the local
llama.cpp server of ``scripts/llama_server.sh``::

    bash scripts/llama_server.sh 18081 &
    GRAPHRAG_LLM__BASE_URL=http://127.0.0.1:18081/v1 \\
        .venv/bin/pytest -s tests/integration/test_llm_endpoint.py

Checks plumbing, not answer quality: start-up check, completion and stream with usage, the
reply limit honoured, a cached rerun making no call, and the token estimator against the
counts the server reports (figures printed with ``-s``; docs/llm.md has the recorded run).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from graphrag.config import LLMSettings
from graphrag.llm import (
    CachedChatModel,
    ChatMessage,
    ChatModel,
    ChatResult,
    ChatStream,
    estimate_prompt_tokens,
    estimate_run,
    make_chat_model,
)
from graphrag.llm.chat_openai import LangChainChatModel
from tests.integration.llm_env import API_KEY, BASE_URL, MODEL, needs_llm

pytestmark = needs_llm
CORPUS = Path(__file__).resolve().parents[2] / "samples" / "corpus"
SYSTEM = "List the people, organisations and places named in the text, as JSON."


def settings(tmp_path: Path, **overrides: object) -> LLMSettings:
    values: dict[str, object] = {
        "base_url": BASE_URL,
        "model": MODEL,
        "api_key": API_KEY,
        "timeout": 120.0,
        "max_concurrency": 1,
        "cache_path": tmp_path / "llm_cache.db",
        "retry_base_delay": 0.5,
    }
    return LLMSettings(**{**values, **overrides})


class Counting:
    """Counts the calls that reach the real adapter."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        self.calls += 1
        return await self.inner.complete(
            messages, max_tokens=max_tokens, temperature=temperature, json_mode=json_mode
        )

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        self.calls += 1
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)

    async def check(self) -> None:
        await self.inner.check()


def paragraphs(limit: int) -> list[str]:
    """Paragraphs of the sample corpus's plain-text and Markdown files, varied in length."""
    found: list[str] = []
    for path in sorted(CORPUS.glob("*.md")) + sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found += [p.strip() for p in re.split(r"\n\s*\n", text) if len(p.strip()) > 40]
    return found[:limit]


def prompt(text: str) -> list[ChatMessage]:
    return [ChatMessage.system(SYSTEM), ChatMessage.user(text)]


async def test_check_validates_the_endpoint(tmp_path: Path) -> None:
    model = make_chat_model(settings(tmp_path))
    assert model is not None

    started = time.perf_counter()
    await model.check()
    print(f"\ncheck: {time.perf_counter() - started:.2f} s")


async def test_complete_reports_usage_and_honours_the_reply_limit(tmp_path: Path) -> None:
    model = LangChainChatModel(settings(tmp_path))

    started = time.perf_counter()
    result = await model.complete(
        [ChatMessage.user("Name the capital of France.")], max_tokens=16, temperature=0.0
    )
    seconds = time.perf_counter() - started

    print(f"\ncomplete: {seconds:.2f} s, {result.usage}, finish={result.finish_reason}")
    print(f"text: {result.text!r}")
    assert not result.usage.estimated
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.completion_tokens <= 16  # max_tokens reached the server
    assert seconds < 60


async def test_stream_yields_pieces_and_usage(tmp_path: Path) -> None:
    model = LangChainChatModel(settings(tmp_path))

    started = time.perf_counter()
    stream = model.stream(
        [ChatMessage.user("Count from one to ten.")], max_tokens=24, temperature=0.0
    )
    pieces = [piece async for piece in stream]
    seconds = time.perf_counter() - started

    result = stream.result
    print(f"\nstream: {len(pieces)} pieces in {seconds:.2f} s, {result.usage}")
    assert pieces
    assert "".join(pieces) == result.text
    assert 0 < result.usage.completion_tokens <= 24


async def test_json_mode_returns_text_even_when_malformed(tmp_path: Path) -> None:
    model = LangChainChatModel(settings(tmp_path))

    result = await model.complete(
        prompt(paragraphs(1)[0]), max_tokens=48, temperature=0.0, json_mode=True
    )

    print(f"\njson_mode reply ({result.usage.completion_tokens} tokens): {result.text[:200]!r}")
    assert isinstance(result.text, str)


async def test_a_cached_rerun_makes_no_call(tmp_path: Path) -> None:
    texts = paragraphs(5)
    config = settings(tmp_path)

    first_inner = Counting(LangChainChatModel(config))
    first = make_chat_model(config, inner=first_inner)
    assert isinstance(first, CachedChatModel)
    started = time.perf_counter()
    replies = [
        (await first.complete(prompt(t), max_tokens=12, temperature=0.0)).text for t in texts
    ]
    cold = time.perf_counter() - started
    first.cache.close()

    second_inner = Counting(LangChainChatModel(config))
    second = make_chat_model(config, inner=second_inner)
    assert isinstance(second, CachedChatModel)
    started = time.perf_counter()
    again = [(await second.complete(prompt(t), max_tokens=12, temperature=0.0)).text for t in texts]
    warm = time.perf_counter() - started

    totals = second.meter.totals() if second.meter else None
    print(f"\nfirst run: {first_inner.calls} calls, {cold:.2f} s")
    print(f"rerun: {second_inner.calls} calls, {warm:.3f} s")
    assert first_inner.calls == len(texts)
    assert second_inner.calls == 0
    assert again == replies
    assert totals is not None
    assert totals.hit_rate == 1.0


async def test_system_messages_reach_the_model_or_are_folded(tmp_path: Path) -> None:
    """llama.cpp's gemma chat format drops system messages; fold_system_prompt keeps them."""
    messages = prompt(paragraphs(1)[0])
    native = LangChainChatModel(settings(tmp_path))
    folded = LangChainChatModel(settings(tmp_path, fold_system_prompt=True))
    alone = [messages[1]]

    sent = await native.complete(messages, max_tokens=1, temperature=0.0)
    kept = await folded.complete(messages, max_tokens=1, temperature=0.0)
    user_only = await native.complete(alone, max_tokens=1, temperature=0.0)

    print(
        f"\nprompt tokens: system+user {sent.usage.prompt_tokens}, folded "
        f"{kept.usage.prompt_tokens}, user alone {user_only.usage.prompt_tokens}"
    )
    assert kept.usage.prompt_tokens > user_only.usage.prompt_tokens


async def test_the_token_estimator_against_the_server_counts(tmp_path: Path) -> None:
    from graphrag.ingest.tokens import TokenCounter

    limit = 16
    prompts = [prompt(t) for t in paragraphs(12)]
    model = make_chat_model(settings(tmp_path, cache=False, fold_system_prompt=True))
    assert model is not None
    reported: list[int] = []
    for messages in prompts:
        result = await model.complete(messages, max_tokens=limit, temperature=0.0)
        reported.append(result.usage.prompt_tokens)
    actual = model.meter.totals()  # type: ignore[attr-defined]

    minilm = TokenCounter()
    heuristic = [estimate_prompt_tokens(m) for m in prompts]
    wordpiece = [estimate_prompt_tokens(m, count=minilm.count) for m in prompts]
    real = sum(reported)
    err_heuristic = (sum(heuristic) - real) / real
    err_wordpiece = (sum(wordpiece) - real) / real
    per_prompt = [abs(h - r) / r for h, r in zip(heuristic, reported, strict=True)]
    dry = estimate_run(prompts, completion_tokens_per_call=limit)
    err_total = (dry.total_tokens - actual.total_tokens) / actual.total_tokens
    print(f"\n{len(prompts)} prompts; server-reported prompt tokens: {real}")
    print(
        f"chars/4 estimate: {sum(heuristic)} ({err_heuristic:+.1%}; per prompt mean "
        f"{sum(per_prompt) / len(per_prompt):.1%}, max {max(per_prompt):.1%})"
    )
    print(f"MiniLM word-piece estimate: {sum(wordpiece)} ({err_wordpiece:+.1%})")
    print(
        f"dry run: {dry.calls} calls, {dry.total_tokens} tokens; real run: {actual.calls} "
        f"calls, {actual.total_tokens} tokens ({err_total:+.1%}), {actual.seconds:.1f} s"
    )
    assert dry.prompt_tokens == sum(heuristic)
    assert dry.calls == actual.calls
    assert abs(err_heuristic) < 0.20
    assert abs(err_total) < 0.20
