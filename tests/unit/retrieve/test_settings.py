"""Retrieval settings: every ranking knob is a validated setting that takes effect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from graphrag.config import RetrievalSettings, load_settings
from graphrag.errors import ConfigError
from graphrag.models import Subgraph
from graphrag.retrieve.modes import RetrievalService
from graphrag.stores.embedded import EmbeddedGraphStore
from tests.unit.retrieve.test_modes import CHAIN_QUESTION, build_graphs, open_store

KNOBS = {
    "link_threshold": 0.6,
    "degree_cap": 10,
    "local_dense_weight": 0.7,
    "hybrid_fusion": "minmax",
    "hybrid_dense_weight": 0.6,
    "hybrid_bm25_weight": 0.25,
    "hybrid_graph_weight": 0.15,
    "rrf_k": 60,
    "ppr_damping": 0.5,
    "ppr_temperature": 0.02,
    "ppr_dense_weight": 0.5,
    "ppr_dense_candidates": 50,
    "ppr_expand_mass": 0.999,
    "ppr_relation_weight": 0.0,
    "ppr_rerank_temperature": 0.15,
    "ppr_rerank_candidates": 200,
    "ppr_max_iterations": 30,
    "ppr_context_entities": 10,
    "global_communities": 5,
    "global_member_weight": 0.3,
}


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder so no developer's .env is read."""
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = RetrievalSettings()
    assert {name: getattr(settings, name) for name in KNOBS} == KNOBS
    assert settings.hybrid_weights == (0.6, 0.25, 0.15)
    assert settings.local_weights == pytest.approx((0.7, 0.3))


def test_knobs_come_from_the_environment_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__HYBRID_FUSION", "rrf")
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__PPR_RELATION_WEIGHT", "0.25")
    config = tmp_path / "tuned.toml"
    config.write_text("[retrieval]\nlink_threshold = 0.7\nrrf_k = 20\n", encoding="utf-8")
    retrieval = load_settings(config).retrieval
    assert retrieval.hybrid_fusion == "rrf"
    assert retrieval.ppr_relation_weight == 0.25
    assert (retrieval.link_threshold, retrieval.rrf_k) == (0.7, 20)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GRAPHRAG_RETRIEVAL__HYBRID_FUSION", "max"),
        ("GRAPHRAG_RETRIEVAL__LINK_THRESHOLD", "1.5"),
        ("GRAPHRAG_RETRIEVAL__PPR_DAMPING", "1"),
        ("GRAPHRAG_RETRIEVAL__PPR_EXPAND_MASS", "0"),
        ("GRAPHRAG_RETRIEVAL__PPR_MAX_ITERATIONS", "0"),
        ("GRAPHRAG_RETRIEVAL__RRF_K", "0"),
    ],
)
def test_out_of_range_knobs_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_all_hybrid_weights_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DENSE", "BM25", "GRAPH"):
        monkeypatch.setenv(f"GRAPHRAG_RETRIEVAL__HYBRID_{name}_WEIGHT", "0")
    with pytest.raises(ConfigError, match="give at least one list a positive weight"):
        load_settings()


class SubgraphSpy(EmbeddedGraphStore):
    """The embedded store, recording whether ``subgraph`` was asked for relations."""

    include_relations: list[bool]

    async def subgraph(
        self,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        *,
        degree_cap: int,
        include_relations: bool = True,
    ) -> Subgraph:
        self.include_relations.append(include_relations)
        return await super().subgraph(
            chunk_ids, entity_ids, degree_cap=degree_cap, include_relations=include_relations
        )


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> AsyncIterator[EmbeddedGraphStore]:
    store = await open_store(tmp_path / "graph.db", hash_embedder)
    yield store
    await store.close()


async def test_ppr_knobs_take_effect(tmp_path: Path, hash_embedder: Any) -> None:
    spy = SubgraphSpy(tmp_path / "spy.db")
    spy.include_relations = []
    try:
        await spy.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
        await spy.upsert_documents(await build_graphs(hash_embedder))
        plain = RetrievalService(spy, hash_embedder, RetrievalSettings(), None)
        default = await plain.retrieve(CHAIN_QUESTION, mode="ppr", top_k=3)
        walked = RetrievalSettings(ppr_relation_weight=1.0, ppr_context_entities=2)
        service = RetrievalService(spy, hash_embedder, walked, None)
        context = await service.retrieve(CHAIN_QUESTION, mode="ppr", top_k=3)
    finally:
        await spy.close()
    assert spy.include_relations == [False, True]  # relations are read only when walked
    assert len(context.entities) == 2 < len(default.entities)


async def test_rrf_k_and_local_weight_take_effect(
    store: EmbeddedGraphStore, hash_embedder: Any
) -> None:
    def service(**values: Any) -> RetrievalService:
        return RetrievalService(store, hash_embedder, RetrievalSettings(**values), None)

    rrf = await service(hybrid_fusion="rrf").retrieve(CHAIN_QUESTION, mode="hybrid")
    flat = await service(hybrid_fusion="rrf", rrf_k=1000).retrieve(CHAIN_QUESTION, mode="hybrid")
    assert rrf.chunks[0].score > flat.chunks[0].score  # score = sum of w / (k + rank)
    dense = await service(local_dense_weight=1.0).retrieve(CHAIN_QUESTION, mode="local")
    naive = await service().retrieve(CHAIN_QUESTION, mode="naive")
    assert dense.chunks[0].id == naive.chunks[0].id  # the graph list has no weight
