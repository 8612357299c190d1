"""Query latency: retrieval wall time per mode on an indexed dataset (warm).

Usage:
    .venv/bin/python benchmarks/query_latency.py --dataset ../shared/data/musique_train \
        --db .graphrag/bench/musique.db
    .venv/bin/python benchmarks/query_latency.py --dataset ... --db /tmp/q.db --limit 10

The store at ``--db`` is built from the dataset if it does not exist (with ``--limit N`` only
the first N questions and the passages they list). Every mode gets one untimed warm-up query;
then each question runs through each mode and ``retrieve()`` is timed (retrieval only, no
answer). p50/p95/mean per mode (ms) and the mean per-stage timings are printed and written to
``benchmarks/results/query_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
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
from graphrag.evaluation import EvalDataset, load_dataset, percentile  # noqa: E402
from graphrag.operations.ingest import ingest_documents  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402
from pipelines.eval_job import parse_modes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder or JSON")
    parser.add_argument("--db", type=Path, required=True, help="indexed store (built if missing)")
    parser.add_argument("--limit", type=int, help="first N questions (and their passages)")
    parser.add_argument("--modes", default="local,hybrid,ppr,naive,bm25")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--config", type=Path, help="settings file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def time_mode(
    components: Components, questions: list[str], mode: str, top_k: int
) -> dict[str, Any]:
    await components.retrieval.retrieve(questions[0], mode=mode, top_k=top_k)  # warm-up
    walls: list[float] = []
    stages: dict[str, float] = {}
    for question in questions:
        start = time.perf_counter()
        context = await components.retrieval.retrieve(question, mode=mode, top_k=top_k)
        walls.append((time.perf_counter() - start) * 1000.0)
        for name, value in context.timings.items():
            stages[name] = stages.get(name, 0.0) + value
    return {
        "queries": len(walls),
        "p50_ms": round(percentile(walls, 50), 2),
        "p95_ms": round(percentile(walls, 95), 2),
        "mean_ms": round(sum(walls) / len(walls), 2),
        "max_ms": round(max(walls), 2),
        "mean_stage_ms": {k: round(v / len(walls), 2) for k, v in stages.items()},
    }


async def run(args: argparse.Namespace, dataset: EvalDataset, built: bool) -> dict[str, Any]:
    settings = load_settings(args.config, embedded={"path": args.db})
    # No query-embedding cache: every mode pays for encoding the question, as a new one would.
    embedding = settings.embedding.model_copy(update={"cache_size": 0})
    settings = settings.model_copy(update={"embedding": embedding})
    modes = parse_modes(args.modes)
    components = await open_components(settings)
    try:
        build_seconds = None
        if built:
            start = time.perf_counter()
            report = await ingest_documents(components, dataset.documents())
            build_seconds = round(time.perf_counter() - start, 2)
            if report.failed:
                print(f"warning: {len(report.failed)} passages failed", file=sys.stderr)
        questions = [q.question for q in dataset.questions]
        per_mode = {m.value: await time_mode(components, questions, m, args.top_k) for m in modes}
        stats = await components.store.stats()
    finally:
        await components.close()
    return {
        "benchmark": "query_latency",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "questions": len(dataset.questions),
        "store": {
            "path": str(args.db),
            "documents": stats.documents,
            "chunks": stats.chunks,
            "entities": stats.entities,
            "relations": stats.relations,
        },
        "built_now_seconds": build_seconds,
        "top_k": args.top_k,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "modes": per_mode,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    dataset = load_dataset(args.dataset).slice(args.limit)
    built = not args.db.exists()
    if built:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {args.db} from {dataset.name} ...", file=sys.stderr)
    result = asyncio.run(run(args, dataset, built))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"query_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
