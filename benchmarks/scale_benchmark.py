"""Scale benchmark: ingest a generated scale corpus, then time warm retrieval per mode.

Usage:
    .venv/bin/python benchmarks/scale_corpus.py --out .graphrag/scale/s10k
    .venv/bin/python benchmarks/scale_benchmark.py --corpus .graphrag/scale/s10k
    .venv/bin/python benchmarks/scale_benchmark.py --corpus .graphrag/scale/s10k --reuse \
        --profile slowest   # queries only, on the store built before, then profile one mode

1. **Ingest** (skipped with ``--reuse`` when the store exists): ``GraphRAG.ingest`` on
   ``<corpus>/corpus`` (what ``graphrag ingest`` runs) into a fresh embedded store (``--db``,
   default ``<corpus>/graph.db``). Both models are loaded first; the timer covers loading the
   files, chunking, extraction, resolution, embedding and writing. A sampler thread reads
   ``/proc/<pid>/smaps_rollup`` of this process and all its descendants (the spaCy workers)
   every 0.5 s: the peak of the summed PSS is the ingest's memory.
2. **Graph statistics**: entities, relations and the entity degree distribution (distinct
   neighbours over relations; entities without relations count as degree 0).
3. **Queries**: the store is opened again (as a server would), ``warm_up()`` runs, and for
   each mode the first ``--warmup`` questions run untimed, then every question of
   ``<corpus>/questions.jsonl`` is retrieved (``top_k``; retrieval only, no answer; the
   query-embedding cache off, so every query encodes its question). Per mode: p50/p95/mean/max
   of the wall time, the retriever's own stage timings (``analyze``: spaCy on the question,
   ``embed``: MiniLM, ``store``, ``rank``), the summed duration of each store method and of
   the embedder, recall of the gold passages in the top 5 (a sanity check only: the corpus
   repeats its passages with other names), and ``/proc/loadavg`` before and after.
4. **Profile** (``--profile MODE`` or ``slowest``): cProfile over ``--profile-queries``
   questions of that mode with ``asyncio.to_thread`` run inline, so the work of worker
   threads (spaCy, the PageRank walk, SQLite) is attributed; the top functions by own time.

The result is printed and written to ``benchmarks/results/scale_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ingest_throughput import TreeMemory, warm  # noqa: E402
from scale_profile import inline_threads, summarise  # noqa: E402

from graphrag import GraphRAG  # noqa: E402
from graphrag.config import Settings, load_settings  # noqa: E402
from graphrag.evaluation import percentile  # noqa: E402
from graphrag.runtime import configure_logging  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODES = ("naive", "bm25", "local", "hybrid", "ppr")
RECALL_K = 5
ENV_PREFIXES = ("GRAPHRAG_", "MALLOC_", "ONEDNN_", "OMP_", "MKL_")
"""Environment variables recorded with the result (they change speed or memory)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="scale_corpus.py output")
    parser.add_argument("--db", type=Path, help="store (default <corpus>/graph.db)")
    parser.add_argument("--reuse", action="store_true", help="query an existing --db")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5, help="untimed questions per mode")
    parser.add_argument("--limit", type=int, help="first N questions only")
    parser.add_argument("--batch-size", type=int, default=256, help="documents per batch")
    parser.add_argument("--profile", help="mode to profile, or 'slowest'")
    parser.add_argument("--profile-queries", type=int, default=100)
    parser.add_argument(
        "--profile-ingest",
        action="store_true",
        help="only cProfile an ingest of the corpus into --db (new or existing), no queries",
    )
    parser.add_argument("--config", type=Path, help="settings file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def loadavg() -> str:
    """The first three fields of ``/proc/loadavg`` (1, 5 and 15 minute load)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rollup_kb(pid: int) -> dict[str, int]:
    """``Pss`` and ``Private`` (clean + dirty) of a process in kB, from ``smaps_rollup``."""
    found = {"pss": 0, "private": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name == "Pss":
            found["pss"] = int(rest.split()[0])
        elif name in ("Private_Clean", "Private_Dirty"):
            found["private"] += int(rest.split()[0])
    return found


def tree_split_mb() -> dict[str, float]:
    """PSS of this process and of its descendants now, and the descendants' private memory.

    A forked worker shares its parent's pages until either writes them; ``children_private``
    is what the workers hold alone (copied-on-write pages and their own allocations).
    """
    pids = TreeMemory._tree(os.getpid())
    rolls = [rollup_kb(p) for p in pids]
    return {
        "total": round(sum(r["pss"] for r in rolls) / 1024.0, 1),
        "main": round(rolls[0]["pss"] / 1024.0, 1),
        "children": round(sum(r["pss"] for r in rolls[1:]) / 1024.0, 1),
        "children_private": round(sum(r["private"] for r in rolls[1:]) / 1024.0, 1),
        "processes": len(pids),
    }


class TreeSampler(TreeMemory):
    """:class:`TreeMemory` that also keeps the sample count and the split at the peak."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.samples = 0
        self.peak_split_mb: dict[str, float] = {}

    def _loop(self) -> None:
        while not self._stop.is_set():
            split = tree_split_mb()
            self.samples += 1
            if split["total"] > self.peak_mb:
                self.peak_mb = split["total"]
                self.peak_split_mb = split
            self._stop.wait(self.interval)


def current_pss_mb() -> float:
    """PSS of this process and its descendants now, in MB."""
    return tree_split_mb()["total"]


def corpus_settings(args: argparse.Namespace, db: Path) -> Settings:
    settings = load_settings(args.config, embedded={"path": db})
    # No query-embedding cache: every query pays for encoding its question, as a new one would.
    embedding = settings.embedding.model_copy(update={"cache_size": 0})
    return settings.model_copy(update={"embedding": embedding})


async def ingest(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    """Build the store from ``<corpus>/corpus`` and measure wall time and peak PSS."""
    rag = await GraphRAG.open(corpus_settings(args, db))
    try:
        load_seconds = await warm(rag.components)
        before = loadavg()
        start = time.perf_counter()
        progress: list[dict[str, Any]] = []

        def record(done: int, total: int) -> None:
            elapsed = time.perf_counter() - start
            now = tree_split_mb()
            progress.append(
                {
                    "documents": done,
                    "seconds": round(elapsed, 1),
                    "load": loadavg(),
                    "pss_main_mb": now["main"],
                    "pss_children_mb": now["children"],
                }
            )
            print(f"  {done}/{total} documents, {elapsed:.0f} s", file=sys.stderr)

        with TreeSampler() as memory:
            summary = await rag.ingest(
                [args.corpus / "corpus"], batch_size=args.batch_size, progress=record
            )
        wall = time.perf_counter() - start
        after = loadavg()
    finally:
        await rag.close()
    report = summary.report
    return {
        "load_seconds": round(load_seconds, 2),
        "wall_seconds": round(wall, 1),
        "documents": summary.documents,
        "written": report.written,
        "failed": len(summary.failures),
        "chunks": report.chunks,
        "docs_per_second": round(report.written / wall, 2),
        "chunks_per_second": round(report.chunks / wall, 2),
        "stage_seconds": {k: round(v, 1) for k, v in report.stage_seconds.items()},
        "model_seconds": round(report.model_seconds, 1),
        "peak_pss_mb": round(memory.peak_mb, 1),
        "peak_pss_split_mb": memory.peak_split_mb,
        "pss_samples": memory.samples,
        "loadavg_before": before,
        "loadavg_after": after,
        "progress": progress,
    }


async def profile_ingest(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    """cProfile an ingest of ``<corpus>/corpus`` into ``db`` (new or existing).

    One spaCy process and ``asyncio.to_thread`` inline, so every stage runs where cProfile
    sees it; the wall time is therefore not the product's (use the plain run for that).
    """
    settings = corpus_settings(args, db)
    extraction = settings.extraction.model_copy(update={"processes": 1})
    rag = await GraphRAG.open(settings.model_copy(update={"extraction": extraction}))
    try:
        await warm(rag.components)
        stored = (await rag.stats()).documents
        pss_before = current_pss_mb()
        profiler = cProfile.Profile()
        before, start = loadavg(), time.perf_counter()
        with inline_threads():
            profiler.enable()
            summary = await rag.ingest([args.corpus / "corpus"], batch_size=args.batch_size)
            profiler.disable()
        wall = time.perf_counter() - start
        pss_after = current_pss_mb()
    finally:
        await rag.close()
    return {
        "documents_in_store_before": stored,
        "pss_mb_before": pss_before,
        "pss_mb_after": pss_after,
        "written": summary.report.written,
        "wall_seconds": round(wall, 1),
        "stage_seconds": {k: round(v, 1) for k, v in summary.report.stage_seconds.items()},
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        **summarise(profiler),
    }


def distribution(values: list[int]) -> dict[str, float]:
    """Max, p99, p90, p50 and mean of a list of counts."""
    floats = [float(v) for v in values]
    return {
        "max": max(values, default=0),
        "p99": round(percentile(floats, 99), 1),
        "p90": round(percentile(floats, 90), 1),
        "p50": round(percentile(floats, 50), 1),
        "mean": round(sum(floats) / len(floats), 2) if floats else 0.0,
    }


async def graph_statistics(rag: GraphRAG) -> dict[str, Any]:
    """Counts and the entity degree distribution (distinct neighbours over relations)."""
    stats = await rag.stats()
    relations = await rag.components.store.all_relations()
    neighbours: dict[str, set[str]] = {}
    for relation in relations:
        neighbours.setdefault(relation.source_id, set()).add(relation.target_id)
        neighbours.setdefault(relation.target_id, set()).add(relation.source_id)
    degrees = [len(n) for n in neighbours.values()]
    degrees += [0] * max(0, stats.entities - len(degrees))
    hubs = sorted(neighbours, key=lambda e: len(neighbours[e]), reverse=True)[:10]
    rows = {e.id: e for e in await rag.components.store.get_entities(hubs)}
    return {
        "documents": stats.documents,
        "chunks": stats.chunks,
        "entities": stats.entities,
        "relations": stats.relations,
        "mentions": stats.mentions,
        "merges": stats.merges,
        "entities_with_relations": len(neighbours),
        "entity_degree": distribution(degrees),
        "hubs": [
            {
                "name": rows[h].name if h in rows else h,
                "type": rows[h].type if h in rows else "?",
                "degree": len(neighbours[h]),
                "mentions": rows[h].mention_count if h in rows else None,
            }
            for h in hubs
        ],
    }


class CallTimes:
    """Sums the wall time of every coroutine method of the store and of ``embed``.

    The methods are wrapped on the instances (nothing in ``graphrag/`` changes); concurrent
    calls (``asyncio.gather``) each count their own duration, so the sum can exceed the wall.
    """

    def __init__(self) -> None:
        self.ms: Counter[str] = Counter()

    def wrap(self, obj: object, prefix: str, names: list[str] | None = None) -> None:
        chosen = names or [
            n
            for n in dir(obj)
            if not n.startswith("_") and inspect.iscoroutinefunction(getattr(obj, n, None))
        ]
        for name in chosen:
            setattr(obj, name, self._timed(getattr(obj, name), f"{prefix}.{name}"))

    def _timed(
        self, method: Callable[..., Awaitable[Any]], label: str
    ) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.ms[label] += (time.perf_counter() - start) * 1000.0

        return timed


def read_questions(path: Path, limit: int | None) -> list[dict[str, Any]]:
    if not path.is_file():
        msg = f"{path} is missing; generate the corpus with benchmarks/scale_corpus.py first"
        raise SystemExit(f"error: {msg}")
    questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return questions[:limit] if limit else questions


def _gold_hit(chunks: list[Any], gold: list[str]) -> float:
    found = {c.source.rsplit("#", 1)[-1] for c in chunks[:RECALL_K]}
    return len(found & set(gold)) / len(gold) if gold else 0.0


async def time_mode(
    rag: GraphRAG,
    questions: list[dict[str, Any]],
    mode: str,
    calls: CallTimes,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Warm-up, then time every question in one mode."""
    for q in questions[: args.warmup]:
        await rag.retrieve(q["question"], mode=mode, top_k=args.top_k)
    before = loadavg()
    calls.ms.clear()
    walls: list[float] = []
    stages: Counter[str] = Counter()
    recall = 0.0
    for q in questions:
        start = time.perf_counter()
        context = await rag.retrieve(q["question"], mode=mode, top_k=args.top_k)
        walls.append((time.perf_counter() - start) * 1000.0)
        stages.update(context.timings)
        recall += _gold_hit(context.chunks, q.get("gold", []))
    n = len(walls)
    return {
        "queries": n,
        "p50_ms": round(percentile(walls, 50), 1),
        "p95_ms": round(percentile(walls, 95), 1),
        "mean_ms": round(sum(walls) / n, 1),
        "max_ms": round(max(walls), 1),
        "mean_stage_ms": {k: round(v / n, 2) for k, v in sorted(stages.items())},
        "mean_call_ms": {k: round(v / n, 2) for k, v in calls.ms.most_common()},
        f"gold_recall_at_{RECALL_K}": round(100.0 * recall / n, 1),
        "loadavg_before": before,
        "loadavg_after": loadavg(),
    }


async def profile_mode(
    rag: GraphRAG, questions: list[dict[str, Any]], mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    """cProfile ``--profile-queries`` retrievals of one mode (thread work inline)."""
    chosen = questions[: args.profile_queries]
    profiler = cProfile.Profile()
    with inline_threads():
        profiler.enable()
        for q in chosen:
            await rag.retrieve(q["question"], mode=mode, top_k=args.top_k)
        profiler.disable()
    return {"mode": mode, "queries": len(chosen), **summarise(profiler)}


async def query_phase(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    """Open the built store, warm it up, time each mode and optionally profile one."""
    questions = read_questions(args.corpus / "questions.jsonl", args.limit)
    rag = await GraphRAG.open(corpus_settings(args, db))
    try:
        start = time.perf_counter()
        await rag.components.retrieval.warm_up()
        warm_seconds = time.perf_counter() - start
        calls = CallTimes()
        calls.wrap(rag.components.store, "store")
        calls.wrap(rag.components.embedder, "embedder", ["embed"])
        modes = {m: await time_mode(rag, questions, m, calls, args) for m in args.modes.split(",")}
        pss = current_pss_mb()
        profile = None
        if args.profile:
            slowest = max(modes, key=lambda m: modes[m]["p50_ms"])
            chosen = slowest if args.profile == "slowest" else args.profile
            profile = await profile_mode(rag, questions, chosen, args)
        graph = await graph_statistics(rag)
    finally:
        await rag.close()
    return {
        "graph": graph,
        "warm_up_seconds": round(warm_seconds, 2),
        "query_process_pss_mb": round(pss, 1),
        "questions": len(questions),
        "top_k": args.top_k,
        "modes": modes,
        "profile": profile,
    }


def table(result: dict[str, Any]) -> str:
    """The latency table (one row per mode) as Markdown."""
    lines = [
        "| mode | p50 ms | p95 ms | mean ms | max ms | stages (mean ms) | R@5 gold |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, row in result["query"]["modes"].items():
        stages = ", ".join(f"{k} {v}" for k, v in row["mean_stage_ms"].items())
        lines.append(
            f"| {mode} | {row['p50_ms']} | {row['p95_ms']} | {row['mean_ms']} | "
            f"{row['max_ms']} | {stages} | {row[f'gold_recall_at_{RECALL_K}']} |"
        )
    return "\n".join(lines)


def code_version() -> dict[str, Any]:
    """The commit and the uncommitted files under graphrag/ (the code that was measured)."""

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "graphrag").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": dirty}


def check_paths(args: argparse.Namespace, db: Path) -> str | None:
    """What is wrong with the corpus and store paths for the chosen run, if anything."""
    if not (args.corpus / "corpus").is_dir():
        return f"{args.corpus}/corpus is missing; generate it with benchmarks/scale_corpus.py"
    if args.profile_ingest:
        return None  # adds the corpus to a new or an existing store
    if db.exists() and not args.reuse:
        return f"{db} exists; pass --reuse to query it or remove it"
    if args.reuse and not db.exists():
        return f"--reuse: {db} does not exist; run without --reuse to build it"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    db = args.db or args.corpus / "graph.db"
    problem = check_paths(args, db)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    manifest_path = args.corpus / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    result: dict[str, Any] = {
        "benchmark": "scale_ingest_profile" if args.profile_ingest else "scale",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": {"path": str(args.corpus), **manifest},
        "store": str(db),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "code": code_version(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)},
        "command": " ".join(
            [".venv/bin/python", "benchmarks/scale_benchmark.py", *(argv or sys.argv[1:])]
        ),
    }
    if args.profile_ingest:
        result["ingest_profile"] = asyncio.run(profile_ingest(args, db))
    else:
        result["ingest"] = None if args.reuse else asyncio.run(ingest(args, db))
        result["db_bytes"] = db.stat().st_size
        result["query"] = asyncio.run(query_phase(args, db))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"scale_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if "query" in result:
        print(table(result))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
