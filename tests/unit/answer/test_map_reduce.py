"""Global search with an LLM: map over community summaries, reduce to one cited answer.

The chat model is scripted and goes through the real stack (cache off, budget, retries); a
map reply is chosen by the community named in its prompt, so concurrency cannot reorder them.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.answer.global_prompts import (
    MAP_SYSTEM_PROMPT,
    REDUCE_SYSTEM_PROMPT,
    parse_points,
    source_numbers,
)
from graphrag.answer.map_reduce import NO_COMMUNITY_NOTE
from graphrag.answer.prompts import NOT_SUPPORTED
from graphrag.config import load_settings
from graphrag.llm import BudgetExceededError, ScriptedChatModel, make_chat_model
from graphrag.llm.replies import MalformedReplyError
from graphrag.llm.scripted import ScriptedCall, ScriptItem
from graphrag.models import AnswerKind, RetrievalMode, ScoredCommunity
from graphrag.retrieve.global_answer import GlobalAnswerer
from tests.unit.answer.llm_helpers import context

QUESTION = "Who founded the company that built the Lantern Bridge, and where did he study?"


def community(key: str, title: str, chunk_ids: list[str]) -> ScoredCommunity:
    return ScoredCommunity(
        id=f"k_{key}",
        level=0,
        title=title,
        summary=f"Extractive summary: {title}. Key sentences: “{title} matter.” [{chunk_ids[0]}].",
        size=3,
        score=0.9,
        similarity=0.8,
        chunk_ids=chunk_ids,
    )


BRIDGE = community("bridge", "Lantern Bridge, Brennick & Vale", ["c_1"])
FOUNDER = community("founder", "Tomas Brennick, Velmora Polytechnic", ["c_2"])
FESTIVAL = community("festival", "Lantern Festival", ["c_3"])


def global_context(*communities: ScoredCommunity) -> Any:
    return context(mode=RetrievalMode.GLOBAL, communities=list(communities))


class ByCommunity(ScriptedChatModel):
    """Map replies by the community title in the prompt; the reduce reply by its system prompt."""

    def __init__(self, maps: dict[str, ScriptItem], reduce: ScriptItem) -> None:
        super().__init__([], delay=0.001)
        self.maps, self.reduce = maps, reduce

    def _next(self, call: ScriptedCall) -> ScriptItem:
        self.calls.append(call)
        if call.messages[0].content == REDUCE_SYSTEM_PROMPT:
            return self.reduce
        prompt = call.messages[1].content
        return next((r for t, r in self.maps.items() if t in prompt), '{"points": []}')


def answerer(inner: ScriptedChatModel, **llm: Any) -> GlobalAnswerer:
    section = {"cache": False, "retry_base_delay": 0.0, "max_retries": 1, **llm}
    model = make_chat_model(load_settings(llm=section), inner=inner)
    return GlobalAnswerer(model, max_communities=3, max_tokens=256)


MAPS: dict[str, ScriptItem] = {
    BRIDGE.title: '{"points": [{"description": "Brennick & Vale built the bridge [1]", '
    '"score": 70}]}',
    FOUNDER.title: '```json\n{"points": [{"description": "Tomas Brennick founded Brennick & '
    'Vale and studied at the Velmora Polytechnic Institute [2] [9]", "score": 95}]}\n```',
    FESTIVAL.title: '{"points": [{"description": "The festival is in September [3]", "score": 0}]}',
}


async def test_map_reduce_answers_with_checked_citations_and_summed_usage() -> None:
    reduce = "Tomas Brennick founded it [1][2]; he studied at the Velmora Polytechnic [2][7]."
    inner = ByCommunity(MAPS, reduce)

    answer = await answerer(inner).answer(QUESTION, global_context(BRIDGE, FOUNDER, FESTIVAL))

    maps = [c for c in inner.calls if c.messages[0].content == MAP_SYSTEM_PROMPT]
    assert len(maps) == 3
    assert all(c.json_mode for c in maps)  # JSON asked for (a grammar on llama.cpp)
    assert {c.max_tokens for c in inner.calls} == {256}  # llm.max_tokens bounds every call
    assert not inner.calls[-1].json_mode  # the answer is prose
    assert len(inner.calls) == 4  # three maps, one reduce
    reduce_prompt = inner.calls[-1].messages[1].content
    # best point first; the unknown source [9] left out; the 0-scored festival point dropped
    assert reduce_prompt.index("(95)") < reduce_prompt.index("(70)")
    assert "[9]" not in reduce_prompt
    assert "September" not in reduce_prompt
    assert answer.kind is AnswerKind.GENERATED
    assert answer.mode is RetrievalMode.GLOBAL
    assert [c.chunk_id for c in answer.citations] == ["c_1", "c_2"]
    assert "[7]" not in answer.text
    assert any("Removed citation(s) [7]" in n for n in answer.notes)
    assert answer.usage is not None
    prompt_words = sum(len(m.content.split()) for call in inner.calls for m in call.messages)
    assert answer.usage.prompt_tokens == prompt_words  # the scripted model counts words
    assert {"map", "llm", "total"} <= set(answer.timings)


async def test_a_map_prompt_holds_the_report_and_only_its_own_sources_numbered_globally() -> None:
    inner = ByCommunity(MAPS, "Brennick [2].")

    await answerer(inner).answer(QUESTION, global_context(FOUNDER))

    prompt = inner.calls[0].messages[1].content
    assert "Report:\n- community Tomas Brennick, Velmora Polytechnic" in prompt
    assert "[2] Doc 2 (/docs/2.txt)" in prompt  # its chunk, with the context's number
    assert "[1] Doc 1" not in prompt
    assert "[3] Doc 3" not in prompt
    assert prompt.endswith(f"Question: {QUESTION}\n\nJSON:")


async def test_malformed_map_replies_are_skipped_with_a_note_and_the_rest_answers() -> None:
    maps = {**MAPS, BRIDGE.title: "I think the bridge is nice.", FESTIVAL.title: "[1, 2]"}
    inner = ByCommunity(maps, "Tomas Brennick [2].")

    answer = await answerer(inner).answer(QUESTION, global_context(BRIDGE, FOUNDER, FESTIVAL))

    assert answer.text == "Tomas Brennick [2]."
    skipped = [n for n in answer.notes if n.startswith("Skipped")]
    assert len(skipped) == 1
    assert "Skipped 2 of 3 community summaries" in skipped[0]
    assert BRIDGE.title in skipped[0]
    assert FESTIVAL.title in skipped[0]


async def test_no_helpful_point_means_not_supported_without_a_reduce_call() -> None:
    inner = ByCommunity({}, "never used")

    answer = await answerer(inner).answer(QUESTION, global_context(BRIDGE, FESTIVAL))

    assert len(inner.calls) == 2  # two maps, no reduce
    assert answer.text == NOT_SUPPORTED
    assert answer.citations == []
    assert "none of the 2 community summaries" in answer.notes[0]
    assert answer.usage is not None
    assert answer.usage.completion_tokens > 0


async def test_no_community_makes_no_call() -> None:
    inner = ByCommunity(MAPS, "never used")

    answer = await answerer(inner).answer(QUESTION, global_context())

    assert inner.calls == []
    assert answer.text == NOT_SUPPORTED
    assert answer.notes[0] == NO_COMMUNITY_NOTE
    assert answer.usage is None


async def test_streaming_yields_the_reduce_tokens_and_ends_with_the_same_answer() -> None:
    reduce = "Tomas Brennick founded Brennick & Vale [2] and studied at the Velmora [2]."
    inner = ByCommunity(MAPS, reduce)
    stream = answerer(inner).stream(QUESTION, global_context(BRIDGE, FOUNDER))

    pieces = [piece async for piece in stream]

    assert len(pieces) > 3
    assert "".join(pieces) == stream.answer.text == reduce
    assert stream.live
    assert inner.calls[-1].stream
    assert [c.chunk_id for c in stream.answer.citations] == ["c_2"]
    assert "map" in stream.answer.timings


async def test_a_budget_stop_in_the_map_step_is_raised() -> None:
    inner = ByCommunity(MAPS, "never used")
    model = answerer(inner, max_tokens_per_run=50)

    with pytest.raises(BudgetExceededError):
        await model.answer(QUESTION, global_context(BRIDGE, FOUNDER, FESTIVAL))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"points": [{"description": "A [1]", "score": "90 of 100"}]}', [("A [1]", 90)]),
        ('{"points": [{"text": "B", "score": true}, "C [5]"]}', [("B", 50), ("C", 50)]),
        ('{"description": "one point", "score": 140}', [("one point", 100)]),
        ('{"points": []}', []),
        (
            '[{"description": "D", "score": 20}, {"description": "E", "score": 60}]',
            [("E", 60), ("D", 20)],
        ),
    ],
)
def test_parse_points_reads_what_small_models_write(
    reply: str, expected: list[tuple[str, int]]
) -> None:
    points = parse_points(reply, "T", [1, 2])
    assert [(p.text, p.score) for p in points] == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "no json here at all",
        '"just a string"',
        '{"x": 1}',
        "[1, 2]",
        '{"points": [{"description": "  ", "score": 80}, {"score": 10}]}',
    ],
)
def test_parse_points_refuses_replies_without_points(reply: str) -> None:
    with pytest.raises(MalformedReplyError):
        parse_points(reply, "T", [1])


def test_source_numbers_follow_the_context_order() -> None:
    numbers = source_numbers(global_context(BRIDGE))
    assert [c.id for c in numbers.values()] == ["c_1", "c_2", "c_3"]
    assert list(numbers) == [1, 2, 3]
