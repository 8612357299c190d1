"""LLM extraction through the whole chat-model stack, with scripted models (no server)."""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import pytest

from graphrag.config import Settings
from graphrag.extract.llm_extractor import LLMExtractor
from graphrag.extract.ontology import Ontology
from graphrag.llm import (
    BudgetExceededError,
    LLMConfigError,
    LLMRateLimitError,
    ScriptedChatModel,
    estimate_prompt_tokens,
)
from graphrag.llm.scripted import count_words
from graphrag.ports import Extractor
from tests.unit.extract.conftest import (
    BRIDGE,
    BRIDGE_REPLY,
    ByText,
    graph_reply,
    make_chunk,
    stack,
    updated,
)

PLACES = ["Northvale", "Saltmere", "Eastbank", "Quayside"]


def extractor(
    settings: Settings, inner: ScriptedChatModel, ontology: Ontology, **kw: Any
) -> LLMExtractor:
    kw.setdefault("concurrency", 1)
    return LLMExtractor(stack(settings, inner), ontology, settings.extraction, **kw)


def place_chunk(index: int) -> Any:
    return make_chunk(
        f"Tomas Brennick was born in {PLACES[index]}.", ordinal=index, document=f"d{index}"
    )


def place_reply(index: int) -> str:
    return graph_reply(
        [("Tomas Brennick", "Person"), (PLACES[index], "Place")],
        [("Tomas Brennick", "BORN_IN", PLACES[index])],
    )


async def test_a_valid_graph_becomes_the_chunks_extraction(
    llm_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel([BRIDGE_REPLY])
    llm = extractor(llm_settings, inner, ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])

    assert isinstance(llm, Extractor)
    assert llm.name == "llm"
    assert result.chunk_id == "d1_c0"
    assert result.error is None
    assert [m.type for m in result.mentions] == ["PERSON", "ORG", "GPE", "FAC"]
    assert len(result.relations) == 3
    call = inner.calls[0]
    assert call.json_mode
    assert call.max_tokens == llm_settings.extraction.llm_max_tokens
    assert "Node types:" in call.messages[0].content
    assert BRIDGE in call.messages[1].content
    assert (llm.stats.chunks, llm.stats.parsed, llm.stats.retries, llm.stats.failed) == (1, 1, 0, 0)
    assert llm.meter is not None
    assert llm.meter.by_tag()["d1"].calls == 1


async def test_malformed_then_valid_is_retried_with_the_error_and_replays_from_cache(
    llm_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel(['{"nodes": "Tomas"', BRIDGE_REPLY])
    llm = extractor(llm_settings, inner, ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])

    assert len(result.mentions) == 4
    assert result.error is None
    assert len(inner.calls) == 2
    assert llm.stats.retries == 1
    retry = inner.calls[1].messages
    assert retry[2].role == "assistant"
    assert retry[2].content == '{"nodes": "Tomas"'
    assert "'nodes' must be a list" in retry[3].content

    again = ScriptedChatModel([])  # a rerun: every reply comes from the cache
    rerun = extractor(llm_settings, again, ontology)
    assert await rerun.extract([make_chunk(BRIDGE)]) == [result]
    assert again.calls == []
    assert rerun.meter is not None
    assert rerun.meter.totals().cached_calls == 2


async def test_always_malformed_records_the_chunk_as_failed_and_the_batch_goes_on(
    llm_settings: Settings, ontology: Ontology, caplog: pytest.LogCaptureFixture
) -> None:
    chunks = [make_chunk(BRIDGE, 0), place_chunk(1), make_chunk("Nothing to see.", 2)]
    replies = {chunks[1].text: place_reply(1), chunks[2].text: "[]"}
    inner = ByText(replies, default="no idea, sorry")
    llm = extractor(llm_settings, inner, ontology, concurrency=2)
    with caplog.at_level(logging.WARNING):
        results = await llm.extract(chunks)

    assert results[0].mentions == []
    assert results[0].relations == []
    assert results[0].error is not None
    assert "unusable after 3 tries: no JSON" in results[0].error
    assert [m.surface for m in results[1].mentions] == ["Tomas Brennick", "Saltmere"]
    assert results[2].error is None
    assert results[2].mentions == []
    assert (llm.stats.parsed, llm.stats.failed, llm.stats.retries) == (2, 1, 2)
    assert llm.stats.failures == [("d1_c0", results[0].error)]
    assert "recorded as failed, the batch goes on" in caplog.text


async def test_off_schema_types_are_dropped_in_strict_mode(
    llm_settings: Settings, ontology: Ontology
) -> None:
    reply = graph_reply(
        [("Tomas Brennick", "Person"), ("Lantern Bridge", "Bridge"), ("Northvale", "Town")],
        [
            ("Tomas Brennick", "BUILT", "Lantern Bridge"),
            ("Tomas Brennick", "LIVES_IN", "Northvale"),
        ],
    )
    llm = extractor(llm_settings, ScriptedChatModel([reply]), ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])
    assert [(m.surface, m.type) for m in result.mentions] == [("Tomas Brennick", "PERSON")]
    assert result.relations == []
    assert (llm.stats.dropped_nodes, llm.stats.dropped_relations) == (2, 2)


async def test_a_rate_limit_is_retried_by_the_stack(
    llm_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel([LLMRateLimitError("slow down", retry_after=0.0), BRIDGE_REPLY])
    llm = extractor(llm_settings, inner, ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])
    assert len(result.mentions) == 4
    assert len(inner.calls) == 2
    assert llm.stats.retries == 0


async def test_a_configuration_error_is_raised_not_recorded(
    llm_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel([LLMConfigError("wrong key; set GRAPHRAG_LLM__API_KEY")])
    llm = extractor(llm_settings, inner, ontology)
    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__API_KEY"):
        await llm.extract([make_chunk(BRIDGE)])
    assert llm.stats.failed == 0


async def test_a_budget_stop_mid_batch_then_a_rerun_continues_for_free(
    llm_settings: Settings, ontology: Ontology
) -> None:
    chunks = [place_chunk(i) for i in range(4)]
    probe = extractor(llm_settings, ScriptedChatModel([]), ontology)
    max_tokens = llm_settings.extraction.llm_max_tokens
    prompts = probe.prompts(chunks)
    used = [
        sum(count_words(m.content) for m in p) + count_words(place_reply(i))
        for i, p in enumerate(prompts)
    ]
    reservation = estimate_prompt_tokens(prompts[2]) + max_tokens
    limit = used[0] + used[1] + reservation - 1  # the third call could exceed it: refused
    budgeted = updated(llm_settings, llm={"max_tokens_per_run": limit})
    first = ScriptedChatModel([place_reply(i) for i in range(4)])
    llm = extractor(budgeted, first, ontology)
    with pytest.raises(BudgetExceededError, match="GRAPHRAG_LLM__MAX_TOKENS_PER_RUN"):
        await llm.extract(chunks)
    assert len(first.calls) == 2
    assert llm.stats.not_sent == 2
    assert llm.stats.budget_stop is not None

    second = ScriptedChatModel([place_reply(2), place_reply(3)])
    rerun = extractor(llm_settings, second, ontology)
    results = await rerun.extract(chunks)
    assert [r.mentions[1].surface for r in results] == PLACES
    assert len(second.calls) == 2  # only the chunks the first run did not reach
    assert rerun.meter is not None
    assert rerun.meter.totals().cached_calls == 2


async def test_chunks_in_flight_are_bounded(llm_settings: Settings, ontology: Ontology) -> None:
    inner = ScriptedChatModel(["[]"], repeat_last=True, delay=0.01)
    llm = extractor(llm_settings, inner, ontology, concurrency=2)
    chunks = [make_chunk(f"Chunk number {i}.", i) for i in range(6)]
    assert len(await llm.extract(chunks)) == 6
    assert inner.max_in_flight == 2
    assert await llm.extract([]) == []


TRIPLES = json.dumps(
    [
        {"head": "Tomas Brennick", "head_type": "Person", "relation": "FOUNDED",
         "tail": "Brennick Structural Works", "tail_type": "Organization"},
        {"head": "Brennick Structural Works", "head_type": "Organization", "relation": "BUILT",
         "tail": "Lantern Bridge", "tail_type": "Structure"},
        {"head": "Lantern Bridge", "head_type": "Bridge", "relation": "NEAR",
         "tail": "Mars", "tail_type": "Planet"},
    ]
)  # fmt: skip


@pytest.fixture
def transformer_settings(llm_settings: Settings) -> Settings:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return updated(llm_settings, extraction={"llm_engine": "transformer"})


async def test_llm_graph_transformer_through_the_port(
    transformer_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel(
        ["Sorry, I cannot do that.", '["Tomas Brennick", "Velmora"]', TRIPLES]
    )
    llm = extractor(transformer_settings, inner, ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])

    assert [m.surface for m in result.mentions] == [
        "Tomas Brennick",
        "Brennick Structural Works",
        "Lantern Bridge",
    ]
    assert sorted(r.predicate for r in result.relations) == ["built", "founded"]
    assert len(inner.calls) == 3
    assert llm.stats.retries == 2
    assert not inner.calls[0].json_mode  # the transformer asks for a JSON list
    assert "Node types:" in inner.calls[0].messages[1].content
    assert "could not be used: no JSON" in inner.calls[1].messages[1].content
    assert "LLMGraphTransformer could not read the reply" in inner.calls[2].messages[1].content
    assert llm.stats.dropped_nodes == 2  # Bridge and Planet, left out by its strict mode


async def test_the_transformer_prompt_is_what_a_dry_run_estimates(
    transformer_settings: Settings, ontology: Ontology
) -> None:
    inner = ScriptedChatModel([TRIPLES])
    llm = extractor(transformer_settings, inner, ontology)
    chunk = make_chunk(BRIDGE)
    await llm.extract([chunk])
    assert list(inner.calls[0].messages) == llm.prompts([chunk])[0]


async def test_a_reply_that_copies_the_answer_form_is_malformed(
    llm_settings: Settings, ontology: Ontology
) -> None:
    llm = extractor(llm_settings, ScriptedChatModel([]), ontology)
    instructions = llm.prompts([make_chunk(BRIDGE)])[0][0].content
    echo = "\n".join(instructions.splitlines()[:3])  # repeated, cut at the limit (measured)
    inner = ScriptedChatModel([echo, BRIDGE_REPLY])
    llm = extractor(llm_settings, inner, ontology)
    [result] = await llm.extract([make_chunk(BRIDGE)])
    assert len(result.mentions) == 4
    assert "copies the answer form" in inner.calls[1].messages[3].content
