"""Choice of the search method per collection, without a server.

A fake database answers index lists and AQL queries (by file); a fake clock drives the
re-check timer. Covered: a service started before the indexes were built picks them up on
the next re-check; a 1554/1555 error falls back to exact scans for that query and reads the
index lists again; one collection's unusable index leaves the others approximate, in
``candidates`` too (the mixed files); BM25 never waits for the view unless asked (tests).
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from arango.database import Database  # noqa: TID251
from arango.exceptions import AQLQueryExecuteError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango.errors import ERR_VECTOR_INDEX_NOT_READY, ERR_VECTOR_SEARCH_NOT_APPLIED
from graphrag.stores.arango.queries import AQL_DIR, Queries
from graphrag.stores.arango.search import RECHECK_SECONDS, VectorSearch, by_score

Doc = dict[str, Any]
QUERIES = Queries()
BY_TEXT = {QUERIES.text(p.stem): p.stem for p in AQL_DIR.glob("*.aql")}
VEC = [0.5, 0.5, 0.5, 0.5]


def _aql_error(code: int) -> AQLQueryExecuteError:
    response = Response("post", "http://db:8529/_db/kg/_api/cursor", {}, 400, "x", "{}")
    response.error_code, response.error_message = code, "failed vector search"
    return AQLQueryExecuteError(response, Request(method="post", endpoint="/_api/cursor"))


def vector_index(index_id: str, state: str | None = "ready", name: str = "vec") -> Doc:
    index = {"id": index_id, "name": f"{name}_{index_id}", "type": "vector"}
    index["fields"] = ["embedding"]
    if state is not None:
        index["training_state"] = state  # python-arango's formatted key
    return index


class _Coll:
    def __init__(self, db: FakeDb, name: str) -> None:
        self.db, self.name = db, name

    def indexes(self) -> list[Doc]:
        self.db.listed.append(self.name)
        return list(self.db.indexes.get(self.name, []))


class _Aql:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def execute(self, query: str, *, bind_vars: Doc, batch_size: int) -> list[Any]:
        name = BY_TEXT[query]
        self.db.ran.append((name, dict(bind_vars)))
        error = self.db.fail.get(name)
        if error is not None:
            raise _aql_error(error)
        return list(self.db.rows.get(name, [{"id": "x", "score": 1.0}]))


class FakeDb:
    def __init__(self, **indexes: list[Doc]) -> None:
        self.indexes = dict(indexes)
        self.listed: list[str] = []
        self.ran: list[tuple[str, Doc]] = []
        self.fail: dict[str, int] = {}
        self.rows: dict[str, list[Any]] = {}
        self.aql = _Aql(self)

    def collection(self, name: str) -> _Coll:
        return _Coll(self, name)

    def files(self) -> list[str]:
        return [name for name, _ in self.ran]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def search(clock: Clock, *, wait_for_sync: bool = False) -> VectorSearch:
    return VectorSearch(QUERIES, 16, "test", wait_for_sync=wait_for_sync, now=clock)


def _db(db: FakeDb) -> Database:
    return cast(Database, db)


# --------------------------------------------------------------------------- re-checks


def test_an_index_built_after_start_is_used_at_the_next_recheck() -> None:
    clock, db = Clock(), FakeDb()
    vs = search(clock)
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files() == ["search_chunks_exact"]

    db.indexes["chunks"] = [vector_index("7")]  # finalize_load in another process
    clock.t = RECHECK_SECONDS - 1
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files()[-1] == "search_chunks_exact"  # still trusted, not read again
    assert db.listed == ["chunks"]

    clock.t = RECHECK_SECONDS
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files()[-1] == "search_chunks_vector"
    assert db.ran[-1][1] == {"query": VEC, "k": 3, "nprobe": 16}
    assert db.listed == ["chunks", "chunks"]


def test_an_index_still_training_is_not_used() -> None:
    clock = Clock()
    db = FakeDb(chunks=[vector_index("7", "training")], entities=[vector_index("8", None)])
    vs = search(clock)
    assert vs.modes(_db(db)) == {"chunks": False, "entities": True, "resolution_keys": False}


@pytest.mark.parametrize("code", [ERR_VECTOR_SEARCH_NOT_APPLIED, ERR_VECTOR_INDEX_NOT_READY])
def test_an_index_error_falls_back_for_one_collection_and_rechecks(code: int) -> None:
    clock = Clock()
    db = FakeDb(chunks=[vector_index("7")], entities=[vector_index("8")])
    vs = search(clock)
    db.fail["search_chunks_vector"] = code
    rows = vs.nearest(_db(db), "chunks", VEC, 3)
    assert rows == [{"id": "x", "score": 1.0}]
    assert db.files() == ["search_chunks_vector", "search_chunks_exact"]
    assert db.listed == ["chunks", "chunks"]  # read again right after the error

    # the list still shows index 7 ready: it is not trusted before the next re-check
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files()[-1] == "search_chunks_exact"
    # the other collection keeps its approximate search
    vs.nearest(_db(db), "entities", VEC, 3)
    assert db.files()[-1] == "search_entities_vector"

    del db.fail["search_chunks_vector"]  # the other process finished
    clock.t = RECHECK_SECONDS
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files()[-1] == "search_chunks_vector"


def test_after_an_error_a_swapped_in_index_is_used_at_once() -> None:
    clock = Clock()
    db = FakeDb(chunks=[vector_index("7")])
    vs = search(clock)
    assert vs.usable(_db(db), "chunks")
    db.indexes["chunks"] = [vector_index("9")]  # another process swapped 7 for 9
    db.fail["search_chunks_vector"] = ERR_VECTOR_SEARCH_NOT_APPLIED
    vs.nearest(_db(db), "chunks", VEC, 3)
    del db.fail["search_chunks_vector"]
    vs.nearest(_db(db), "chunks", VEC, 3)
    assert db.files() == ["search_chunks_vector", "search_chunks_exact", "search_chunks_vector"]


def test_other_errors_are_not_swallowed() -> None:
    db = FakeDb(chunks=[vector_index("7")])
    db.fail["search_chunks_vector"] = 1501  # a parse error
    with pytest.raises(AQLQueryExecuteError):
        search(Clock()).nearest(_db(db), "chunks", VEC, 3)


def test_communities_and_keys_by_default_are_scanned_exactly() -> None:
    db = FakeDb(resolution_keys=[vector_index("5")])
    vs = search(Clock())
    vs.nearest(_db(db), "communities", VEC, 3)
    vs.similar_keys(_db(db), [VEC], 5, 0.9)
    vs.similar_keys(_db(db), [VEC], 5, 0.9, approximate=True)
    assert db.files() == [
        "search_communities_exact",
        "search_keys_exact_many",
        "search_keys_vector_many",
    ]
    assert "communities" not in db.listed


def test_reset_forgets_the_states() -> None:
    clock, db = Clock(), FakeDb()
    vs = search(clock)
    assert not vs.usable(_db(db), "entities")
    db.indexes["entities"] = [vector_index("3")]
    vs.reset()  # e.g. after build_vector_indexes in this process
    assert vs.usable(_db(db), "entities")


# --------------------------------------------------------------------------- candidates


def _binds(k_chunks: int = 5, k_entities: int = 5, text: str = "radium") -> Doc:
    return {
        "query": VEC,
        "text": text,
        "k_chunks": k_chunks,
        "k_entities": k_entities,
        "seed_ids": [],
        "hops": 2,
        "degree_cap": 5,
        "max_entities": 10,
        "max_relations": 10,
        "graph": "kg",
    }


@pytest.mark.parametrize(
    ("chunks", "entities", "expected"),
    [
        (True, True, "retrieve_candidates"),
        (False, True, "retrieve_candidates_exact_chunks"),
        (True, False, "retrieve_candidates_exact_entities"),
        (False, False, "retrieve_candidates_exact"),
    ],
)
def test_candidates_use_each_collections_index_when_usable(
    chunks: bool, entities: bool, expected: str
) -> None:
    db = FakeDb(
        chunks=[vector_index("1")] if chunks else [],
        entities=[vector_index("2", "ready" if entities else "training")],
    )
    search(Clock()).candidates(_db(db), _binds())
    [(name, binds)] = db.ran
    assert name == expected
    wanted = set(_binds()) | ({"nprobe"} if chunks or entities else set())
    assert set(binds) == wanted
    assert binds.get("nprobe", 16) == 16


def test_a_collection_asked_for_nothing_is_not_approximate() -> None:
    db = FakeDb(chunks=[vector_index("1")], entities=[vector_index("2")])
    search(Clock()).candidates(_db(db), _binds(k_chunks=0))
    assert db.files() == ["retrieve_candidates_exact_chunks"]


def test_a_failed_candidates_query_falls_back_then_goes_mixed() -> None:
    clock = Clock()
    db = FakeDb(chunks=[vector_index("1")], entities=[vector_index("2")])
    vs = search(clock)
    assert vs.modes(_db(db))["entities"]  # both read as ready
    db.fail["retrieve_candidates"] = ERR_VECTOR_INDEX_NOT_READY
    db.indexes["entities"] = [vector_index("2", "training")]  # being rebuilt elsewhere
    vs.candidates(_db(db), _binds())
    vs.candidates(_db(db), _binds())
    assert db.files() == [
        "retrieve_candidates",
        "retrieve_candidates_exact",
        "retrieve_candidates_exact_entities",  # chunks keep their index
    ]


def test_bm25_rows_of_candidates_are_ordered_with_ties_by_id() -> None:
    db = FakeDb()
    db.rows["retrieve_candidates_exact"] = [
        {
            "bm25_chunks": [
                {"id": "c_2", "score": 1.0},
                {"id": "c_1", "score": 1.0},
                {"id": "c_3", "score": 2.0},
            ]
        }
    ]
    row = search(Clock()).candidates(_db(db), _binds())
    assert [r["id"] for r in row["bm25_chunks"]] == ["c_3", "c_1", "c_2"]


# --------------------------------------------------------------------------- BM25


def test_bm25_never_waits_for_the_view_by_default() -> None:
    db = FakeDb()
    db.rows["search_chunks_bm25"] = [{"id": "b", "score": 0.5}, {"id": "a", "score": 0.5}]
    vs = search(Clock())
    assert [r["id"] for r in vs.keyword(_db(db), "radium", 5)] == ["a", "b"]
    vs.candidates(_db(db), _binds())
    assert db.ran[0] == ("search_chunks_bm25", {"text": "radium", "k": 5})
    assert "sync_chunks_view" not in db.files()
    assert all("sync" not in binds for _, binds in db.ran)


def test_tests_can_ask_bm25_to_wait_for_the_view() -> None:
    db = FakeDb()
    vs = search(Clock(), wait_for_sync=True)
    vs.keyword(_db(db), "radium", 5)
    vs.candidates(_db(db), _binds())
    vs.candidates(_db(db), _binds(text=""))  # no BM25 part: no wait
    assert db.files() == [
        "sync_chunks_view",
        "search_chunks_bm25",
        "sync_chunks_view",
        "retrieve_candidates_exact",
        "retrieve_candidates_exact",
    ]


def test_the_store_does_not_wait_for_the_view_unless_told() -> None:
    settings = ArangoSettings(url="http://127.0.0.1:1", password=SecretStr("x"), retries=0)
    default = ArangoGraphStore(settings)
    for_tests = ArangoGraphStore(settings, wait_for_sync=True)
    assert default._vectors._wait_for_sync is False
    assert for_tests._vectors._wait_for_sync is True


def test_by_score_orders_best_first_then_by_id() -> None:
    rows = [{"id": "b", "score": 1}, {"id": "c", "score": 3}, {"id": "a", "score": 1}]
    assert [r["id"] for r in by_score(rows)] == ["c", "a", "b"]
