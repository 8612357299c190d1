"""LLM extraction through the real builder and the CLI: graph contents, failed chunks, budget.

A real embedded store and chunker, the hash embedder and a scripted model: no server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrag.config import Settings
from graphrag.extract.llm_extractor import LLMExtractor
from graphrag.extract.ontology import load_ontology
from graphrag.llm import LLMConfigError, LLMServerError, ScriptedChatModel
from graphrag.models import DocumentStatus, RelationKind
from graphrag.operations.ingest import run_ingest
from graphrag.runtime import Components, open_components
from graphrag.testing.fakes import HashEmbedder
from pipelines.cli import app
from tests.unit.extract.conftest import ONTOLOGY, ByText, graph_reply, stack, updated

PEOPLE = {
    "brennick.txt": ("Tomas Brennick was born in Northvale.", "Northvale"),
    "vale.txt": ("Edda Vale was born in Saltmere.", "Saltmere"),
    "lindqvist.txt": ("Amara Lindqvist was born in Eastbank.", "Eastbank"),
}


def reply_for(text: str, place: str) -> str:
    person = text.split(" was ")[0]
    return graph_reply([(person, "Person"), (place, "Place")], [(person, "BORN_IN", place)])


REPLIES = {text: reply_for(text, place) for text, place in PEOPLE.values()}


def corpus(root: Path) -> Path:
    folder = root / "corpus"
    folder.mkdir(exist_ok=True)
    for name, (text, _) in PEOPLE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


async def components(settings: Settings, inner: ScriptedChatModel) -> Components:
    llm = LLMExtractor(
        stack(settings, inner), load_ontology(ONTOLOGY), settings.extraction, concurrency=1
    )
    return await open_components(settings, embedder=HashEmbedder(dim=32), extractor=llm)


async def test_llm_extraction_builds_typed_entities_and_llm_relations(
    llm_settings: Settings, tmp_path: Path
) -> None:
    replies = dict(REPLIES)
    replies[PEOPLE["vale.txt"][0]] = "not json"  # this chunk fails; its document is stored
    inner = ByText(replies)
    rag = await components(llm_settings, inner)
    try:
        summary = await run_ingest(rag, [corpus(tmp_path)])
        names = await rag.store.find_entities(["tomas brennick", "northvale", "edda vale"])
        entities = await rag.store.get_entities([i for ids in names.values() for i in ids])
        relations = await rag.store.all_relations()
        documents = await rag.store.list_documents()
    finally:
        await rag.close()
    assert summary.ok
    assert summary.report.written == 3
    assert {d.status for d in documents} == {DocumentStatus.DONE}
    assert len(inner.calls) == 5  # 2 good chunks, 1 chunk tried 3 times
    assert {(r.predicate, r.kind) for r in relations} == {("born in", RelationKind.LLM)}
    assert len(relations) == 2
    assert {e.name: e.type for e in entities} == {"Tomas Brennick": "PERSON", "Northvale": "GPE"}
    stats = rag.extractor.stats  # type: ignore[attr-defined]
    assert stats.failed == 1
    assert "unusable after 3 tries" in stats.failures[0][1]


async def test_a_budget_stop_keeps_the_work_and_a_rerun_continues_for_free(
    llm_settings: Settings, tmp_path: Path
) -> None:
    folder = corpus(tmp_path)
    probe = await components(llm_settings, ByText(REPLIES))
    try:
        await run_ingest(probe, [folder])
        one_call = probe.extractor.meter.totals().total_tokens // 3  # type: ignore[attr-defined]
    finally:
        await probe.close()
    fresh = updated(
        llm_settings,
        embedded={"path": tmp_path / "budget.db"},
        llm={"cache_path": tmp_path / "budget_cache.db", "max_tokens_per_run": 2 * one_call + 600},
    )
    first = ByText(REPLIES)
    rag = await components(fresh, first)
    try:
        stopped = await run_ingest(rag, [folder])
        kept = await rag.store.list_documents()
        assert rag.extractor.stats.budget_stop is not None  # type: ignore[attr-defined]
    finally:
        await rag.close()
    done_before = len(first.calls)
    assert 0 < done_before < 3
    # the run stopped cleanly: not ok, nothing failed, what was reached is stored and done
    assert stopped.report.stopped is not None
    assert stopped.report.stopped.startswith("LLM budget reached")
    assert not stopped.ok
    assert stopped.report.failed == []
    assert {d.status for d in kept} <= {DocumentStatus.DONE}
    assert len(kept) < 3

    second = ByText(REPLIES)
    rerun = await components(updated(fresh, llm={"max_tokens_per_run": None}), second)
    try:
        summary = await run_ingest(rerun, [folder])
        documents = await rerun.store.list_documents()
    finally:
        await rerun.close()
    assert summary.ok
    assert {d.status for d in documents} == {DocumentStatus.DONE}
    assert len(documents) == 3
    assert len(second.calls) == 3 - done_before  # the finished chunks cost nothing


@pytest.mark.parametrize(
    "error",
    [
        LLMServerError("the LLM endpoint answered HTTP 500"),
        LLMConfigError("the endpoint refused the API key (401): set GRAPHRAG_LLM__API_KEY"),
    ],
)
async def test_an_llm_outage_or_wrong_key_stops_the_run_without_failing_documents(
    llm_settings: Settings, tmp_path: Path, error: Exception
) -> None:
    folder = corpus(tmp_path)
    fresh = updated(
        llm_settings,
        embedded={"path": tmp_path / "outage.db"},
        llm={"cache_path": tmp_path / "outage_cache.db", "max_retries": 1},
    )
    inner = ScriptedChatModel([error], repeat_last=True)
    rag = await components(fresh, inner)
    try:
        summary = await run_ingest(rag, [folder])
        stored = await rag.store.list_documents()
    finally:
        await rag.close()

    assert summary.report.stopped is not None
    assert str(error) in summary.report.stopped
    assert not summary.ok
    assert summary.report.failed == []  # no document is marked failed
    assert stored == []  # nothing half-written either
    # the batch, then its first document alone: each call retried once at most, then stop
    assert len(inner.calls) <= 4


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The CLI with an LLM tier whose model is scripted (its settings from the environment)."""
    import pipelines.cli_common as cli

    state: dict[str, Any] = {"inner": []}
    monkeypatch.setenv("GRAPHRAG_EXTRACTION__TIER", "llm")
    monkeypatch.setenv("GRAPHRAG_EXTRACTION__ONTOLOGY_PATH", str(ONTOLOGY))
    monkeypatch.setenv("GRAPHRAG_LLM__CACHE_PATH", str(tmp_path / "cli_cache.db"))
    monkeypatch.setenv("GRAPHRAG_LLM__RETRY_BASE_DELAY", "0")

    async def opener(settings: Settings) -> Components:
        inner = ByText(REPLIES)
        state["inner"].append(inner)
        return await components(settings, inner)

    monkeypatch.setattr(cli, "open_components", opener)
    return state


def test_cli_dry_run_then_ingest_then_a_free_rerun(cli_env: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()
    folder, db = corpus(tmp_path), tmp_path / "cli.db"
    dry = runner.invoke(app, ["ingest", str(folder), "--dry-run", "--json", "--db", str(db)])
    assert dry.exit_code == 0, dry.output
    estimate = json.loads(dry.stdout)
    assert (estimate["dry_run"], estimate["tier"], estimate["llm_chunks"]) == (True, "llm", 3)
    assert estimate["calls"] == 3
    assert estimate["prompt_tokens"] > 0
    assert not db.exists()  # nothing written

    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "LLM extraction: 3 chunks, 3 parsed, 0 retries, 0 failed; 3 calls" in result.stdout

    forced = runner.invoke(app, ["ingest", str(folder), "--db", str(db), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    llm = json.loads(forced.stdout)["llm"]
    assert (llm["calls"], llm["cached_calls"], llm["hit_rate"]) == (0, 3, 1.0)
    assert cli_env["inner"][-1].calls == []


def test_cli_dry_run_warns_when_the_budget_would_stop_the_run(
    cli_env: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, db = corpus(tmp_path), tmp_path / "cli.db"
    monkeypatch.setenv("GRAPHRAG_LLM__MAX_TOKENS_PER_RUN", "100")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--dry-run", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "warning: the budget would stop this run before the end" in result.stderr
    assert "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN 100" in result.stderr
    payload = CliRunner().invoke(app, ["ingest", str(folder), "--dry-run", "--json"])
    assert "estimated tokens" in json.loads(payload.stdout)["budget_warning"]
    monkeypatch.delenv("GRAPHRAG_LLM__MAX_TOKENS_PER_RUN")
    fits = CliRunner().invoke(app, ["ingest", str(folder), "--dry-run", "--json"])
    assert json.loads(fits.stdout)["budget_warning"] is None


def test_cli_budget_stop_exits_1_with_one_line_and_a_rerun_finishes(
    cli_env: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    folder, db = corpus(tmp_path), tmp_path / "cli.db"
    monkeypatch.setenv("GRAPHRAG_LLM__MAX_TOKENS_PER_RUN", "1200")  # one call fits, not two
    stopped = runner.invoke(app, ["ingest", str(folder), "--db", str(db)])
    assert stopped.exit_code == 1, stopped.output
    lines = [line for line in stopped.stderr.splitlines() if "stopped by the LLM budget" in line]
    assert len(lines) == 1
    assert "Rerun the same command to continue" in lines[0]
    first_calls = len(cli_env["inner"][0].calls)
    assert first_calls == 1

    monkeypatch.delenv("GRAPHRAG_LLM__MAX_TOKENS_PER_RUN")
    rerun = runner.invoke(app, ["ingest", str(folder), "--db", str(db), "--json"])
    assert rerun.exit_code == 0, rerun.output
    payload = json.loads(rerun.stdout)
    assert payload["llm"]["calls"] == 3 - first_calls
    assert payload["llm"]["budget_stop"] is None
    assert payload["stopped"] is None


def test_the_stop_line_names_the_budget_or_the_failing_llm() -> None:
    from pipelines.ingest_llm import stop_message

    budget = stop_message("LLM budget reached: this run has used 10 tokens of 10.")
    assert budget.startswith("stopped by the LLM budget: LLM budget reached")
    outage = stop_message("the LLM endpoint answered HTTP 500.")
    assert outage.startswith("stopped: the LLM cannot be used")
    assert "HTTP 500. Documents already stored are kept" in outage
    assert "none is marked failed" in outage
