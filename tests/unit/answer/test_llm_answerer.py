"""The LLM answerer with a scripted chat model behind the real stack (cache, budget, retries)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from graphrag.answer import NOT_SUPPORTED, LLMAnswerer, abstained
from graphrag.answer.llm_answerer import (
    ECHO_NOTE,
    EMPTY_CONTEXT_NOTE,
    EMPTY_REPLY_NOTE,
    NOT_SUPPORTED_NOTE,
    UNCITED_NOTE,
)
from graphrag.errors import GraphRAGError, InvalidArgumentError, LLMError
from graphrag.llm import (
    BudgetExceededError,
    ChatResult,
    LLMRateLimitError,
    LLMTimeoutError,
    Usage,
)
from graphrag.models import Answer, AnswerKind
from tests.unit.answer.llm_helpers import TEXTS, context, scripted_stack

QUESTION = "Which institute did the founder of the company that built the Lantern Bridge attend?"
CITED = (
    "Brennick & Vale built the bridge [1]. Its founder Tomas Brennick studied at the "
    "Velmora Polytechnic Institute [2]."
)


async def streamed(answerer: LLMAnswerer, question: str = QUESTION) -> tuple[list[str], Answer]:
    stream = answerer.stream(question, context())
    pieces = [piece async for piece in stream]
    return pieces, stream.answer


async def test_a_cited_answer_keeps_its_citations_with_quotes() -> None:
    model, inner = scripted_stack([CITED])
    answer = await LLMAnswerer(model, max_tokens=128).answer(QUESTION, context())

    assert answer.text == CITED
    assert answer.kind is AnswerKind.GENERATED
    assert answer.mode.value == "ppr"
    assert [c.marker for c in answer.citations] == [1, 2]
    second = answer.citations[1]
    assert (second.chunk_id, second.document_id, second.source, second.title) == (
        "c_2",
        "d_2",
        "/docs/2.txt",
        "Doc 2",
    )
    assert second.quote == "He studied at the Velmora Polytechnic Institute."
    assert second.span is not None
    assert TEXTS[1][second.span[0] : second.span[1]] == second.quote
    assert answer.citations[0].quote == "Brennick & Vale Engineering built the Lantern Bridge."
    assert answer.notes == []
    assert not abstained(answer)
    assert answer.usage is not None
    assert answer.usage.model == "scripted"
    assert answer.usage.completion_tokens == len(CITED.split())
    assert answer.usage.prompt_tokens > 100
    assert answer.usage.cached is False
    assert {"prompt", "llm", "verify", "total"} <= set(answer.timings)
    assert answer.context is not None
    call = inner.calls[0]
    assert (call.max_tokens, call.temperature, call.stream) == (128, 0.0, False)
    assert "[2] Doc 2 (/docs/2.txt)" in call.messages[-1].content


async def test_hallucinated_citation_ids_are_removed_and_reported() -> None:
    model, _ = scripted_stack(["It was Brennick [2][7], see also [12]. Founded in 1950 [1, 9]."])
    answer = await LLMAnswerer(model).answer(QUESTION, context())

    assert answer.text == "It was Brennick [2], see also. Founded in 1950 [1]."
    assert [c.marker for c in answer.citations] == [2, 1]
    assert answer.notes == [
        "Removed citation(s) [7] [12] [9]: the context has no such source (it has [1]-[3])."
    ]


async def test_an_empty_context_makes_no_call() -> None:
    model, inner = scripted_stack(["never used"])
    answerer = LLMAnswerer(model)
    answer = await answerer.answer(QUESTION, context([], notes=["run graphrag analyze"]))

    assert inner.calls == []
    assert answer.text == NOT_SUPPORTED
    assert answer.citations == []
    assert answer.usage is None
    assert answer.notes == [EMPTY_CONTEXT_NOTE, "run graphrag analyze"]
    assert abstained(answer)
    stream = answerer.stream(QUESTION, context([]))
    assert "".join([p async for p in stream]) == NOT_SUPPORTED
    assert stream.answer.text == NOT_SUPPORTED
    assert inner.calls == []


async def test_the_context_does_not_say() -> None:
    model, _ = scripted_stack([f"  {NOT_SUPPORTED}\n"])
    answer = await LLMAnswerer(model).answer("Who painted the bridge?", context())

    assert answer.text == NOT_SUPPORTED
    assert answer.citations == []
    assert answer.notes == [NOT_SUPPORTED_NOTE]
    assert abstained(answer)


@pytest.mark.parametrize(
    ("reply", "notes"),
    [
        ("", [EMPTY_REPLY_NOTE]),
        ("   \n ", [EMPTY_REPLY_NOTE]),
        (
            "[4][5]",
            [
                "Removed citation(s) [4] [5]: the context has no such source (it has [1]-[3]).",
                EMPTY_REPLY_NOTE,
            ],
        ),
    ],
)
async def test_an_empty_or_unusable_reply_becomes_the_not_supported_answer(
    reply: str, notes: list[str]
) -> None:
    model, _ = scripted_stack([reply, reply])
    answerer = LLMAnswerer(model)
    answer = await answerer.answer(QUESTION, context())
    assert answer.text == NOT_SUPPORTED
    assert answer.notes == notes
    assert abstained(answer)
    pieces, final = await streamed(answerer)
    assert "".join(pieces) == final.text == NOT_SUPPORTED


async def test_malformed_output_is_kept_as_unverified_text() -> None:
    malformed = '{"answer": "Velmora Polytechnic", "source": '
    model, _ = scripted_stack([malformed])
    answer = await LLMAnswerer(model).answer(QUESTION, context())
    assert answer.text == malformed.strip()
    assert answer.citations == []
    assert answer.notes == [UNCITED_NOTE]
    assert not abstained(answer)


@pytest.mark.parametrize(
    "echo",
    [
        "You answer questions using only the context you are given: numbered sources and graph "
        "facts extracted from them.\nRules:\n1. Use only the context. [1] or [2][3].",
        "Sources:\n\n[1] Doc 1 (/docs/1.txt)\nBrennick & Vale Engineering built it.",
        f"Question: {QUESTION}\nAnswer: [2]",
    ],
)
async def test_a_reply_that_repeats_the_prompt_is_called_malformed(echo: str) -> None:
    model, _ = scripted_stack([echo])
    answer = await LLMAnswerer(model).answer(QUESTION, context())
    assert ECHO_NOTE in answer.notes
    assert UNCITED_NOTE not in answer.notes


async def test_a_real_answer_is_not_taken_for_an_echo() -> None:
    model, _ = scripted_stack(["Brennick & Vale Engineering built the Lantern Bridge [1]."])
    answer = await LLMAnswerer(model).answer(QUESTION, context())
    assert answer.notes == []


async def test_a_reply_cut_at_the_limit_says_so() -> None:
    cut = ChatResult(
        "Tomas Brennick studied at [2", Usage(50, 8), "scripted", finish_reason="length"
    )
    model, _ = scripted_stack([cut])
    answer = await LLMAnswerer(model, max_tokens=8).answer(QUESTION, context())
    assert answer.text == "Tomas Brennick studied at [2"
    assert answer.notes[-1].startswith("The reply was cut at the limit of 8 tokens")
    assert "GRAPHRAG_LLM__MAX_TOKENS" in answer.notes[-1]


async def test_a_rate_limit_is_retried_then_the_answer_arrives() -> None:
    model, inner = scripted_stack([LLMRateLimitError("slow down"), CITED])
    answer = await LLMAnswerer(model).answer(QUESTION, context())
    assert answer.text == CITED
    assert len(inner.calls) == 2


async def test_a_timeout_after_the_retries_is_an_llm_error() -> None:
    model, inner = scripted_stack([TimeoutError()] * 3, max_retries=2)
    with pytest.raises(LLMTimeoutError, match="GRAPHRAG_LLM__TIMEOUT"):
        await LLMAnswerer(model).answer(QUESTION, context())
    assert len(inner.calls) == 3


async def test_a_streamed_timeout_is_raised_while_iterating() -> None:
    model, _ = scripted_stack([TimeoutError()] * 3, max_retries=2)
    stream = LLMAnswerer(model).stream(QUESTION, context())
    with pytest.raises(LLMTimeoutError):
        async for _ in stream:
            pass
    assert not stream.done
    with pytest.raises(GraphRAGError, match="has not ended"):
        _ = stream.answer


async def test_the_budget_stops_before_any_call() -> None:
    model, inner = scripted_stack([CITED], max_tokens_per_run=50)
    with pytest.raises(BudgetExceededError, match="GRAPHRAG_LLM__MAX_TOKENS_PER_RUN"):
        await LLMAnswerer(model, max_tokens=64).answer(QUESTION, context())
    assert inner.calls == []


async def test_an_unexpected_model_failure_is_an_llm_error() -> None:
    model, _ = scripted_stack([RuntimeError("socket closed")])
    with pytest.raises(LLMError, match=r"failed while answering \(RuntimeError: socket closed\)"):
        await LLMAnswerer(model).answer(QUESTION, context())


@pytest.mark.parametrize(
    "reply",
    [CITED, "It was Brennick [2][7]. Founded [9] in 1950 [1, 3].", NOT_SUPPORTED, "", "x [[1]"],
)
async def test_streamed_pieces_join_to_the_final_text(reply: str) -> None:
    model, inner = scripted_stack([reply, reply])
    answerer = LLMAnswerer(model)
    pieces, final = await streamed(answerer)
    whole = await answerer.answer(QUESTION, context())

    assert "".join(pieces) == final.text == whole.text
    assert final.citations == whole.citations
    assert final.notes == whole.notes
    assert inner.calls[0].stream is True
    if reply.split():
        assert len(pieces) > 1
        assert "first_token" in final.timings


async def test_a_stream_is_retried_before_its_first_piece() -> None:
    model, inner = scripted_stack([LLMRateLimitError("busy"), CITED])
    pieces, final = await streamed(LLMAnswerer(model))
    assert "".join(pieces) == final.text == CITED
    assert len(inner.calls) == 2


async def test_closing_a_stream_early_stops_the_model() -> None:
    model, inner = scripted_stack([CITED])
    stream = LLMAnswerer(model).stream(QUESTION, context())
    assert await stream.__anext__() == "Brennick"
    await stream.aclose()
    for _ in range(5):  # the wrappers' generators are finalised by the event loop
        await asyncio.sleep(0)
    assert inner.in_flight == 0
    assert not stream.done


async def test_a_cached_rerun_makes_no_call(tmp_path: Path) -> None:
    cache = tmp_path / "llm_cache.db"
    model, inner = scripted_stack([CITED], cache=cache)
    first = await LLMAnswerer(model).answer(QUESTION, context())
    again, inner_again = scripted_stack([], cache=cache)
    second = await LLMAnswerer(again).answer(QUESTION, context())
    pieces, streamed_answer = await streamed(LLMAnswerer(again))

    assert second.text == first.text == "".join(pieces) == streamed_answer.text
    assert second.usage is not None
    assert second.usage.cached is True
    assert (len(inner.calls), len(inner_again.calls)) == (1, 0)


def test_limits_are_validated() -> None:
    model, _ = scripted_stack([])
    with pytest.raises(InvalidArgumentError):
        LLMAnswerer(model, max_tokens=0)
    with pytest.raises(InvalidArgumentError):
        LLMAnswerer(model, context_tokens=0)
    assert LLMAnswerer(model).chat_model is model
