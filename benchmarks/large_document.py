"""One large single-line text file against a corpus of passages: throughput and memory.

Usage:
    .venv/bin/python benchmarks/large_document.py --dataset ../shared/data/musique_train --mb 15

Builds a single-line text file of ``--mb`` megabytes from the dataset's passages (joined
with spaces, repeated as needed), then in one process with the models loaded once:
ingests ``--corpus`` passages of the dataset (the corpus rate) and the large file (through
``run_ingest``, as ``graphrag ingest`` does), each into a fresh store. Reports wall time,
chunks and characters per second, the stage split and the peak memory (PSS of the process
and its spaCy workers) of each. Results go to ``benchmarks/results/large_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
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

from graphrag.build import IngestReport  # noqa: E402
from graphrag.config import Settings, load_settings  # noqa: E402
from graphrag.evaluation import load_dataset  # noqa: E402
from graphrag.operations.ingest import ingest_documents, run_ingest  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder or JSON")
    parser.add_argument("--mb", type=float, default=15.0, help="size of the large file")
    parser.add_argument("--corpus", type=int, default=500, help="passages for the corpus rate")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def write_large_file(passages: list[str], path: Path, size: int) -> int:
    text = " ".join(p.replace("\n", " ") for p in passages)
    repeated = " ".join([text] * (size // max(len(text), 1) + 1))[:size]
    path.write_text(repeated, encoding="utf-8")
    return len(repeated)


def describe(report: IngestReport, wall: float, chars: int, peak_mb: float) -> dict[str, Any]:
    return {
        "wall_seconds": round(wall, 1),
        "documents": report.written,
        "chunks": report.chunks,
        "characters": chars,
        "chunks_per_second": round(report.chunks / wall, 2),
        "characters_per_second": round(chars / wall),
        "stage_seconds": {k: round(v, 1) for k, v in report.stage_seconds.items()},
        "model_seconds": round(report.model_seconds, 1),
        "peak_pss_tree_mb": round(peak_mb, 1),
    }


async def fresh(settings: Settings, db: Path, shared: Components) -> Components:
    store_settings = settings.model_copy(update={"embedded": settings.embedded.model_copy(
        update={"path": db})})  # fmt: skip
    return await open_components(
        store_settings, embedder=shared.embedder, extractor=shared.extractor
    )


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    dataset = load_dataset(args.dataset)
    documents = dataset.documents()[: args.corpus]
    large = folder / "large.txt"
    chars = write_large_file([d.text for d in dataset.documents()], large, int(args.mb * 1e6))
    settings = load_settings(embedded={"path": folder / "warm.db"})
    shared = await open_components(settings)
    await warm(shared)
    corpus_store = await fresh(settings, folder / "corpus.db", shared)
    start = time.perf_counter()
    with TreeMemory() as memory:
        report = await ingest_documents(corpus_store, documents)
    corpus = describe(report, time.perf_counter() - start, sum(len(d.text) for d in documents),
                      memory.peak_mb)  # fmt: skip
    await corpus_store.close()
    large_store = await fresh(settings, folder / "large.db", shared)
    start = time.perf_counter()
    with TreeMemory() as memory:
        summary = await run_ingest(large_store, [large])
    big = describe(summary.report, time.perf_counter() - start, chars, memory.peak_mb)
    await large_store.close()
    await shared.close()
    return {
        "benchmark": "large_document",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "corpus": corpus,
        "large_file": {"megabytes": args.mb, **big},
        "ratio_chunks_per_second": round(big["chunks_per_second"] / corpus["chunks_per_second"], 2),
        "ratio_characters_per_second": round(
            big["characters_per_second"] / corpus["characters_per_second"], 2
        ),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    with tempfile.TemporaryDirectory(prefix="graphrag-large-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"large_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
