"""Ingest throughput: index a dataset corpus into a fresh embedded store and time it.

Usage:
    .venv/bin/python benchmarks/ingest_throughput.py --dataset ../shared/data/musique_train
    .venv/bin/python benchmarks/ingest_throughput.py --dataset ... --limit 50   # smoke run

Both models are loaded and warmed before the timer starts (their load time is reported
separately as ``load_seconds``). The report (JSON) is printed and written to
``benchmarks/results/ingest_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
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
from graphrag.evaluation import EvalDataset, load_dataset  # noqa: E402
from graphrag.ids import chunk_id  # noqa: E402
from graphrag.models import Chunk  # noqa: E402
from graphrag.operations.ingest import ingest_documents  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder or JSON")
    parser.add_argument("--db", type=Path, help="new SQLite file (default: a temp folder)")
    parser.add_argument("--limit", type=int, help="index only the first N passages")
    parser.add_argument("--batch-size", type=int, default=256, help="documents per batch")
    parser.add_argument("--processes", type=int, help="spaCy processes (default: settings)")
    parser.add_argument("--config", type=Path, help="settings file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def peak_rss_mb() -> dict[str, float]:
    """Peak resident set size of this process and of its (waited-for) children, in MB."""
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # KB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return {"self": round(own, 1), "children": round(children, 1)}


class TreeMemory:
    """Samples the proportional set size (PSS) of this process and all its descendants.

    PSS splits pages shared between processes (the forked spaCy workers share most of the
    parent's memory), so the sum is the real memory the ingestion holds; summing RSS would
    count shared pages once per process.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _tree(pid: int) -> list[int]:
        pids, todo = [], [pid]
        while todo:
            current = todo.pop()
            pids.append(current)
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                try:
                    todo.extend(int(c) for c in task.read_text().split())
                except OSError:
                    continue
        return pids

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            return 0
        return 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = sum(self._pss_kb(p) for p in self._tree(os.getpid())) / 1024.0
            self.peak_mb = max(self.peak_mb, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def warm(components: Components) -> float:
    """Load and run both models once; return the seconds it took."""
    start = time.perf_counter()
    await components.embedder.embed(["Warm-up sentence for the embedding model."])
    text = "Ada Lovelace worked with Charles Babbage in London."
    chunk = Chunk(
        id=chunk_id("d_warmup", 0),
        document_id="d_warmup",
        ordinal=0,
        text=text,
        start=0,
        end=len(text),
        token_count=10,
    )
    await components.extractor.extract([chunk])
    return time.perf_counter() - start


async def run(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    dataset = load_dataset(args.dataset)
    passages = dataset.passages[: args.limit] if args.limit else dataset.passages
    corpus = EvalDataset(name=dataset.name, passages=passages, questions=[])
    overrides: dict[str, Any] = {"embedded": {"path": db}}
    settings = load_settings(args.config, **overrides)
    if args.processes:
        extraction = settings.extraction.model_copy(update={"processes": args.processes})
        settings = settings.model_copy(update={"extraction": extraction})
    documents = corpus.documents()
    components = await open_components(settings)
    try:
        load_seconds = await warm(components)
        start = time.perf_counter()
        with TreeMemory() as memory:
            report = await ingest_documents(components, documents, batch_size=args.batch_size)
        wall = time.perf_counter() - start
        stats = await components.store.stats()
    finally:
        await components.close()
    model = report.model_seconds
    return {
        "benchmark": "ingest_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "passages": len(documents),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "spacy_processes": settings.extraction.processes,
            "batch_size": args.batch_size,
            "chunk_max_tokens": settings.chunking.max_tokens,
            "embedding_batch_size": settings.embedding.batch_size,
        },
        "load_seconds": round(load_seconds, 2),
        "wall_seconds": round(wall, 2),
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
        "model_seconds": round(model, 2),
        "overhead_pct": round(100.0 * (wall - model) / model, 1) if model > 0 else None,
        "docs_per_second": round(len(documents) / wall, 2) if wall > 0 else None,
        "chunks_per_second": round(report.chunks / wall, 2) if wall > 0 else None,
        "peak_rss_mb": peak_rss_mb(),
        "peak_pss_tree_mb": round(memory.peak_mb, 1),
        "counts": {
            "written": report.written,
            "failed": len(report.failed),
            "chunks": report.chunks,
            "entities": stats.entities,
            "relations": stats.relations,
            "mentions": stats.mentions,
            "merges": stats.merges,
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    if args.db is not None and args.db.exists():
        print(f"error: {args.db} exists; the benchmark needs a fresh store", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="graphrag-bench-") as tmp:
        db = args.db or Path(tmp) / "bench.db"
        result = asyncio.run(run(args, db))
        result["db_bytes"] = db.stat().st_size if db.exists() else None
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ingest_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
