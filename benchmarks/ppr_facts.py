"""Research: "facts as seeds" (HippoRAG 2 recognition memory) for the ``ppr`` mode.

Every stored relation is embedded once as a fact text (``subject predicate object`` or
``subject object``) with the store's embedder (cached to .npy next to the db). At query time
the question vector is matched against the fact vectors (cosine); the best ``k`` facts above
``threshold`` add their subject/object entities to the question's linked entities with score
``factor * fact_cosine`` (seed_scores takes the max per entity, seed_weights divides by the
chunk count as for question entities). Everything else is the product's ppr mode untouched.

Scoring reuses benchmarks/tune_retrieval.run_variant (warm-up, cache clear, top_k=10,
dedupe_ranking, score_mode), so variant "base" reproduces tune_retrieval's ``ppr``.

Usage (from the repo root; the store at --db is a dev-set store built by tune_retrieval.py):
    .venv/bin/python benchmarks/ppr_facts.py \
        --dataset ../shared/data/musique_train --db .graphrag/bench/musique.db \
        --variants base,k5-f1 --out /tmp/ppr-facts

Variant names: kK-fF[-so|-svo][-tT|-anc|-res|-only|-lex|-supN|-orc]: K facts, seed score
F * cosine, -so "subject object" text (default "subject predicate object"), -svo no
co-occurrence facts, -tT cosine >= T, -anc only facts touching a linked question entity,
-res match with the question without its entity names, -only facts replace the question's
entities, -lex the predicate shares a stem with the question, -supN the fact's evidence chunk
is among the top N dense chunks, -orc an ORACLE that keeps only fact entities a gold document
mentions (an upper bound for a perfect recognition filter; it reads the gold answers).
Results and conclusions: docs/evaluation.md, "Facts as seeds".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tune_retrieval as tr  # noqa: E402

import graphrag.retrieve.modes as modes  # noqa: E402
from graphrag.config import load_settings  # noqa: E402
from graphrag.evaluation import load_dataset  # noqa: E402
from graphrag.retrieve.seeds import LinkedEntity, QuestionSeeds  # noqa: E402
from graphrag.runtime import configure_logging, open_components  # noqa: E402


@dataclass(frozen=True)
class FactConfig:
    """One variant: how many facts, how they weigh, which texts."""

    k: int = 0  # 0: baseline (no facts)
    threshold: float = 0.0  # minimum fact cosine
    factor: float = 1.0  # seed score = factor * cosine
    fmt: str = "spo"  # "spo": subject predicate object; "so": subject object
    kinds: str = "all"  # "all" or "svo" (no co-occurrence facts)
    fallback: bool = False  # facts also seed questions with no linked entity (no dense fallback)
    relative: bool = False  # score = factor * cos / best_cos (best fact gets `factor`)
    anchor: bool = False  # only facts touching a linked question entity; add the other end
    only: bool = False  # facts replace the question's linked entities (HippoRAG 2 style)
    resid: bool = False  # match facts with the question's rest (without entity names)
    lex: bool = False  # fact's predicate must share a word stem (4 chars) with the question
    support: int = 0  # >0: only facts whose evidence chunk is among the top-N dense chunks
    oracle: bool = False  # keep only fact entities mentioned in a gold doc (upper bound, cheats)


def _variants() -> dict[str, FactConfig]:
    v: dict[str, FactConfig] = {"base": FactConfig()}
    for k in (1, 3, 5, 10):
        for f in (0.25, 0.5, 1.0):
            v[f"k{k}-f{f}"] = FactConfig(k=k, factor=f)
            v[f"k{k}-f{f}-svo"] = FactConfig(k=k, factor=f, kinds="svo")
            v[f"k{k}-f{f}-so"] = FactConfig(k=k, factor=f, fmt="so")
    extra: dict[str, FactConfig] = {}
    for name, cfg in v.items():
        if cfg.k:
            for t in (0.4, 0.5, 0.6):
                extra[f"{name}-t{t}"] = replace(cfg, threshold=t)
            extra[f"{name}-fb"] = replace(cfg, fallback=True)
            extra[f"{name}-rel"] = replace(cfg, relative=True)
            extra[f"{name}-anc"] = replace(cfg, anchor=True)
            extra[f"{name}-only"] = replace(cfg, only=True, fallback=True)
            extra[f"{name}-res"] = replace(cfg, resid=True)
            extra[f"{name}-anc-res"] = replace(cfg, anchor=True, resid=True)
            extra[f"{name}-orc"] = replace(cfg, oracle=True)
            extra[f"{name}-lex"] = replace(cfg, lex=True)
            for n in (5, 10, 20, 50):
                extra[f"{name}-sup{n}"] = replace(cfg, support=n)
            extra[f"{name}-lex-anc"] = replace(cfg, lex=True, anchor=True)
            extra[f"{name}-anc-orc"] = replace(cfg, anchor=True, oracle=True)
    v.update(extra)
    return v


VARIANTS = _variants()


class FactIndex:
    """Fact texts, their entity endpoints and normalised vectors (per format)."""

    def __init__(self, subjects: list[str], objects: list[str], svo: np.ndarray) -> None:
        self.subjects = subjects
        self.objects = objects
        self.svo = svo  # bool mask: not a co-occurrence
        self.vectors: dict[str, np.ndarray] = {}
        self.by_entity: dict[str, list[int]] = {}
        for i, (a, b) in enumerate(zip(subjects, objects, strict=True)):
            self.by_entity.setdefault(a, []).append(i)
            self.by_entity.setdefault(b, []).append(i)

    def match(
        self, vector: np.ndarray, cfg: FactConfig, anchors: list[str] | None = None
    ) -> list[tuple[int, float]]:
        """Return the best ``cfg.k`` (fact index, cosine) above the threshold."""
        mat = self.vectors[cfg.fmt]
        q = vector / max(float(np.linalg.norm(vector)), 1e-12)
        if cfg.support:
            chunks = STATE.get("dense_chunks", [])
            rows = np.array(
                sorted({i for c in chunks for i in self.by_chunk.get(c, [])}), dtype=np.int64
            )
        elif anchors is not None:
            rows = np.array(
                sorted({i for a in anchors for i in self.by_entity.get(a, [])}), dtype=np.int64
            )
        else:
            rows = np.arange(mat.shape[0])
        if cfg.kinds == "svo":
            rows = rows[self.svo[rows]]
        if cfg.lex:
            words = {w[:4] for w in _words(STATE.get("question", "")) if len(w) >= 3}
            rows = rows[[bool(self.pred_stems[i] & words) for i in rows]] if rows.size else rows
        if rows.size == 0:
            return []
        sims = mat[rows] @ q.astype(mat.dtype)
        k = min(cfg.k, sims.shape[0])
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(rows[i]), float(sims[i])) for i in top if sims[i] >= cfg.threshold]


async def build_index(components: Any, db: Path) -> FactIndex:
    """Read relations and entity names, embed fact texts once (cached .npy)."""
    store = components.store
    relations = await store.all_relations()
    ids = sorted({x for r in relations for x in (r.source_id, r.target_id)})
    names: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        for e in await store.get_entities(ids[i : i + 500]):
            names[e.id] = e.name
    subj = [r.source_id for r in relations]
    obj = [r.target_id for r in relations]
    svo = np.array([r.predicate != "co_occurs_with" for r in relations])
    index = FactIndex(subj, obj, svo)
    index.by_chunk = {}
    for i, r in enumerate(relations):
        for c in r.source_chunk_ids:
            index.by_chunk.setdefault(c, []).append(i)
    index.pred_stems = [
        {w[:4] for w in r.predicate.split() if w not in _STOP and len(w) >= 3}
        if r.predicate != "co_occurs_with"
        else set()
        for r in relations
    ]
    texts = {
        "spo": [
            f"{names.get(r.source_id, '')} {r.predicate.replace('_', ' ')} "
            f"{names.get(r.target_id, '')}"
            for r in relations
        ],
        "so": [f"{names.get(r.source_id, '')} {names.get(r.target_id, '')}" for r in relations],
    }
    for fmt, items in texts.items():
        cache = db.with_suffix(f".facts-{fmt}.npy")
        if cache.exists() and np.load(cache, mmap_mode="r").shape[0] == len(items):
            index.vectors[fmt] = np.load(cache)
            continue
        start = time.perf_counter()
        vecs = np.asarray(await components.embedder.embed(items, kind="passage"), np.float32)
        print(
            f"embedded {len(items)} {fmt} facts in {time.perf_counter() - start:.1f}s",
            file=sys.stderr,
        )
        np.save(cache, vecs)
        index.vectors[fmt] = vecs
    print(
        f"{len(relations)} facts ({int(svo.sum())} svo), examples: {texts['spo'][:3]}",
        file=sys.stderr,
    )
    return index


_STOP = {"be", "have", "the", "and", "for", "with", "from", "into", "onto", "upon", "get"}


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


STATE: dict[str, Any] = {"cfg": FactConfig(), "index": None, "ms": [], "added": []}
_ORIGINAL = modes.analyze_question


async def _analyze_with_facts(question: str, **kwargs: Any) -> QuestionSeeds:
    seeds = await _ORIGINAL(question, **kwargs)
    STATE["question"] = question
    cfg: FactConfig = STATE["cfg"]
    index: FactIndex | None = STATE["index"]
    if not cfg.k or index is None or not kwargs.get("residual"):  # ppr mode only
        return seeds
    if not seeds.linked and not cfg.fallback:
        return seeds
    start = time.perf_counter()
    if cfg.support:
        hits = await kwargs["store"].vector_search("chunks", seeds.vector, cfg.support)
        STATE["dense_chunks"] = [h.id for h in hits]
    vector = seeds.residual if cfg.resid and seeds.residual is not None else seeds.vector
    linked_ids = seeds.entity_ids
    facts = index.match(np.asarray(vector), cfg, linked_ids if cfg.anchor else None)
    best = facts[0][1] if facts else 1.0
    links = []
    for i, score in facts:
        weight = cfg.factor * (score / best if cfg.relative else score)
        for eid in (index.subjects[i], index.objects[i]):
            if cfg.anchor and eid in linked_ids:
                continue
            if cfg.oracle and not (
                STATE["ent_docs"].get(eid, set()) & STATE["gold"].get(question, set())
            ):
                continue
            links.append(
                LinkedEntity(surface=f"fact:{i}", entity_id=eid, score=weight, exact=False)
            )
    if cfg.only and links:
        seeds.linked = links
    else:
        seeds.linked = [*seeds.linked, *links]
    STATE["ms"].append((time.perf_counter() - start) * 1000.0)
    STATE["added"].append(len({lk.entity_id for lk in links}))
    return seeds


modes.analyze_question = _analyze_with_facts  # type: ignore[assignment]
_DEDUPE = tr.dedupe_ranking


def _record(ids: Any) -> list[str]:
    ranking = _DEDUPE(ids)
    STATE.setdefault("rankings", []).append(ranking[:10])
    return ranking


tr.dedupe_ranking = _record


def row(name: str, s: dict[str, Any]) -> str:
    r, ag = s["recall"], s["all_gold"]
    return (
        f"{name:40s} R@2 {100 * r['R@2']:5.1f}  R@5 {100 * r['R@5']:5.1f}  "
        f"R@10 {100 * r['R@10']:5.1f}  AG@5 {100 * ag['AG@5']:5.1f}  "
        f"p50 {s['latency_ms']['p50']:6.1f}  fact {s.get('fact_ms_mean', 0):5.2f} ms"
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(args.dataset)
    if not args.db.exists():
        raise SystemExit(f"{args.db} missing: build it with benchmarks/tune_retrieval.py")
    settings = load_settings(None, embedded={"path": args.db})
    components = await open_components(settings)
    results: dict[str, Any] = {}
    try:
        STATE["index"] = await build_index(components, args.db)
        import sqlite3

        conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
        ent_docs: dict[str, set[str]] = {}
        for eid, doc in conn.execute(
            "SELECT m.entity_id, c.document_id FROM mentions m JOIN chunks c ON c.id = m.chunk_id"
        ):
            ent_docs.setdefault(eid, set()).add(doc)
        STATE["ent_docs"] = ent_docs
        STATE["gold"] = {
            q.question.strip(): dataset.gold_document_ids(q) for q in dataset.questions
        }
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            fact_name, _, tune_name = name.partition("|")
            if fact_name not in VARIANTS:
                raise SystemExit(f"unknown variant {name}")
            STATE["cfg"], STATE["ms"], STATE["added"] = VARIANTS[fact_name], [], []
            STATE["rankings"] = []
            scores = await tr.run_variant(components, dataset, tune_name or "ppr")
            scores["rankings"] = STATE["rankings"][-len(dataset.questions) :]
            scores["golds"] = [sorted(dataset.gold_document_ids(q)) for q in dataset.questions]
            ms = STATE["ms"][-len(dataset.questions) :] if STATE["ms"] else []
            added = STATE["added"][-len(dataset.questions) :] if STATE["added"] else []
            scores["fact_ms_mean"] = round(float(np.mean(ms)), 3) if ms else 0.0
            scores["fact_entities_mean"] = round(float(np.mean(added)), 2) if added else 0.0
            scores["config"] = VARIANTS[fact_name].__dict__
            results[name] = scores
            print(row(name, scores), file=sys.stderr, flush=True)
    finally:
        await components.close()
    load = Path("/proc/loadavg").read_text().strip()  # noqa: ASYNC240 - a tiny procfs read
    return {
        "dataset": dataset.name,
        "db": str(args.db),
        "loadavg": load,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "variants": results,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--variants", default="base")
    p.add_argument("--out", type=Path, default=Path("/tmp/ppr-facts"))
    p.add_argument("--tag", default="")
    args = p.parse_args()
    configure_logging("WARNING")
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"facts_{result['dataset']}_{args.tag}{datetime.now(UTC):%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    for name, s in result["variants"].items():
        print(row(name, s))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
