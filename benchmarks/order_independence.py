"""Order independence: the same passages ingested in two batch sizes and orders, compared.

Usage:
    .venv/bin/python benchmarks/order_independence.py --dataset ../shared/data/musique_train \
        --limit 300 --batch-sizes 256 16

The first store gets the passages in corpus order with the first batch size, the second a
shuffled order (fixed seed) with the second one. Both graphs are compared with
``graphrag.testing.snapshot`` (documents, entities with names, types and aliases, mentions,
relations with evidence, merge records); the report says whether they are identical and
lists the counts. Results go to ``benchmarks/results/order_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
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
from graphrag.evaluation import load_dataset  # noqa: E402
from graphrag.models import Document  # noqa: E402
from graphrag.operations.ingest import ingest_documents  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402
from graphrag.testing.snapshot import snapshot  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder or JSON")
    parser.add_argument("--limit", type=int, default=300, help="first N passages")
    parser.add_argument("--batch-sizes", type=int, nargs=2, default=[256, 16])
    parser.add_argument("--seed", type=int, default=5, help="shuffle seed of the second run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def build(
    documents: list[Document], db: Path, batch: int, shared: Components | None
) -> tuple[dict[str, Any], float, Components]:
    settings = load_settings(embedded={"path": db})
    reuse = {} if shared is None else {"embedder": shared.embedder, "extractor": shared.extractor}
    components = await open_components(settings, **reuse)
    start = time.perf_counter()
    await ingest_documents(components, documents, batch_size=batch)
    seconds = time.perf_counter() - start
    state = await snapshot(components.store)
    await components.store.close()
    return state, seconds, components


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    dataset = load_dataset(args.dataset)
    documents = dataset.documents()[: args.limit]
    shuffled = list(documents)
    random.Random(args.seed).shuffle(shuffled)
    first, second = args.batch_sizes
    a, seconds_a, components = await build(documents, folder / "a.db", first, None)
    b, seconds_b, _ = await build(shuffled, folder / "b.db", second, components)
    differing = sorted(k for k in a if a[k] != b[k])
    entities, relations, mentions, merges = a["counts"]
    return {
        "benchmark": "order_independence",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "passages": len(documents),
        "runs": [
            {
                "order": "corpus",
                "batch_size": first,
                "seconds": round(seconds_a, 1),
                "counts": list(a["counts"]),
            },
            {
                "order": f"shuffled (seed {args.seed})",
                "batch_size": second,
                "seconds": round(seconds_b, 1),
                "counts": list(b["counts"]),
            },
        ],
        "identical": not differing,
        "differing_parts": differing,
        "counts": {
            "entities": entities,
            "relations": relations,
            "mentions": mentions,
            "merges": merges,
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    with tempfile.TemporaryDirectory(prefix="graphrag-order-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"order_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
