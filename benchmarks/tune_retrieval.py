"""Tune retrieval: recall@2/5/10 and latency of retrieval variants on the dev sets.

Usage:
    .venv/bin/python benchmarks/tune_retrieval.py --dataset ../shared/data/musique_train \
        --db .graphrag/bench/musique.db
    .venv/bin/python benchmarks/tune_retrieval.py --dataset ... --db ... \
        --variants ppr,ppr-t0.05,hybrid-rrf,hybrid-minmax

The store at ``--db`` is built from the dataset if it does not exist (``--limit N``: the first
N questions and the passages they list). Each variant is a mode plus overrides of the retrieval
settings: a name from ``VARIANTS``, or ``MODE@key=value+key=value`` for any settings (e.g.
``ppr@ppr_damping=0.3+link_threshold=0.7``; MODE may also be a named variant to extend, and
``--config`` gives the base settings); every variant gets an
untimed ``RetrievalService.warm_up()`` and an empty query-embedding cache, then every
question is retrieved with ``top_k=10`` and the passages' document ids are scored as HippoRAG
does (recall@k, all-gold@k). Results are printed as a
table and written to ``benchmarks/results/tune_<dataset>_<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from graphrag.config import RetrievalSettings  # noqa: E402
from graphrag.evaluation import EvalDataset, load_dataset  # noqa: E402
from graphrag.evaluation.metrics import dedupe_ranking, score_mode  # noqa: E402
from graphrag.retrieve.modes import RetrievalService  # noqa: E402
from graphrag.runtime import Components, configure_logging, open_components  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

# name -> (mode, overrides of the retrieval settings)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "naive": ("naive", {}),
    "bm25": ("bm25", {}),
    "local": ("local", {}),
    "local-k1": ("local", {"k_entities": 1}),
    "hybrid": ("hybrid", {}),
    "hybrid-rrf": (
        "hybrid",
        {
            "hybrid_fusion": "rrf",
            "hybrid_dense_weight": 1.0,
            "hybrid_bm25_weight": 1.0,
            "hybrid_graph_weight": 1.0,
        },
    ),
    "hybrid-rrf-2.1.1": (
        "hybrid",
        {
            "hybrid_fusion": "rrf",
            "hybrid_dense_weight": 1.0,
            "hybrid_bm25_weight": 0.5,
            "hybrid_graph_weight": 0.5,
        },
    ),
    "hybrid-minmax": ("hybrid", {"hybrid_fusion": "minmax"}),
    "hybrid-minmax-.7.3.0": (
        "hybrid",
        {"hybrid_dense_weight": 0.7, "hybrid_bm25_weight": 0.3, "hybrid_graph_weight": 0.0},
    ),
    "hybrid-minmax-.6.2.2": (
        "hybrid",
        {"hybrid_dense_weight": 0.6, "hybrid_bm25_weight": 0.2, "hybrid_graph_weight": 0.2},
    ),
    "ppr": ("ppr", {}),
    "ppr-dense-only": ("ppr", {"ppr_dense_weight": 1.0}),
    "ppr-seeds-only": ("ppr", {"ppr_dense_weight": 0.0}),
    "ppr-w0.4": ("ppr", {"ppr_dense_weight": 0.4}),
    "ppr-w0.6": ("ppr", {"ppr_dense_weight": 0.6}),
    "ppr-t0.01": ("ppr", {"ppr_temperature": 0.01}),
    "ppr-t0.05": ("ppr", {"ppr_temperature": 0.05}),
    "ppr-d0.3": ("ppr", {"ppr_damping": 0.3}),
    "ppr-d0.7": ("ppr", {"ppr_damping": 0.7}),
    "ppr-cand100": ("ppr", {"ppr_dense_candidates": 100}),
    "ppr-cand25": ("ppr", {"ppr_dense_candidates": 25}),
    "ppr-link0.5": ("ppr", {"link_threshold": 0.5}),
    "ppr-link0.7": ("ppr", {"link_threshold": 0.7}),
    "ppr-link0.8": ("ppr", {"link_threshold": 0.8}),
    "ppr-deg5": ("ppr", {"degree_cap": 5}),
    "ppr-deg10": ("ppr", {"degree_cap": 10}),
    "ppr-deg20": ("ppr", {"degree_cap": 20}),
    "ppr-cand30-deg10": ("ppr", {"ppr_dense_candidates": 30, "degree_cap": 10}),
    "ppr-deg100": ("ppr", {"degree_cap": 100}),
    "ppr-rel0.1": ("ppr", {"ppr_relation_weight": 0.1}),
}
DEFAULT_VARIANTS = "naive,bm25,local,hybrid,ppr"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder or JSON")
    parser.add_argument("--db", type=Path, required=True, help="indexed store (built if missing)")
    parser.add_argument("--limit", type=int, help="first N questions (and their passages)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated names")
    parser.add_argument("--config", type=Path, help="settings file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def parse_variant(name: str) -> tuple[str, dict[str, Any]]:
    """Return the mode and overrides of a named variant or of ``mode@key=value+key=value``."""
    if "@" not in name:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
        return VARIANTS[name]
    mode, _, spec = name.partition("@")
    base_mode, overrides = VARIANTS.get(mode, (mode, {}))
    overrides = dict(overrides)
    for item in filter(None, spec.split("+")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"variant {name!r}: write overrides as key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return base_mode, overrides


def service_for(components: Components, name: str) -> tuple[str, RetrievalService]:
    mode, overrides = parse_variant(name)
    values = {**components.settings.retrieval.model_dump(), "token_budget": 100_000, **overrides}
    try:  # validated like a settings file (strings such as "0.3" are converted)
        settings = RetrievalSettings.model_validate(values)
    except ValueError as exc:
        raise SystemExit(f"variant {name!r}: {exc}") from None
    analyzer = getattr(components.retrieval, "_analyzer", None)
    service = RetrievalService(components.store, components.embedder, settings, analyzer)
    return mode, service


async def run_variant(components: Components, dataset: EvalDataset, name: str) -> dict[str, Any]:
    mode, service = service_for(components, name)
    questions = dataset.questions
    cache = getattr(components.embedder, "_cache", None)
    if cache is not None:  # every variant pays its own query embeddings
        cache.clear()
    await service.warm_up()
    rankings: list[list[str]] = []
    walls: list[float] = []
    stages: dict[str, float] = {}
    for question in questions:
        start = time.perf_counter()
        context = await service.retrieve(question.question, mode=mode, top_k=10)
        walls.append((time.perf_counter() - start) * 1000.0)
        rankings.append(dedupe_ranking(c.document_id for c in context.chunks))
        for stage, value in context.timings.items():
            stages[stage] = stages.get(stage, 0.0) + value
    golds = [dataset.gold_document_ids(q) for q in questions]
    scores = score_mode(name, rankings, golds, latency_ms=walls).to_dict()
    scores["mean_stage_ms"] = {k: round(v / len(walls), 2) for k, v in stages.items()}
    return scores


async def run(args: argparse.Namespace, dataset: EvalDataset, built: bool) -> dict[str, Any]:
    from graphrag.config import load_settings
    from graphrag.operations.ingest import ingest_documents

    settings = load_settings(args.config, embedded={"path": args.db})
    components = await open_components(settings)
    try:
        if built:
            start = time.perf_counter()
            report = await ingest_documents(components, dataset.documents())
            print(f"built in {time.perf_counter() - start:.1f}s", file=sys.stderr)
            if report.failed:
                print(f"warning: {len(report.failed)} passages failed", file=sys.stderr)
        results = {}
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            results[name] = await run_variant(components, dataset, name)
            print(row(name, results[name]), file=sys.stderr)
        stats = await components.store.stats()
    finally:
        await components.close()
    return {
        "benchmark": "tune_retrieval",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.name,
        "questions": len(dataset.questions),
        "store": {
            "documents": stats.documents,
            "entities": stats.entities,
            "relations": stats.relations,
        },
        "variants": results,
    }


def row(name: str, scores: dict[str, Any]) -> str:
    recall = scores["recall"]
    latency = scores["latency_ms"]
    return (
        f"{name:24s} R@2 {100 * recall['R@2']:5.1f}  R@5 {100 * recall['R@5']:5.1f}  "
        f"R@10 {100 * recall['R@10']:5.1f}  AG@5 {100 * scores['all_gold']['AG@5']:5.1f}  "
        f"p50 {latency['p50']:6.1f} ms  p95 {latency['p95']:6.1f} ms"
    )


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
    path = args.out / f"tune_{dataset.name}_{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    for name, scores in result["variants"].items():
        print(row(name, scores))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
