"""``ingest --dry-run`` estimates: calls, tokens and cost before any call, cache hits free."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.config import ChunkingSettings, Settings
from graphrag.errors import ConfigError
from graphrag.extract.dry_run import dry_run
from graphrag.extract.llm_extractor import LLMExtractor
from graphrag.extract.ontology import Ontology
from graphrag.ingest import RegexTokenCounter, SentenceChunker, load_file
from graphrag.llm import ScriptedChatModel
from graphrag.llm.scripted import count_words
from tests.unit.extract.conftest import BRIDGE_REPLY, stack, updated
from tests.unit.extract.test_tiered import FakeSpacy

TEXTS = {
    "bridge.txt": "Tomas Brennick founded Brennick Structural Works in Northvale. "
    "The firm built the Lantern Bridge over the Kessel estuary between 1978 and 1983. " * 3,
    "museum.txt": "Ines Halvorsen directs the Velmora Maritime Museum on Quay Street. " * 4,
    "ferry.md": "# Gullwing Ferries\n\nRafael Moreno started the ferry to Eastbank in 1955.",
}


def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def chunker() -> SentenceChunker:
    return SentenceChunker(ChunkingSettings(max_tokens=40, overlap_tokens=0), RegexTokenCounter())


async def test_the_estimate_is_within_20_percent_of_the_run_and_cached_calls_are_free(
    llm_settings: Settings, ontology: Ontology, tmp_path: Path
) -> None:
    folder = corpus(tmp_path)
    settings = updated(
        llm_settings,
        extraction={"llm_completion_tokens": count_words(BRIDGE_REPLY)},
        llm={"price_per_1k_prompt": 0.5, "price_per_1k_completion": 1.5, "model": "scripted"},
    )
    # the scripted model counts words as tokens: the dry run counts the same way here
    estimate = await dry_run(settings, [folder], chunker=chunker(), count=count_words)
    assert estimate.documents == 3
    assert estimate.chunks == estimate.llm_chunks > 3
    assert estimate.estimate.calls == estimate.chunks
    assert not estimate.cache_checked

    chunks = [
        c for p in sorted(folder.iterdir()) for d in load_file(p, settings.ingest)
        for c in chunker().chunk(d.id, d.text)
    ]  # fmt: skip
    inner = ScriptedChatModel([BRIDGE_REPLY], repeat_last=True)
    llm = LLMExtractor(stack(settings, inner), ontology, settings.extraction)
    await llm.extract(chunks)
    assert llm.meter is not None
    real = llm.meter.totals()
    assert real.calls == estimate.estimate.calls
    assert abs(estimate.estimate.total_tokens - real.total_tokens) <= 0.2 * real.total_tokens
    assert abs(estimate.estimate.cost - real.cost) <= 0.2 * real.cost

    again = await dry_run(settings, [folder], chunker=chunker(), count=count_words)
    assert again.cache_checked
    assert (again.estimate.calls, again.estimate.cached_calls) == (0, len(chunks))
    assert again.estimate.cost == 0.0


async def test_the_spacy_tier_makes_no_call_and_needs_no_ontology(
    settings: Settings, tmp_path: Path
) -> None:
    report = await dry_run(settings, [corpus(tmp_path)], chunker=chunker())
    assert (report.tier, report.engine, report.llm_chunks, report.estimate.calls) == (
        "spacy",
        None,
        0,
        0,
    )
    assert report.chunks > 0


async def test_tiered_estimates_only_the_chunks_its_rule_picks(
    llm_settings: Settings, tmp_path: Path
) -> None:
    settings = updated(llm_settings, extraction={"tier": "tiered", "llm_min_entities": 2})
    folder = corpus(tmp_path)
    everything = await dry_run(settings, [folder], chunker=chunker(), spacy=FakeSpacy({}))
    assert everything.chunks > 0
    assert everything.llm_chunks == 0
    first = chunker().chunk(
        load_file(folder / "bridge.txt", settings.ingest)[0].id, TEXTS["bridge.txt"]
    )[0]
    picked = await dry_run(settings, [folder], chunker=chunker(), spacy=FakeSpacy({first.id: 2}))
    assert picked.llm_chunks == picked.estimate.calls == 1


async def test_inputs_that_fail_are_listed_and_a_missing_ontology_is_an_error(
    llm_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "bad.json").write_text('{"title": ', encoding="utf-8")
    report = await dry_run(
        llm_settings, [tmp_path / "bad.json", tmp_path / "nowhere"], chunker=chunker()
    )
    assert len(report.failures) == 2
    assert report.documents == 0
    missing = updated(llm_settings, extraction={"ontology_path": tmp_path / "none.yaml"})
    (tmp_path / "a.txt").write_text("Some text.", encoding="utf-8")
    with pytest.raises(ConfigError, match="GRAPHRAG_EXTRACTION__ONTOLOGY_PATH"):
        await dry_run(missing, [tmp_path / "a.txt"], chunker=chunker())
