"""LLM extraction against a real OpenAI-compatible server (opt-in).

Runs when ``GRAPHRAG_LLM__BASE_URL`` is set (``GRAPHRAG_LLM__MODEL``, default
``gemma-3-270m``; ``GRAPHRAG_LLM__FOLD_SYSTEM_PROMPT``, default ``true`` for llama.cpp's gemma
format), e.g. against the local server of ``scripts/llama_server.sh``::

    bash scripts/llama_server.sh 18081 &
    GRAPHRAG_LLM__BASE_URL=http://127.0.0.1:18081/v1 \\
        .venv/bin/pytest -s tests/integration/test_llm_extraction.py

Checks robustness, not quality (a 270M model writes off-schema and malformed output): every
chunk of a few sample documents is either extracted or recorded as failed while the batch goes
on, a rerun on the same cache makes no call, and the dry run's estimate is printed next to
the real token counts (docs/benchmarks.md, "LLM extraction", has the recorded run).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from graphrag.config import Settings, load_settings
from graphrag.extract.dry_run import dry_run
from graphrag.extract.factory import llm_part
from graphrag.models import DocumentStatus
from graphrag.operations.ingest import run_ingest
from graphrag.runtime import open_components
from graphrag.testing.fakes import HashEmbedder
from tests.integration.llm_env import API_KEY, BASE_URL, FOLD, MODEL, needs_llm

pytestmark = needs_llm
ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "samples" / "corpus" / name for name in ("gullwing_ferries.txt", "kessel_energy.md")
]


def settings(tmp_path: Path, store: str) -> Settings:
    return load_settings(
        embedded={"path": tmp_path / f"{store}.db"},
        extraction={"tier": "llm", "ontology_path": ROOT / "samples" / "ontology.yaml",
                    "llm_max_tokens": 256, "llm_completion_tokens": 128},
        llm={"base_url": BASE_URL, "model": MODEL, "api_key": API_KEY, "timeout": 300.0,
             "max_concurrency": 1, "fold_system_prompt": FOLD, "retry_base_delay": 0.5,
             "cache_path": tmp_path / "llm_cache.db"},
    )  # fmt: skip


async def ingest(config: Settings) -> tuple[Any, Any, float]:
    rag = await open_components(config, embedder=HashEmbedder(dim=32))
    extractor = llm_part(rag.extractor)
    assert extractor is not None
    try:
        await extractor.check()
        started = time.perf_counter()
        summary = await run_ingest(rag, FILES)
        seconds = time.perf_counter() - started
        documents = await rag.store.list_documents()
    finally:
        await rag.close()
    assert summary.ok, summary.failures
    assert {d.status for d in documents} == {DocumentStatus.DONE}
    return summary, extractor, seconds


async def test_bad_output_never_stops_the_batch_and_a_rerun_is_free(tmp_path: Path) -> None:
    first = settings(tmp_path, "first")
    estimate = await dry_run(first, FILES)
    summary, extractor, seconds = await ingest(first)
    stats, totals = extractor.stats, extractor.meter.totals()
    print(
        f"\nchunks {stats.chunks}: parsed {stats.parsed}, retries {stats.retries}, failed "
        f"{stats.failed}; mentions {stats.mentions}, relations {stats.relations}, dropped "
        f"nodes {stats.dropped_nodes}, dropped relations {stats.dropped_relations}, "
        f"ungrounded {stats.ungrounded}\ncalls {totals.calls}: {totals.prompt_tokens} prompt + "
        f"{totals.completion_tokens} completion tokens in {seconds:.1f} s\ndry run: "
        f"{estimate.estimate.calls} calls, {estimate.estimate.prompt_tokens} prompt + "
        f"{estimate.estimate.completion_tokens_guess} completion tokens (guess)"
    )
    for chunk, reason in stats.failures:
        print(f"failed {chunk}: {reason}")
    assert stats.chunks == estimate.llm_chunks == estimate.estimate.calls
    assert totals.calls == stats.chunks + stats.retries
    assert summary.report.written == len(FILES)

    again = settings(tmp_path, "second")  # a new store, the same cache
    _, rerun, _ = await ingest(again)
    replay = rerun.meter.totals()
    print(
        f"rerun: {replay.calls} calls, {replay.cached_calls} cached, hit rate {replay.hit_rate:.0%}"
    )
    assert replay.calls == 0
    assert replay.hit_rate == 1.0
    assert rerun.stats.failures == stats.failures
