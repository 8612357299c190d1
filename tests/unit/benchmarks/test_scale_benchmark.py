"""The scale benchmark's helpers and one tiny end-to-end run (real spaCy, MiniLM, SQLite)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sb = _load("scale_benchmark")
sp = sys.modules["scale_profile"]


def test_distribution_of_counts() -> None:
    stats = sb.distribution([0, 1, 1, 2, 10])
    assert stats["max"] == 10
    assert stats["p50"] == 1.0
    assert stats["mean"] == 2.8
    assert sb.distribution([])["max"] == 0


def test_memory_of_this_process_tree() -> None:
    own = sb.rollup_kb(os.getpid())
    assert own["pss"] > 0
    assert own["private"] > 0
    assert sb.rollup_kb(2**22 + 17) == {"pss": 0, "private": 0}  # no such process
    split = sb.tree_split_mb()
    assert split["main"] > 0
    assert split["total"] >= split["main"]
    assert split["processes"] >= 1


async def test_call_times_sum_each_wrapped_method() -> None:
    class Store:
        async def read(self, n: int) -> int:
            await asyncio.sleep(0.01)
            return n

        async def fail(self) -> None:
            raise ValueError("boom")

        def sync(self) -> int:
            return 1

    store, calls = Store(), sb.CallTimes()
    calls.wrap(store, "store")
    assert await store.read(2) == 2
    with pytest.raises(ValueError, match="boom"):
        await store.fail()
    assert store.sync() == 1
    assert set(calls.ms) == {"store.read", "store.fail"}
    assert calls.ms["store.read"] >= 9.0


async def test_inline_threads_runs_thread_work_in_the_caller_and_restores() -> None:
    original = asyncio.to_thread
    caller = threading.get_ident()
    with sp.inline_threads():
        assert await asyncio.to_thread(threading.get_ident) == caller
    assert asyncio.to_thread is original
    assert await asyncio.to_thread(threading.get_ident) != caller


def test_summarise_splits_own_time_by_library() -> None:
    def square(n: int) -> int:
        return n * n

    profiler = cProfile.Profile()
    profiler.enable()
    sum(square(n) for n in range(200_000))
    json.loads(json.dumps(list(range(20_000))))
    profiler.disable()
    summary = sp.summarise(profiler)
    assert summary["profiled_seconds"] >= 0.01
    assert 99.0 <= sum(summary["own_pct_by_library"].values()) <= 101.0
    assert summary["top_own"]
    assert sp._bucket("/x/site-packages/torch/nn/linear.py", "forward") == "embedding model (torch)"
    assert sp._bucket("~", "<method 'execute' of 'sqlite3.Connection' objects>") == "SQLite"


def test_check_paths_names_what_is_wrong(tmp_path: Path) -> None:
    def args(**extra: object) -> argparse.Namespace:
        return argparse.Namespace(corpus=tmp_path, reuse=False, profile_ingest=False, **extra)

    db = tmp_path / "graph.db"
    assert "corpus is missing" in sb.check_paths(args(), db)
    (tmp_path / "corpus").mkdir()
    assert sb.check_paths(args(), db) is None
    reuse = argparse.Namespace(corpus=tmp_path, reuse=True, profile_ingest=False)
    assert "does not exist" in sb.check_paths(reuse, db)
    db.write_bytes(b"")
    assert "pass --reuse" in sb.check_paths(args(), db)
    assert sb.check_paths(reuse, db) is None


def test_missing_questions_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="generate the corpus"):
        sb.read_questions(tmp_path / "questions.jsonl", None)


@pytest.mark.slow
def test_tiny_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [
        {"id": "w0-1", "title": "Curie", "text": "Curie\nMarie Curie was born in Warsaw."},
        {"id": "w0-2", "title": "Warsaw", "text": "Warsaw\nWarsaw is the capital of Poland."},
        {"id": "w1-1", "title": "Kalo Ren", "text": "Kalo Ren\nKalo Ren was born in Warsaw."},
    ]
    (corpus / "part-000.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    question = {"id": "q", "question": "Where was Marie Curie born?", "gold": ["w0-1"]}
    (tmp_path / "questions.jsonl").write_text(json.dumps(question) + "\n")
    out = tmp_path / "results"
    argv = ["--corpus", str(tmp_path), "--out", str(out), "--warmup", "1", "--profile", "slowest"]
    assert sb.main([*argv, "--profile-queries", "1"]) == 0
    result = json.loads(next(out.glob("scale_*.json")).read_text())
    assert result["ingest"]["written"] == 3
    assert result["ingest"]["peak_pss_mb"] > 0
    assert result["query"]["graph"]["documents"] == 3
    assert set(result["query"]["modes"]) == {"naive", "bm25", "local", "hybrid", "ppr"}
    assert result["query"]["modes"]["bm25"]["gold_recall_at_5"] == 100.0
    assert result["query"]["profile"]["top_own"]
    assert "| ppr |" in capsys.readouterr().out
    assert sb.main(argv) == 2  # the store exists now: --reuse is needed
    assert sb.main([*argv, "--reuse", "--modes", "bm25"]) == 0
