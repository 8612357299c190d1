"""Communities on ArangoDB without a server: the document mapping, the analysis transaction
(which records ``meta/analysis``), and the store methods the ``global`` mode calls. The
behaviour against a server is in tests/contract/test_store_communities.py (run with
GRAPHRAG_ARANGO__URL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.models import Community
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango import names as n
from graphrag.stores.arango.analysis import (
    ANALYSIS_COLLECTIONS,
    community_payload,
    community_to_doc,
    doc_to_community,
    doc_to_state,
    write_analysis,
)
from graphrag.stores.arango.queries import AQL_DIR, Queries

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


def test_a_community_maps_to_a_document_with_its_chunk_ids_and_back() -> None:
    doc = community_to_doc(COMMUNITY)

    assert doc["_key"] == "k_1"
    assert (doc["size"], doc["chunk_ids"]) == (2, ["c_2", "c_1"])
    assert doc["embedding"] == pytest.approx([0.6, 0.8, 0.0, 0.0])
    back = doc_to_community({**doc, "member_ids": ["e_a", "e_b"]})
    assert back.chunk_ids == ["c_2", "c_1"]
    assert back.member_ids == ["e_a", "e_b"]
    assert np.allclose(back.embedding, COMMUNITY.embedding)
    older = doc_to_community({"_key": "k_0", "level": 0, "ordinal": 0, "title": "t"})
    assert (older.chunk_ids, older.embedding, older.summary) == ([], None, None)


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


class _Cursor(list[Any]):
    pass


class _Txn:
    """A stream transaction that records its queries and answers with canned rows."""

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rows = rows
        self.committed = False
        self.aql = self
        self.transaction_id = "t1"
        self.texts = {p.stem: p.read_text() for p in AQL_DIR.glob("*.aql")}

    def execute(self, query: str, *, bind_vars: dict[str, Any], batch_size: int) -> _Cursor:
        name = next(k for k, v in self.texts.items() if v == query)
        self.calls.append((name, dict(bind_vars)))
        return _Cursor(self.rows.get(name, [{}]))

    def commit_transaction(self) -> None:
        self.committed = True

    def abort_transaction(self) -> None:
        raise AssertionError("aborted")


class _Db:
    def __init__(self, txn: _Txn) -> None:
        self.txn = txn
        self.write: list[str] = []

    def begin_transaction(self, *, write: list[str]) -> _Txn:
        self.write = write
        return self.txn


def test_the_analysis_transaction_records_the_save_in_meta() -> None:
    rows = {"insert_communities": [{"inserted": 2}]}
    txn = _Txn(rows)
    db = _Db(txn)
    bare = COMMUNITY.model_copy(update={"id": "k_2", "embedding": None})
    payload = community_payload([COMMUNITY, bare], dim=4)

    write_analysis(db, Queries(), [], payload, batch_size=100)  # type: ignore[arg-type]

    assert txn.committed
    assert db.write == list(ANALYSIS_COLLECTIONS)
    assert n.META in db.write
    names = [name for name, _ in txn.calls]
    assert names[-1] == "save_analysis_state"
    binds = txn.calls[-1][1]
    assert binds["key"] == n.ANALYSIS_KEY == "analysis"
    assert (binds["state"]["communities"], binds["state"]["embedded"]) == (2, 1)
    assert datetime.fromisoformat(binds["state"]["analyzed_at"]).tzinfo is not None


class _Conn:
    """Runs store operations against one recording database."""

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        self.db = _Txn(rows)
        self.url = "http://db:8529"

    async def run(self, operation: str, fn: Any, **options: Any) -> Any:
        return fn(self.db)


def _store(rows: dict[str, list[Any]]) -> tuple[ArangoGraphStore, _Conn]:
    store = ArangoGraphStore(SETTINGS)
    conn = _Conn(rows)
    store._conn = conn  # type: ignore[assignment]
    store._dim = 4
    return store, conn


async def test_get_communities_keeps_the_order_asked_and_skips_invalid_keys() -> None:
    docs = [
        {**community_to_doc(COMMUNITY.model_copy(update={"id": i})), "member_ids": ["e_a"]}
        for i in ("k_2", "k_1")
    ]
    store, conn = _store({"get_communities": docs})

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
    store, conn = _store({"list_entity_communities": rows})

    found = await store.communities_of(["e_a", "e_b", "e_c"])

    assert found == {"e_a": ["k_1", "k_7"], "e_b": ["k_1"]}
    assert conn.db.calls == [("list_entity_communities", {"keys": ["e_a", "e_b", "e_c"]})]


async def test_analysis_state_reads_meta_with_every_document_status() -> None:
    row = {"analyzed_at": "2026-12-07T16:00:00+00:00", "communities": 3, "embedded": 3}
    store, conn = _store({"get_analysis_state": [{**row, "stale": False}]})

    state = await store.analysis_state()

    assert state is not None
    assert (state.communities, state.stale) == (3, False)
    [(name, binds)] = conn.db.calls
    assert name == "get_analysis_state"
    assert binds == {"key": "analysis", "statuses": ["pending", "processing", "done", "failed"]}
    empty, _ = _store({"get_analysis_state": []})
    assert await empty.analysis_state() is None


async def test_vector_search_over_communities_is_an_exact_scan() -> None:
    store, conn = _store({"search_communities_exact": [{"id": "k_1", "score": 0.9}]})
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
    assert "UPSERT { _key: @key }" in saved
