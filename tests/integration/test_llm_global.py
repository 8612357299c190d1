"""Community reports and global search's map-reduce against a real server (opt-in).

Runs when ``GRAPHRAG_LLM__BASE_URL`` is set (``GRAPHRAG_LLM__MODEL``, default
``gemma-3-270m``; ``GRAPHRAG_LLM__FOLD_SYSTEM_PROMPT``, default ``true`` for llama.cpp's gemma
format), e.g. against the local server of ``scripts/llama_server.sh``::

    bash scripts/llama_server.sh 18081 &
    GRAPHRAG_LLM__BASE_URL=http://127.0.0.1:18081/v1 \\
        .venv/bin/pytest -s tests/integration/test_llm_global.py

Checks robustness, not quality (a 270M model writes malformed reports and points): a few
sample documents are extracted with spaCy, `graphrag analyze` asks the model for the largest
communities' reports (a malformed one keeps its extractive summary, the analysis is saved),
a global question goes through the map-reduce (malformed map replies skipped with a note,
every citation one of the context's chunks), and the same question again is served from the
cache. What happened is printed (docs/benchmarks.md, "Global search with an LLM").
"""

from __future__ import annotations

import time
from pathlib import Path

from graphrag.analyze.llm_reports import REPORT_PREFIX
from graphrag.config import Settings, load_settings
from graphrag.facade import GraphRAG
from graphrag.models import AnswerKind, RetrievalMode
from pipelines.analyze_job import run_analysis
from tests.integration.llm_env import API_KEY, BASE_URL, FOLD, MODEL, needs_llm

pytestmark = needs_llm
ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "samples" / "corpus" / name
    for name in ("brennick_vale.txt", "tomas_brennick.html", "velmora_history.md")
]
QUESTION = "What are the main themes of these documents?"


def settings(tmp_path: Path) -> Settings:
    return load_settings(
        embedded={"path": tmp_path / "global.db"},
        answer={"global_communities": 3, "context_tokens": 1200},
        llm={"base_url": BASE_URL, "model": MODEL, "api_key": API_KEY, "timeout": 600.0,
             "max_tokens": 160, "max_concurrency": 1, "fold_system_prompt": FOLD,
             "retry_base_delay": 0.5, "max_community_reports": 2,
             "cache_path": tmp_path / "llm_cache.db"},
    )  # fmt: skip


async def test_reports_and_map_reduce_survive_a_weak_model_and_rerun_free(
    tmp_path: Path, embedder: object, extractor: object
) -> None:
    config = settings(tmp_path)
    rag = await GraphRAG.open(config, embedder=embedder, extractor=extractor)  # type: ignore[arg-type]
    try:
        assert rag.components.llm is not None
        await rag.components.llm.check()
        summary = await rag.ingest([str(f) for f in FILES])
        assert summary.ok, summary.failures
        started = time.perf_counter()
        report = await run_analysis(rag.components)
        analyze_seconds = time.perf_counter() - started
        communities = await rag.components.store.list_communities()
        reported = [c for c in communities if (c.summary or "").startswith(REPORT_PREFIX)]
        print(f"\nanalyze: {report.communities} communities, {report.llm_reports} LLM reports, "
              f"{report.llm_malformed} malformed, {report.llm_calls} calls, "
              f"{report.llm_tokens} tokens, {analyze_seconds:.1f} s")  # fmt: skip
        for community in reported:
            print(f"  report: {community.title!r}: {(community.summary or '')[:300]!r}")
        assert report.llm_reports + report.llm_malformed == min(2, report.communities)
        assert len(reported) == report.llm_reports

        started = time.perf_counter()
        answer = await rag.answer(QUESTION, mode=RetrievalMode.GLOBAL)
        first_seconds = time.perf_counter() - started
        print(f"global answer ({first_seconds:.1f} s): {answer.text!r}")
        print(f"  notes: {answer.notes}")
        print(f"  usage: {answer.usage}, timings: {answer.timings}")
        assert answer.kind is AnswerKind.GENERATED
        assert answer.context is not None
        chunk_ids = {c.id for c in answer.context.chunks}
        assert {c.chunk_id for c in answer.citations} <= chunk_ids
        assert answer.usage is not None
        assert answer.usage.prompt_tokens > 0

        started = time.perf_counter()
        again = await rag.answer(QUESTION, mode=RetrievalMode.GLOBAL)
        print(f"again ({time.perf_counter() - started:.2f} s): cached={again.usage}")
        assert again.text == answer.text
        assert again.usage is not None
        assert again.usage.cached
    finally:
        await rag.close()
