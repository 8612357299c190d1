"""Communities on ArangoDB without a server: the document mapping (generation keys), the
validation of an analysis, the record of a save (``analysis/current``), and the store methods
the ``global`` mode calls. The save protocol is in test_generations.py; the behaviour against
a server in tests/contract/test_store_communities.py (run with GRAPHRAG_ARANGO__URL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError
from graphrag.models import Community
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango import names as n
from graphrag.stores.arango.analysis import (
    analysis_plan,
    community_payload,
    community_to_doc,
    doc_to_community,
    doc_to_state,
)
from graphrag.stores.arango.generations import key_room, rank_payload
from graphrag.stores.arango.queries import AQL_DIR
from tests.unit.stores.arango.fake_analysis_db import AnalysisDb

SETTINGS = ArangoSettings(url="http://127.0.0.1:1", password=SecretStr("x"), retries=0)

COMMUNITY = Community(
    id="k_1",
    level=0,
    ordinal=3,
    member_ids=["e_a", "e_b", "e_a"],
    title="A, B",
    summary="Extractive summary: 2 entities.",
    chunk_ids=["c_2", "c_1", "c_2"],
    embedding=np.array([0.6, 0.8, 0.0, 0.0], dtype=np.float32),
)


def test_a_community_maps_to_a_document_keyed_by_generation_and_back() -> None:
    doc = community_to_doc(COMMUNITY, "g1")

    assert (doc["_key"], doc["id"], doc["generation"]) == ("g1_k_1", "k_1", "g1")
    assert (doc["size"], doc["chunk_ids"]) == (2, ["c_2", "c_1"])
    assert doc["embedding"] == pytest.approx([0.6, 0.8, 0.0, 0.0])
    row = {k: v for k, v in doc.items() if k not in ("_key", "generation")}  # as readers return
    back = doc_to_community({**row, "member_ids": ["e_a", "e_b"]})
    assert back.id == "k_1"
    assert back.chunk_ids == ["c_2", "c_1"]
    assert back.member_ids == ["e_a", "e_b"]
    assert np.allclose(back.embedding, COMMUNITY.embedding)
    older = doc_to_community({"_key": "k_0", "level": 0, "ordinal": 0, "title": "t"})
    assert (older.id, older.chunk_ids, older.embedding, older.summary) == ("k_0", [], None, None)


def test_members_become_edge_items_keyed_by_generation_and_position() -> None:
    bare = COMMUNITY.model_copy(update={"id": "k_2", "member_ids": ["e_c", "bad key!"]})
    docs, members = community_payload([COMMUNITY, bare], dim=4, generation="g1")

    assert [d["_key"] for d in docs] == ["g1_k_1", "g1_k_2"]
    assert members == [
        {"entity": "e_a", "community": "k_1", "position": 0, "key": "g1_0"},
        {"entity": "e_b", "community": "k_1", "position": 1, "key": "g1_1"},
        {"entity": "e_c", "community": "k_2", "position": 0, "key": "g1_2"},
    ]


@pytest.mark.parametrize(
    ("communities", "problem"),
    [
        ([COMMUNITY, COMMUNITY], "appears twice"),
        ([COMMUNITY.model_copy(update={"id": "k" * 240})], "over the 232"),
        ([COMMUNITY.model_copy(update={"id": "a/b"})], "not a valid ArangoDB key"),
        ([COMMUNITY.model_copy(update={"embedding": np.ones(3)})], "3-d embedding"),
    ],
    ids=["repeated", "too-long", "invalid", "dimension"],
)
def test_an_invalid_analysis_is_refused_before_anything_is_written(
    communities: list[Community], problem: str
) -> None:
    with pytest.raises(StoreQueryError, match=problem):
        analysis_plan({}, communities, dim=4, batch_size=10)
    with pytest.raises(StoreQueryError, match="finite"):
        analysis_plan({"e_a": float("nan")}, [], dim=4, batch_size=10)


def test_ranks_of_keys_too_long_for_a_generation_key_are_left_out() -> None:
    generation = "g20260102030405abcdef"
    assert key_room(generation) == 254 - 22 == 232
    items = [{"key": "e_a", "rank": 0.5}, {"key": "e" * 233, "rank": 0.1}]
    assert rank_payload(items, generation) == [{"key": "e_a", "rank": 0.5}]


def test_the_analysis_state_row_maps_to_a_model() -> None:
    state = doc_to_state(
        {
            "analyzed_at": "2026-12-07T16:24:48.337679+00:00",
            "communities": 804,
            "embedded": 800,
            "stale": True,
        }
    )

    assert state.analyzed_at == datetime(2026, 12, 7, 16, 24, 48, 337679, tzinfo=UTC)
    assert (state.communities, state.embedded, state.stale) == (804, 800, True)


async def test_the_switch_records_the_save_in_analysis_current() -> None:
    db = AnalysisDb(["e_a", "e_b"])
    store, _ = _store(db)
    bare = COMMUNITY.model_copy(update={"id": "k_2", "embedding": None})

    await store.save_analysis({"e_a": 0.5}, [COMMUNITY, bare])

    [(_, binds)] = [(name, b) for name, b in db.calls if name == "save_analysis_state"]
    state = binds["state"]
    assert (state["communities"], state["embedded"]) == (2, 1)
    assert datetime.fromisoformat(state["analyzed_at"]).tzinfo is not None
    record = db.data["analysis"]["current"]
    assert record["generation"] == binds["generation"]
    assert (record["documents"], record["entities"]) == (1, 2)
    found = await store.analysis_state()
    assert found is not None
    assert (found.communities, found.embedded, found.stale) == (2, 1, False)


class _Conn:
    """Runs store operations against one recording database."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.url = "http://db:8529"

    async def run(self, operation: str, fn: Any, **options: Any) -> Any:
        return fn(self.db)


class _Rows:
    """Answers each query with canned rows and records (file, binds)."""

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        self.rows = rows
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.aql = self
        self.texts = {p.stem: p.read_text() for p in AQL_DIR.glob("*.aql")}

    def execute(self, query: str, *, bind_vars: dict[str, Any], batch_size: int) -> list[Any]:
        name = next(k for k, v in self.texts.items() if v == query)
        self.calls.append((name, dict(bind_vars)))
        return self.rows.get(name, [{}])


def _store(db: Any) -> tuple[ArangoGraphStore, _Conn]:
    store = ArangoGraphStore(SETTINGS)
    conn = _Conn(db)
    store._conn = conn  # type: ignore[assignment]
    store._dim = 4
    return store, conn


def _canned(rows: dict[str, list[Any]]) -> tuple[ArangoGraphStore, _Conn]:
    return _store(_Rows(rows))


async def test_get_communities_keeps_the_order_asked_and_skips_invalid_keys() -> None:
    docs = [
        {**community_to_doc(COMMUNITY.model_copy(update={"id": i}), "g1"), "member_ids": ["e_a"]}
        for i in ("k_2", "k_1")
    ]
    store, conn = _canned({"get_communities": docs})

    found = await store.get_communities(["k_1", "bad key!", "k_9", "k_2"])

    assert [c.id for c in found] == ["k_1", "k_2"]
    assert conn.db.calls == [("get_communities", {"keys": ["k_1", "k_9", "k_2"]})]
    assert await store.get_communities(["bad key!"]) == []


async def test_communities_of_groups_the_rows_by_entity() -> None:
    rows = [
        {"entity": "e_a", "community": "k_1"},
        {"entity": "e_b", "community": "k_1"},
        {"entity": "e_a", "community": "k_7"},
    ]
    store, conn = _canned({"list_entity_communities": rows})

    found = await store.communities_of(["e_a", "e_b", "e_c"])

    assert found == {"e_a": ["k_1", "k_7"], "e_b": ["k_1"]}
    assert conn.db.calls == [("list_entity_communities", {"keys": ["e_a", "e_b", "e_c"]})]


async def test_analysis_state_reads_the_record_with_every_document_status() -> None:
    row = {"analyzed_at": "2026-12-07T16:00:00+00:00", "communities": 3, "embedded": 3}
    store, conn = _canned({"get_analysis_state": [{**row, "stale": False}]})

    state = await store.analysis_state()

    assert state is not None
    assert (state.communities, state.stale) == (3, False)
    [(name, binds)] = conn.db.calls
    assert name == "get_analysis_state"
    assert binds == {"statuses": ["pending", "processing", "done", "failed"]}
    empty, _ = _canned({"get_analysis_state": []})
    assert await empty.analysis_state() is None


async def test_vector_search_over_communities_is_an_exact_scan() -> None:
    store, conn = _canned({"search_communities_exact": [{"id": "k_1", "score": 0.9}]})
    store._vectors._modes = {n.CHUNKS: True, n.ENTITIES: True, n.KEYS: True}

    hits = await store.vector_search("communities", np.array([1.0, 0.0, 0.0, 0.0]), 3)

    assert [(h.id, h.score) for h in hits] == [("k_1", 0.9)]
    [(name, binds)] = conn.db.calls
    assert name == "search_communities_exact"
    assert binds["k"] == 3


def test_the_staleness_query_uses_counts_and_the_status_index() -> None:
    text = (AQL_DIR / "get_analysis_state.aql").read_text()
    assert "d.status IN @statuses AND d.updated_at > state.analyzed_at" in text
    assert "LENGTH(documents) != state.documents" in text
    assert "LENGTH(entities) != state.entities" in text
    saved = (AQL_DIR / "save_analysis_state.aql").read_text()
    assert "documents: LENGTH(documents), entities: LENGTH(entities)" in saved
    assert '_key: "current",' in saved
