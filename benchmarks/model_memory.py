"""Model memory: how the process's PSS grows while one model alone works through a corpus.

Usage:
    .venv/bin/python benchmarks/model_memory.py --corpus .graphrag/scale/s10k --model embed
    .venv/bin/python benchmarks/model_memory.py --corpus .graphrag/scale/s10k --model spacy
    MALLOC_TRIM_THRESHOLD_=0 .venv/bin/python benchmarks/model_memory.py --corpus ... --model embed

The ingest of the scale corpus holds more memory after every batch. This script separates the
two models: it loads one (the MiniLM embedder as ``GraphBuilder`` uses it, or the spaCy
extractor in one process), then feeds it ``--steps`` slices of ``--docs`` passages of
``<corpus>/corpus`` and prints the PSS after each slice, with the Python heap that
``tracemalloc`` sees (numpy included), so that growth outside it (native allocations: torch,
oneDNN, the C allocator) shows as the difference. ``embed`` embeds the passages, then their
capitalised words (as resolution embeds entity names). Environment variables that change the
allocator (``MALLOC_*``, ``ONEDNN_*``) are recorded. Nothing is written to a store; the JSON
result goes to ``benchmarks/results/model_memory_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from scale_benchmark import ENV_PREFIXES, loadavg, tree_split_mb  # noqa: E402

from graphrag.config import EmbeddingSettings, ExtractionSettings  # noqa: E402
from graphrag.ids import chunk_id  # noqa: E402
from graphrag.models import Chunk  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="scale_corpus.py output")
    parser.add_argument("--model", choices=("embed", "spacy"), required=True)
    parser.add_argument("--docs", type=int, default=150, help="passages per step")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    return parser.parse_args(argv)


def read_texts(corpus: Path, count: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((corpus / "corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
            if len(texts) == count:
                return texts
    if not texts:
        raise SystemExit(f"error: no passages under {corpus}/corpus; run scale_corpus.py")
    return texts


def sample(step: int, texts: list[str]) -> dict[str, Any]:
    traced, _ = tracemalloc.get_traced_memory()
    pss = tree_split_mb()["main"]
    print(f"step {step}: {len(texts)} passages, PSS {pss} MB", file=sys.stderr)
    return {"step": step, "pss_mb": pss, "python_heap_mb": round(traced / 2**20, 1)}


async def run_embed(slices: list[list[str]]) -> list[dict[str, Any]]:
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    await embedder.embed(["warm-up"])
    tracemalloc.start()
    points = [sample(0, [])]
    for step, texts in enumerate(slices, start=1):
        await embedder.embed(texts)
        names = sorted({w for t in texts for w in t.split() if w[:1].isupper()})
        await embedder.embed(names, kind="passage")
        points.append(sample(step, texts))
    return points


async def run_spacy(slices: list[list[str]]) -> list[dict[str, Any]]:
    from graphrag.extract.spacy_extractor import SpacyExtractor

    extractor = SpacyExtractor(ExtractionSettings(processes=1))
    await extractor.extract(as_chunks(0, ["Ada Lovelace worked with Charles Babbage."]))
    tracemalloc.start()
    points = [sample(0, [])]
    for step, texts in enumerate(slices, start=1):
        await extractor.extract(as_chunks(step, texts))
        points.append(sample(step, texts))
    return points


def as_chunks(step: int, texts: list[str]) -> list[Chunk]:
    return [
        Chunk(
            id=chunk_id(f"d{step}-{i}", 0),
            document_id=f"d{step}-{i}",
            ordinal=0,
            text=text,
            start=0,
            end=len(text),
            token_count=len(text.split()),
        )
        for i, text in enumerate(texts)
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    texts = read_texts(args.corpus, args.docs * args.steps)
    slices = [texts[i : i + args.docs] for i in range(0, len(texts), args.docs)]
    before = loadavg()
    runner = run_embed if args.model == "embed" else run_spacy
    points = asyncio.run(runner(slices))
    result = {
        "benchmark": "model_memory",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": args.model,
        "corpus": str(args.corpus),
        "docs_per_step": args.docs,
        "env": {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)},
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        "points": points,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"model_memory_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
