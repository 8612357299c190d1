"""Graph analysis at scale: PageRank + Louvain + save on a synthetic embedded store.

Usage:
    .venv/bin/python benchmarks/analysis_scale.py                      # 20k entities, 200k rels
    .venv/bin/python benchmarks/analysis_scale.py --entities 2000 --relations 20000  # smoke

Builds a fresh embedded store (temporary file) holding ``--entities`` entities in planted
groups of ``--group-size`` and ``--relations`` SVO relations (80 % inside a group), written
as documents of 1,000 relations each (no models: no embeddings, one chunk per document).
Then times each stage of the analysis separately (read relations, rank + cluster, read
names, save) and once more end to end through ``analyze_graph``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrag.analyze.graph_analysis import (  # noqa: E402
    analyze_graph,
    make_communities,
    named_ids,
    rank_and_cluster,
    support_ids,
)
from graphrag.ids import chunk_id, content_hash, document_id, relation_id  # noqa: E402
from graphrag.models import (  # noqa: E402
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Evidence,
    Relation,
    RelationKind,
)
from graphrag.stores.embedded import EmbeddedGraphStore  # noqa: E402

PER_DOCUMENT = 1000


def synthetic_graphs(n_entities: int, n_relations: int, group_size: int) -> list[DocumentGraph]:
    """Documents whose relations form planted groups (deterministic)."""
    rng = random.Random(0)
    seen: set[str] = set()
    graphs: list[DocumentGraph] = []
    pairs: dict[tuple[int, int], None] = {}
    while len(pairs) < n_relations:
        a = rng.randrange(n_entities)
        if rng.random() < 0.8:
            base = a - a % group_size
            b = base + rng.randrange(min(group_size, n_entities - base))
        else:
            b = rng.randrange(n_entities)
        if a != b:
            pairs[(a, b)] = None
    ordered = list(pairs)
    for start in range(0, len(ordered), PER_DOCUMENT):
        source = f"synthetic/{start // PER_DOCUMENT}"
        doc_id = document_id(source)
        text = f"synthetic document {start}"
        chunk = Chunk(
            id=chunk_id(doc_id, 0), document_id=doc_id, ordinal=0, text=text,
            start=0, end=len(text), token_count=3,
        )  # fmt: skip
        entities: dict[str, Entity] = {}
        relations: list[Relation] = []
        for a, b in ordered[start : start + PER_DOCUMENT]:
            ids = [f"e_{a:08d}", f"e_{b:08d}"]
            for i, eid in zip((a, b), ids, strict=True):
                if eid not in seen:
                    seen.add(eid)
                    entities[eid] = Entity(id=eid, name=f"Entity {i}", type="ENTITY")
            weight = round(rng.uniform(0.5, 3.0), 3)
            relations.append(
                Relation(
                    id=relation_id(ids[0], "link", ids[1]), source_id=ids[0], target_id=ids[1],
                    predicate="link", kind=RelationKind.SVO, weight=weight,
                    evidence=[Evidence(chunk_id=chunk.id, sentence="", weight=weight)],
                )
            )  # fmt: skip
        document = Document(
            id=doc_id, source=source, title=source, mime="text/plain",
            content_hash=content_hash(text), text=text,
        )  # fmt: skip
        graphs.append(
            DocumentGraph(
                document=document, chunks=[chunk], entities=list(entities.values()),
                relations=relations,
            )
        )  # fmt: skip
    return graphs


async def stages(store: EmbeddedGraphStore) -> dict[str, float]:
    """Seconds per analysis stage, run one by one."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    relations = await store.all_relations()
    timings["read_relations"] = time.perf_counter() - t
    t = time.perf_counter()
    clusters = await asyncio.to_thread(
        rank_and_cluster, relations, resolution=1.0, seed=42, min_community_size=2
    )
    timings["rank_and_cluster"] = time.perf_counter() - t
    t = time.perf_counter()
    entities = {e.id: e for e in await store.get_entities(named_ids(clusters))}
    chunks = {c.id: c for c in await store.get_chunks(support_ids(clusters))}
    communities, _ = make_communities(clusters, entities, chunks)
    timings["names_and_summaries"] = time.perf_counter() - t
    t = time.perf_counter()
    await store.save_analysis(clusters.ranks, communities)
    timings["save_analysis"] = time.perf_counter() - t
    t = time.perf_counter()
    await store.list_communities()
    timings["list_communities"] = time.perf_counter() - t
    return timings


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Build the store, time the stages and the whole analysis."""
    with tempfile.TemporaryDirectory() as folder:
        store = EmbeddedGraphStore(Path(folder) / "graph.db")
        await store.ensure_schema(embedding_model="none", dim=4)
        t = time.perf_counter()
        graphs = synthetic_graphs(args.entities, args.relations, args.group_size)
        await store.upsert_documents(graphs)
        load = time.perf_counter() - t
        timings = await stages(store)
        report = await analyze_graph(store)
        stats = await store.stats()
        await store.close()
    return {
        "entities": stats.entities,
        "relations": stats.relations,
        "communities": report.communities,
        "load_seconds": round(load, 2),
        "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
        "analyze_graph_seconds": round(report.seconds, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--relations", type=int, default=200_000)
    parser.add_argument("--group-size", type=int, default=100)
    result = asyncio.run(main(parser.parse_args()))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
