"""LLM community reports on a real embedded store, through the whole chat-model stack.

The contract corpus (Curies, Einstein) plus the chain and hub-and-spokes give four
communities, largest first: Curie (5 members), Hub (5), Beta (4), Einstein (3). A scripted
model replies by the community's first member, so concurrency does not change who gets what.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from graphrag.analyze import (
    REPORT_PREFIX,
    SUMMARY_PREFIX,
    CommunityReporter,
    analyze_graph,
    parse_key_sentences,
)
from graphrag.analyze.llm_reports import parse_report
from graphrag.config import Settings, load_settings
from graphrag.llm import (
    BudgetExceededError,
    ChatModel,
    LLMConfigError,
    ScriptedChatModel,
    UsageMeter,
    estimate_prompt_tokens,
    make_chat_model,
)
from graphrag.llm.replies import MalformedReplyError
from graphrag.llm.scripted import ScriptedCall, ScriptItem
from graphrag.models import Community
from graphrag.runtime import Components, open_components
from graphrag.stores.embedded import EmbeddedGraphStore
from graphrag.testing.fakes import HashEmbedder
from pipelines.analyze_job import run_analysis
from pipelines.cli import app
from tests.contract.builder import CHAIN, CORPUS, build_all

session = pytest.mark.asyncio(loop_scope="session")
"""The async tests share the session loop of the store fixtures."""

CURIE, HUB, BETA, EINSTEIN = "Marie Curie", "Hub", "Beta", "Albert Einstein"
CURIE_REPORT = json.dumps(
    {
        "title": "The Curies in Paris",
        "summary": "Marie Curie [E1] and Pierre Curie [E3] worked in Paris [E2].",
        "findings": [
            {
                "summary": "Marie Curie was born in Warsaw",
                "explanation": "She later studied in Paris.",
                "entities": ["E1", "E5"],
            },
            {"summary": "E1 founded the Radium Institute [E4].", "entities": ["E1"]},
        ],
    }
)
STORED = (
    "LLM report: Marie Curie and Pierre Curie worked in Paris. Findings: (1) Marie Curie was "
    "born in Warsaw. She later studied in Paris (Marie Curie, Warsaw). (2) Marie Curie "
    "founded the Radium Institute (Marie Curie, Radium Institute). Key sentences: "
)


def report(title: str, summary: str, *findings: dict[str, Any]) -> str:
    return json.dumps({"title": title, "summary": summary, "findings": list(findings)})


GOOD = {
    CURIE: CURIE_REPORT,
    HUB: report("The hub", "Hub [E1] met every spoke."),
    BETA: report("The chain", "Alpha, Beta, Gamma and Delta met in a chain."),
    EINSTEIN: report("Einstein", "Albert Einstein [E1] was born in Ulm [E2]."),
}


class ByCommunity(ScriptedChatModel):
    """Replies by the community's first member; a list gives the first ask, then the re-ask."""

    def __init__(self, replies: dict[str, ScriptItem | list[ScriptItem]]) -> None:
        super().__init__([], delay=0.001)
        self.replies = replies

    def _next(self, call: ScriptedCall) -> ScriptItem:
        self.calls.append(call)
        found = re.search(r"^\[E1\] (.+?) \(", call.messages[1].content, re.MULTILINE)
        reply = self.replies.get(found.group(1) if found else "", "not json")
        if isinstance(reply, list):
            return reply[min((len(call.messages) - 2) // 2, len(reply) - 1)]
        return reply

    def firsts(self) -> list[str]:
        """The first member of each call's community, in call order."""
        return [re.findall(r"\[E1\] (.+?) \(", c.messages[1].content)[0] for c in self.calls]


def llm_settings(tmp_path: Path, **llm: Any) -> Settings:
    values = {
        "cache_path": tmp_path / "llm_cache.db",
        "retry_base_delay": 0.0,
        "retry_max_delay": 0.0,
        "max_concurrency": 2,
        **llm,
    }
    return load_settings(embedded={"path": tmp_path / "graph.db"}, llm=values)


def stack(settings: Settings, inner: ScriptedChatModel, meter: UsageMeter | None = None) -> Any:
    model = make_chat_model(settings, inner=inner, meter=meter)
    assert model is not None
    return model


def reporter(settings: Settings, inner: ScriptedChatModel) -> CommunityReporter:
    return CommunityReporter(stack(settings, inner), settings.llm)


@pytest.fixture
async def graph_store(tmp_path: Path, hash_embedder: Any) -> Any:
    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    await store.upsert_documents(await build_all(hash_embedder, [*CORPUS, CHAIN]))
    yield store
    await store.close()


async def by_first(store: Any) -> dict[str, Community]:
    """The saved communities by the name of their highest-ranked member."""
    communities = await store.list_communities()
    names = {e.id: e.name for e in await store.get_entities([c.member_ids[0] for c in communities])}
    return {names[c.member_ids[0]]: c for c in communities}


async def extractive(store: Any, embedder: Any) -> dict[str, Community]:
    await analyze_graph(store, embedder=embedder)
    return await by_first(store)


@session
async def test_a_report_is_stored_with_names_and_the_key_sentences_and_embedded(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    inner = ByCommunity(dict(GOOD))

    result = await analyze_graph(
        graph_store, embedder=hash_embedder, reporter=reporter(llm_settings(tmp_path), inner)
    )

    after = await by_first(graph_store)
    curie = after[CURIE]
    quotes = "; ".join(f"“{s}” [{c}]" for s, c in parse_key_sentences(before[CURIE].summary))
    assert curie.summary == f"{STORED}{quotes}."
    assert curie.title == "The Curies in Paris"
    assert (curie.id, curie.member_ids, curie.chunk_ids) == (
        before[CURIE].id,
        before[CURIE].member_ids,
        before[CURIE].chunk_ids,
    )
    for name, community in after.items():  # every summary still ends with its key sentences
        assert community.summary is not None
        assert community.summary.startswith(REPORT_PREFIX)
        assert parse_key_sentences(community.summary) == parse_key_sentences(before[name].summary)
        assert "[E" not in community.summary
    text = (
        "The Curies in Paris. Marie Curie, Paris, Pierre Curie, Radium Institute, Warsaw. "
        "Marie Curie and Pierre Curie worked in Paris. Marie Curie was born in Warsaw. She "
        "later studied in Paris (Marie Curie, Warsaw). Marie Curie founded the Radium Institute "
        "(Marie Curie, Radium Institute)."
    )
    [vector] = await hash_embedder.embed([text], kind="passage")
    assert np.allclose(curie.embedding, vector)
    assert (result.llm_reports, result.llm_malformed, result.llm_unknown_refs) == (4, 0, 0)
    assert (result.llm_calls, result.llm_cached_calls, result.llm_stopped) == (4, 0, None)
    assert result.llm_tokens > 0
    assert result.llm_model == "scripted"
    assert result.embedded == result.communities == 4
    assert "reports" in result.timings


@session
async def test_the_prompt_lists_members_relations_and_key_sentences(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    inner = ByCommunity(dict(GOOD))

    await analyze_graph(graph_store, reporter=reporter(llm_settings(tmp_path), inner))

    [call] = [c for c in inner.calls if "[E1] Marie Curie (PERSON)" in c.messages[1].content]
    prompt = call.messages[1].content
    assert "[E2] Paris (GPE)\n[E3] Pierre Curie (PERSON)\n[E4] Radium Institute (ORG)" in prompt
    assert "- [E1] Marie Curie -study in-> [E2] Paris" in prompt
    for sentence, _ in parse_key_sentences(before[CURIE].summary):
        assert f"- “{sentence}”" in prompt
    assert "c_" not in prompt  # chunk ids are not the model's business
    assert call.json_mode
    assert call.messages[0].role == "system"


@session
async def test_a_malformed_reply_is_asked_again_once_then_kept_extractive(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    replies = dict(GOOD)
    replies[CURIE] = ["not json at all", '{"title": "only a title"}']
    replies[HUB] = ["```json\n{broken", GOOD[HUB]]  # the re-ask succeeds
    inner = ByCommunity(replies)
    chat = reporter(llm_settings(tmp_path), inner)

    result = await analyze_graph(graph_store, embedder=hash_embedder, reporter=chat)

    after = await by_first(graph_store)
    assert after[CURIE].summary == before[CURIE].summary
    assert after[CURIE].summary.startswith(SUMMARY_PREFIX)
    assert after[CURIE].title == before[CURIE].title
    assert np.allclose(after[CURIE].embedding, before[CURIE].embedding)
    assert after[HUB].summary.startswith(f"{REPORT_PREFIX} Hub met every spoke.")
    assert (result.llm_reports, result.llm_malformed, result.llm_calls) == (3, 1, 6)
    assert chat.stats.retries == 2
    reasks = [c for c in inner.calls if len(c.messages) == 4]
    assert len(reasks) == 2
    assert all(c.messages[2].role == "assistant" for c in reasks)
    assert all("could not be used" in c.messages[3].content for c in reasks)


@session
async def test_unknown_entity_ids_are_removed_and_counted(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    replies = dict(GOOD)
    replies[CURIE] = report(
        "",  # no title: the extractive title stays
        "The Curies [E1, E9] lived in Paris [E7].",
        {"summary": "Marie Curie married Pierre Curie", "entities": ["E3", "E12", "Nobody"]},
        {"summary": " [E9] ", "explanation": ""},  # no text left: dropped
        {"summary": "She studied in Paris", "entities": ["paris", "[E1]"]},  # names work too
    )
    inner = ByCommunity(replies)

    result = await analyze_graph(graph_store, reporter=reporter(llm_settings(tmp_path), inner))

    curie = (await by_first(graph_store))[CURIE]
    assert curie.title == before[CURIE].title
    assert curie.summary is not None
    assert curie.summary.startswith(
        "LLM report: The Curies lived in Paris. Findings: (1) Marie Curie married Pierre Curie "
        "(Pierre Curie). (2) She studied in Paris (Paris, Marie Curie). Key sentences: “"
    )
    assert "E9" not in curie.summary
    assert "E7" not in curie.summary
    assert result.llm_unknown_refs == 5  # E9 twice, E7, E12, Nobody
    assert result.llm_reports == 4


def test_parse_report_neutralises_quotes_and_chunk_ids() -> None:
    refs = {"E1": "Marie Curie"}
    reply = '{"summary": "She said “yes” [c_abc123] to E1 [E1].", "findings": ["A fact"]}'

    parsed = parse_report(reply, refs)

    assert parsed.summary == 'She said "yes" to Marie Curie.'
    assert parsed.findings == ("A fact.",)
    assert parse_key_sentences(parsed.summary) == []
    with pytest.raises(MalformedReplyError, match="neither a summary nor a finding"):
        parse_report('{"title": "T", "findings": [{"summary": ""}]}', refs)
    with pytest.raises(MalformedReplyError, match="not a JSON object"):
        parse_report("[1, 2]", refs)


@pytest.mark.parametrize(
    "reply",
    [
        # what Gemma-3-270M wrote against llama.cpp: the example form with its "..." values
        '{"title": "...", "summary": "...", "findings": [{"summary": "...", '
        '"explanation": "...", "entities": ["E1"]}]}',
        '{"title": "a short name for this group", "summary": "two or three sentences about '
        'what connects the group", "findings": [{"summary": "one sentence"}]}',
        '{"summary": "\u2026", "findings": ["--", " . "]}',
    ],
)
def test_a_copied_answer_form_is_malformed(reply: str) -> None:
    with pytest.raises(MalformedReplyError, match="neither a summary nor a finding"):
        parse_report(reply, {"E1": "Marie Curie"})


def test_a_placeholder_title_keeps_the_extractive_one() -> None:
    parsed = parse_report('{"title": "...", "summary": "Curies in Paris."}', {})
    assert parsed.title == ""
    assert parsed.summary == "Curies in Paris."


@session
async def test_max_community_reports_asks_only_for_the_largest(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    inner = ByCommunity(dict(GOOD))
    settings = llm_settings(tmp_path, max_community_reports=2, max_concurrency=1)

    result = await analyze_graph(graph_store, reporter=reporter(settings, inner))

    after = await by_first(graph_store)
    assert inner.firsts() == [CURIE, HUB]  # ordinals 0 and 1: the largest communities
    assert result.llm_reports == 2
    assert after[BETA].summary == before[BETA].summary
    assert after[EINSTEIN].summary == before[EINSTEIN].summary


@session
async def test_a_budget_stop_saves_the_analysis_and_a_rerun_continues_from_the_cache(
    graph_store: Any, hash_embedder: Any, tmp_path: Path
) -> None:
    before = await extractive(graph_store, hash_embedder)
    probe, meter = ByCommunity(dict(GOOD)), UsageMeter()
    free = llm_settings(tmp_path, max_concurrency=1, max_tokens=400, cache=False)
    chat = CommunityReporter(stack(free, probe, meter), free.llm)
    await analyze_graph(graph_store, reporter=chat)
    used = [r.prompt_tokens + r.completion_tokens for r in meter.records()]
    reserve = [estimate_prompt_tokens(c.messages) + 400 for c in probe.calls]
    budget = llm_settings(tmp_path, max_concurrency=1, max_tokens=400)
    limited = budget.model_copy(
        update={
            "llm": budget.llm.model_copy(
                update={"max_tokens_per_run": sum(used[:2]) + reserve[2] - 1}
            )
        }
    )
    first = ByCommunity(dict(GOOD))

    stopped = await analyze_graph(
        graph_store, embedder=hash_embedder, reporter=reporter(limited, first)
    )

    after = await by_first(graph_store)
    assert first.firsts() == [CURIE, HUB]
    assert stopped.llm_stopped is not None
    assert stopped.llm_stopped.startswith("LLM budget reached")
    assert (stopped.llm_reports, stopped.llm_not_asked) == (2, 2)
    assert stopped.communities == stopped.embedded == 4  # saved, every community embedded
    assert after[CURIE].summary.startswith(REPORT_PREFIX)
    assert after[BETA].summary == before[BETA].summary
    assert after[EINSTEIN].summary == before[EINSTEIN].summary

    second = ByCommunity(dict(GOOD))
    rerun = await analyze_graph(graph_store, reporter=reporter(budget, second))

    assert second.firsts() == [BETA, EINSTEIN]  # the first two come from the cache
    assert (rerun.llm_reports, rerun.llm_calls, rerun.llm_cached_calls) == (4, 2, 2)
    assert rerun.llm_stopped is None


@session
async def test_other_llm_errors_propagate_and_nothing_is_saved(
    graph_store: Any, tmp_path: Path
) -> None:
    replies: dict[str, Any] = dict(GOOD)
    replies[HUB] = LLMConfigError("the server refused the key; set GRAPHRAG_LLM__API_KEY")

    with pytest.raises(LLMConfigError, match="GRAPHRAG_LLM__API_KEY"):
        await analyze_graph(
            graph_store, reporter=reporter(llm_settings(tmp_path), ByCommunity(replies))
        )

    assert await graph_store.list_communities() == []


def snapshot(communities: dict[str, Community]) -> dict[str, Any]:
    return {
        name: (c.id, c.title, c.summary, c.member_ids, c.chunk_ids, c.embedding.tolist())
        for name, c in communities.items()
    }


@session
@pytest.mark.parametrize("setting", [{"community_reports": False}, {"max_community_reports": 0}])
async def test_reports_off_or_no_llm_make_no_call_and_change_nothing(
    tmp_path: Path, hash_embedder: Any, extractor: Any, setting: dict[str, Any]
) -> None:
    settings = llm_settings(tmp_path, **setting)
    inner = ByCommunity(dict(GOOD))
    plain = await open_components(settings, embedder=hash_embedder, extractor=extractor)
    try:
        assert plain.llm is None
        await plain.store.upsert_documents(await build_all(hash_embedder, [*CORPUS, CHAIN]))
        without = await run_analysis(plain)
        expected = snapshot(await by_first(plain.store))
    finally:
        await plain.close()
    rag = await open_components(
        settings, embedder=hash_embedder, extractor=extractor, chat_model=stack(settings, inner)
    )
    try:
        result = await run_analysis(rag)
        assert snapshot(await by_first(rag.store)) == expected
    finally:
        await rag.close()
    assert inner.calls == []
    assert (without.llm_model, result.llm_model, result.llm_reports) == (None, None, 0)
    assert set(result.timings) == set(without.timings) == {
        "read", "cluster", "summarize", "embed", "save"
    }  # fmt: skip


@session
async def test_run_analysis_uses_the_components_chat_model(
    tmp_path: Path, hash_embedder: Any, extractor: Any
) -> None:
    settings = llm_settings(tmp_path)
    inner, meter = ByCommunity(dict(GOOD)), UsageMeter()
    model = stack(settings, inner, meter)
    rag = await open_components(
        settings, embedder=hash_embedder, extractor=extractor, chat_model=model
    )
    try:
        await rag.store.upsert_documents(await build_all(hash_embedder, [*CORPUS, CHAIN]))
        result = await run_analysis(rag)
        curie = (await by_first(rag.store))[CURIE]
    finally:
        await rag.close()
    assert len(inner.calls) == result.llm_reports == 4
    assert curie.title == "The Curies in Paris"
    assert meter.by_tag()[curie.id].calls == 1  # the calls are tagged with the community


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The CLI over a stored graph, with a scripted chat model (settings from the env)."""
    import asyncio

    import pipelines.cli_common as cli

    db = tmp_path / "cli.db"

    async def fill() -> None:
        embedder = HashEmbedder(dim=32)
        store = EmbeddedGraphStore(db)
        await store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
        await store.upsert_documents(await build_all(embedder, [*CORPUS, CHAIN]))
        await store.close()

    asyncio.run(fill())
    state: dict[str, Any] = {"db": db, "inner": [], "replies": dict(GOOD)}
    monkeypatch.setenv("GRAPHRAG_LLM__CACHE_PATH", str(tmp_path / "cli_cache.db"))
    monkeypatch.setenv("GRAPHRAG_LLM__RETRY_BASE_DELAY", "0")
    monkeypatch.setenv("GRAPHRAG_LLM__MAX_CONCURRENCY", "1")

    async def opener(settings: Settings) -> Components:
        inner = ByCommunity(state["replies"])
        state["inner"].append(inner)
        model: ChatModel = stack(settings, inner)
        return await open_components(settings, embedder=HashEmbedder(dim=32), chat_model=model)

    monkeypatch.setattr(cli, "open_components", opener)
    return state


def test_cli_analyze_prints_the_llm_line_and_json_fields(cli_env: dict[str, Any]) -> None:
    runner = CliRunner()
    cli_env["replies"][HUB] = ["not json", "still not json"]
    db = str(cli_env["db"])

    result = runner.invoke(app, ["analyze", "--db", db])

    assert result.exit_code == 0, result.output
    assert "saved 4 communities" in result.stdout
    assert (
        "LLM reports (scripted): 3 written, 1 malformed (kept extractive); 5 calls, 0 from the "
        "cache, " in result.stdout
    )
    rerun = runner.invoke(app, ["analyze", "--db", db, "--json"])
    assert rerun.exit_code == 0, rerun.output
    payload = json.loads(rerun.stdout)
    assert (payload["llm_reports"], payload["llm_malformed"]) == (3, 1)
    assert (payload["llm_calls"], payload["llm_cached_calls"], payload["llm_tokens"]) == (0, 5, 0)
    assert payload["llm_stopped"] is None
    assert payload["llm_model"] == "scripted"
    assert cli_env["inner"][-1].calls == []  # the rerun is served by the cache


def test_cli_analyze_budget_stop_exits_1_with_one_line(cli_env: dict[str, Any]) -> None:
    runner = CliRunner()
    cli_env["replies"][BETA] = BudgetExceededError(used=900, needed=500, limit=1000, unit="tokens")

    result = runner.invoke(app, ["analyze", "--db", str(cli_env["db"])])

    assert result.exit_code == 1, result.output
    assert "saved 4 communities" in result.stdout
    assert "2 written, 0 malformed (kept extractive), 2 not asked (budget)" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "stopped by the LLM budget" in line]
    assert len(lines) == 1
    assert "The analysis is saved" in lines[0]
    assert "Rerun the same command to continue" in lines[0]
