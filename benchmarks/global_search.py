"""Global search: community analysis cost and ``global`` retrieval latency (no LLM).

Usage:
    .venv/bin/python benchmarks/global_search.py --source .graphrag/bench/musique.db \
        --dataset ../shared/data/musique_train --work /tmp/global_bench
    .venv/bin/python benchmarks/global_search.py ... --limit 20       # smoke: 20 questions

The store at ``--source`` is copied to ``--work`` (the source is never written) and opened
with the default settings (MiniLM, spaCy question analysis, query-embedding cache off). The
models are loaded first, then ``graphrag analyze`` runs (PageRank + Louvain, extractive
summaries, summary embeddings, save) while a thread samples the process memory every
``--sample-ms`` (PSS and RSS from ``/proc/self/smaps_rollup``; during the queries only with
``--sample-queries``: reading ``smaps_rollup`` of a 1 GB process every 50 ms added about
6 ms to each query's p50). Then every question of the
dataset is retrieved in ``global`` mode (``top_k`` 10) after one untimed warm-up query, and
the wall time of ``retrieve()`` is recorded: p50/p95/mean/max and the mean per stage, with
the passage recall@2/5/10 of the contexts (as ``graphrag eval`` scores it, without its
widening of ``top_k``). Two variants run: ``default`` (the question's entities are found with
spaCy and lift their communities, weight 0.3) and ``cosine_only`` (no question analysis,
summary cosine alone); ``--compare`` modes (default ``ppr``) are timed on the same questions
right after, as a reference under the same machine load. The load average is read before
and after each phase (the figures depend on what else runs), and the analysis also reports
its CPU seconds. One JSON object is printed and written to
``benchmarks/results/global_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from graphrag.config import load_settings  # noqa: E402
from graphrag.evaluation import (  # noqa: E402
    EvalDataset,
    dedupe_ranking,
    load_dataset,
    percentile,
    score_mode,
)
from graphrag.retrieve.modes import RetrievalService  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402
from pipelines.analyze_job import run_analysis  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="indexed store to copy")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset (questions)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the copy")
    parser.add_argument("--limit", type=int, help="first N questions")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--sample-ms", type=float, default=50.0, help="memory sampling period")
    parser.add_argument(
        "--sample-queries",
        action="store_true",
        help="also sample memory while timing queries (the sampling thread adds ~6 ms)",
    )
    parser.add_argument("--compare", default="ppr", help="other modes timed as a reference")
    parser.add_argument("--config", type=Path, help="settings file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def memory_kb() -> dict[str, int]:
    """PSS and RSS of this process in kB (``/proc/self/smaps_rollup``; RSS alone elsewhere)."""
    found: dict[str, int] = {}
    try:
        with open("/proc/self/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    found[key.lower()] = int(rest.split()[0])
    except OSError:
        import resource

        found["rss"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return found


class MemorySampler:
    """Samples :func:`memory_kb` on a thread and keeps the peaks."""

    def __init__(self, period_ms: float) -> None:
        self._period = period_ms / 1000.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak: dict[str, int] = {}
        self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, value in memory_kb().items():
                self.peak[key] = max(self.peak.get(key, 0), value)
            self.samples += 1
            self._stop.wait(self._period)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for key, value in memory_kb().items():
            self.peak[key] = max(self.peak.get(key, 0), value)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def mb(values: dict[str, int]) -> dict[str, float]:
    return {k: round(v / 1024.0, 1) for k, v in values.items()}


async def analyse(components: Components, period_ms: float) -> dict[str, Any]:
    before = memory_kb()
    loads = {"before": load()}
    with MemorySampler(period_ms) as sampler:
        started, cpu = time.perf_counter(), time.process_time()
        report = await run_analysis(components)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    loads["after"] = load()
    return {
        "entities": report.entities,
        "relations": report.relations,
        "communities": report.communities,
        "embedded": report.embedded,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "stage_seconds": report.timings,
        "memory_mb": {
            "before": mb(before),
            "peak": mb(sampler.peak),
            "peak_minus_before": mb({k: sampler.peak[k] - before.get(k, 0) for k in sampler.peak}),
            "samples": sampler.samples,
            "period_ms": period_ms,
        },
        "load_average": loads,
    }


async def latency(
    retrieval: RetrievalService,
    dataset: EvalDataset,
    top_k: int,
    period_ms: float,
    mode: str = "global",
) -> dict[str, Any]:
    questions = dataset.questions
    await retrieval.retrieve(questions[0].question, mode=mode, top_k=top_k)  # warm-up
    walls: list[float] = []
    stages: dict[str, float] = {}
    rankings: list[list[str]] = []
    sizes = {"communities": 0, "chunks": 0}
    loads = {"before": load()}
    with MemorySampler(period_ms) if period_ms > 0 else contextlib.nullcontext() as sampler:
        for question in questions:
            start = time.perf_counter()
            context = await retrieval.retrieve(question.question, mode=mode, top_k=top_k)
            walls.append((time.perf_counter() - start) * 1000.0)
            for name, value in context.timings.items():
                stages[name] = stages.get(name, 0.0) + value
            sizes["communities"] += len(context.communities)
            sizes["chunks"] += len(context.chunks)
            rankings.append(dedupe_ranking(c.document_id for c in context.chunks))
            if context.notes:
                print("note:", context.notes, file=sys.stderr)
    loads["after"] = load()
    golds = [dataset.gold_document_ids(q) for q in questions]
    scores = score_mode(mode, rankings, golds).to_dict()
    n = len(walls)
    return {
        "queries": n,
        "top_k": top_k,
        "p50_ms": round(percentile(walls, 50), 2),
        "p95_ms": round(percentile(walls, 95), 2),
        "mean_ms": round(sum(walls) / n, 2),
        "max_ms": round(max(walls), 2),
        "mean_stage_ms": {k: round(v / n, 2) for k, v in stages.items()},
        "recall": scores.get("recall"),
        "all_gold": scores.get("all_gold"),
        "mean_communities": round(sizes["communities"] / n, 2),
        "mean_chunks": round(sizes["chunks"] / n, 2),
        "memory_peak_mb": mb(sampler.peak) if sampler is not None else None,
        "memory_after_mb": mb(memory_kb()),
        "load_average": loads,
    }


def fresh_copy(source: Path, work: Path) -> Path:
    """Copy the store into ``work`` (replacing an earlier copy); the source is only read."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / source.name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    return copy


async def run(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(args.dataset).slice(args.limit)
    copy = await asyncio.to_thread(fresh_copy, args.source, args.work)
    settings = load_settings(args.config, embedded={"path": copy}, embedding={"cache_size": 0})
    started = time.perf_counter()
    components = await open_components(settings)
    try:
        await components.embedder.embed(["warm up"], kind="passage")  # load MiniLM first
        models = round(time.perf_counter() - started, 2)
        stats = await components.store.stats()
        analysis = await analyse(components, args.sample_ms)
        query_ms = args.sample_ms if args.sample_queries else 0.0
        cosine_only = RetrievalService(
            components.store,
            components.embedder,
            settings.retrieval.model_copy(update={"global_member_weight": 0.0}),
            None,
        )
        variants = {
            "default": await latency(components.retrieval, dataset, args.top_k, query_ms),
            "cosine_only": await latency(cosine_only, dataset, args.top_k, query_ms),
        }
        for mode in filter(None, args.compare.split(",")):
            variants[f"compare_{mode}"] = await latency(
                components.retrieval, dataset, args.top_k, query_ms, mode=mode.strip()
            )
    finally:
        await components.close()
    return {
        "benchmark": "global_search",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "source": str(args.source),
        "dataset": dataset.name,
        "store": {
            "documents": stats.documents,
            "chunks": stats.chunks,
            "entities": stats.entities,
            "relations": stats.relations,
        },
        "model_load_seconds": models,
        "analysis": analysis,
        "global_retrieval": variants,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging(args.log_level)
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (args.out / f"global_{stamp}.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
