"""The graph analysis saved by generation, without a server.

The store's save runs against :class:`~tests.unit.stores.arango.fake_analysis_db.AnalysisDb`,
which applies what each analysis AQL file does to in-memory collections: the statements run
in batches, the switch comes last and cleanup after it; a failure before the switch leaves
the previous analysis readable, and the next analysis removes the orphaned generation; a
store analysed by schema version 3 is read until its first new analysis. The AQL texts are
checked for the generation filters and guards the fake assumes.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, cast

import pytest
from arango.database import StandardDatabase  # noqa: TID251
from arango.exceptions import AQLQueryExecuteError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError, StoreUnavailableError
from graphrag.models import Community
from graphrag.stores.arango import ArangoGraphStore, retry
from graphrag.stores.arango import names as n
from graphrag.stores.arango.analysis import analysis_plan
from graphrag.stores.arango.generations import (
    LEASE_SECONDS,
    Lease,
    query_switch,
    save_generation,
    switch,
)
from graphrag.stores.arango.indexes import PERSISTENT_INDEXES, persistent_index_definition
from graphrag.stores.arango.queries import AQL_DIR, Queries
from graphrag.stores.arango.retry import ConflictPolicy
from graphrag.stores.arango.schema import ensure_objects
from tests.unit.stores.arango.fake_analysis_db import AnalysisDb

ENTITIES = ["e_a", "e_b", "e_c", "e_d", "e_e"]
SETTINGS = ArangoSettings(
    url="http://127.0.0.1:1", password=SecretStr("x"), retries=0, batch_size=2
)


def community(name: str, members: list[str], ordinal: int = 0) -> Community:
    return Community(id=f"k_{name}", level=0, ordinal=ordinal, member_ids=members, title=name)


FIRST = ({"e_a": 0.5, "e_b": 0.25, "e_c": 0.125}, [community("one", ["e_a", "e_b", "e_c"])])
SECOND = (
    {"e_d": 0.75, "e_e": 0.5, "e_zz": 0.1},
    [community("two", ["e_d", "e_e", "e_zz"]), community("three", ["e_a"], 1)],
)


class _Conn:
    def __init__(self, db: AnalysisDb) -> None:
        self.db = db
        self.options: list[dict[str, Any]] = []
        self.url = "http://db:8529"

    async def run(self, operation: str, fn: Any, **options: Any) -> Any:
        self.options.append(options)
        return fn(self.db)


def _store(db: AnalysisDb) -> tuple[ArangoGraphStore, _Conn]:
    store = ArangoGraphStore(SETTINGS)
    conn = _Conn(db)
    store._conn = conn  # type: ignore[assignment]
    store._dim = 4
    return store, conn


async def _ranks(store: ArangoGraphStore) -> dict[str, float | None]:
    return {e.id: e.rank for e in await store.get_entities(ENTITIES)}


async def _view(store: ArangoGraphStore) -> tuple[Any, ...]:
    """What readers see: ranks, communities with members, membership, the record."""
    state = await store.analysis_state()
    return (
        await _ranks(store),
        [(c.id, c.member_ids) for c in await store.list_communities()],
        await store.communities_of(ENTITIES),
        None if state is None else state.communities,
    )


def server_error(code: int, status: int = 409) -> AQLQueryExecuteError:
    response = Response("post", "http://fake:8529/_api/cursor", {}, status, "Error", "{}")
    response.error_code, response.error_message = code, f"error {code}"
    return AQLQueryExecuteError(response, Request(method="post", endpoint="/_api/cursor"))


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "CONFLICT_POLICY", ConflictPolicy(base_delay=0.0, max_delay=0.0))


# --------------------------------------------------------------------------- the sequence


async def test_a_save_writes_batches_then_switches_then_removes_the_previous_generation() -> None:
    db = AnalysisDb(ENTITIES)
    store, conn = _store(db)
    await store.save_analysis(*FIRST)
    first = db.current
    assert first is not None
    db.calls.clear()

    await store.save_analysis(*SECOND)

    second = db.current
    assert second is not None
    assert second["generation"] != first["generation"]
    assert second["previous"] == first["generation"]
    assert db.names() == [
        "acquire_analysis_lease",
        "list_analysis_generations",
        "save_entity_ranks", "save_entity_ranks",  # 3 ranks, batches of 2
        "insert_communities",
        "insert_community_members", "insert_community_members",
        "save_analysis_state",  # the switch, after every write
        "remove_analysis_generation", "remove_analysis_generation",  # then the old one
    ]  # fmt: skip
    new = second["generation"]
    for name, binds in db.calls[2:7]:
        assert binds.get("generation", new) == new, name
    assert all(d["generation"] == new for d in db.calls[4][1]["communities"])
    assert [b["generation"] for _, b in db.calls[-2:]] == [first["generation"]] * 2
    assert db.generations() == {new}
    assert all(not options.get("admin") for options in conn.options)  # runs as the writer
    assert await _view(store) == (
        {"e_a": None, "e_b": None, "e_c": None, "e_d": 0.75, "e_e": 0.5},
        [("k_two", ["e_d", "e_e"]), ("k_three", ["e_a"])],
        {"e_a": ["k_three"], "e_d": ["k_two"], "e_e": ["k_two"]},
        2,
    )
    assert [c.id for c in await store.get_communities(["k_three", "k_one", "k_two"])] == [
        "k_three",
        "k_two",
    ]


async def test_keys_carry_the_generation_and_batches_can_run_again() -> None:
    db = AnalysisDb(ENTITIES)
    plan = analysis_plan(*SECOND, dim=4, batch_size=2)
    gen = plan.generation
    assert re.fullmatch(r"g\d{14}[0-9a-f]{6}", gen)
    assert [d["_key"] for d in plan.communities] == [f"{gen}_k_two", f"{gen}_k_three"]
    assert [m["key"] for m in plan.members] == [f"{gen}_{i}" for i in range(4)]
    lease = Lease(Queries(), gen)
    db.fail[("insert_community_members", 2)] = server_error(1200)  # a conflict: run it again

    save_generation(cast(StandardDatabase, db), Queries(), plan, lease)

    assert db.names().count("insert_community_members") == 3
    assert sorted(db.data["member_of"]) == [f"{gen}_{i}" for i in (0, 1, 3)]  # 2: e_zz
    assert sorted(db.data["entity_ranks"]) == [f"{gen}_e_d", f"{gen}_e_e"]


# --------------------------------------------------------------------------- failures


async def test_a_failure_before_the_switch_leaves_the_previous_analysis_readable() -> None:
    db = AnalysisDb(ENTITIES)
    store, _ = _store(db)
    await store.save_analysis(*FIRST)
    before = await _view(store)
    first = db.current
    db.calls.clear()  # fail and after count the calls since
    db.fail[("insert_community_members", 2)] = StoreQueryError("the server went away")

    with pytest.raises(StoreQueryError, match="went away"):
        await store.save_analysis(*SECOND)

    assert db.current == first  # no switch
    assert await _view(store) == before
    assert len(db.generations()) == 2  # the orphaned generation is there, unread
    assert db.data["analysis"]["lease"]["generation"] is None  # released

    await store.save_analysis({"e_e": 0.9}, [community("four", ["e_e"])])

    assert db.generations() == {db.current["generation"]}  # type: ignore[index]
    assert await _view(store) == (
        {"e_a": None, "e_b": None, "e_c": None, "e_d": None, "e_e": 0.9},
        [("k_four", ["e_e"])],
        {"e_e": ["k_four"]},
        1,
    )


async def test_a_crashed_save_blocks_the_next_one_until_its_lease_expires() -> None:
    db = AnalysisDb(ENTITIES)
    store, _ = _store(db)
    await store.save_analysis(*FIRST)
    db.calls.clear()
    db.fail[("save_analysis_state", 1)] = RuntimeError("the process died")
    db.fail[("release_analysis_lease", 1)] = ConnectionError("and released nothing")
    with pytest.raises(RuntimeError, match="died"):
        await store.save_analysis(*SECOND)
    orphan = db.data["analysis"]["lease"]["generation"]
    assert orphan is not None
    assert orphan in db.generations()

    with pytest.raises(StoreUnavailableError, match="another analysis"):
        await store.save_analysis(*SECOND)
    assert db.current is not None
    assert db.current["generation"] != orphan

    db.now_ms += int(LEASE_SECONDS * 1000) + 1
    await store.save_analysis(*SECOND)

    assert db.generations() == {db.current["generation"]}
    assert orphan not in db.generations()


async def test_a_lost_lease_stops_the_save_before_its_switch() -> None:
    db = AnalysisDb(ENTITIES)
    store, _ = _store(db)
    await store.save_analysis(*FIRST)
    before = db.current
    plan = analysis_plan(*SECOND, dim=4, batch_size=1)
    ticks = iter(range(0, 10_000, 50))  # 50 s a tick: every batch renews (a third is 40 s)
    lease = Lease(Queries(), plan.generation, clock=lambda: float(next(ticks)))

    def take_over() -> None:  # another analysis after this one's lease expired
        db.data["analysis"]["lease"] = {"_key": "lease", "generation": "gother", "expires": 10**12}

    db.after[("save_entity_ranks", 2)] = take_over
    db.calls.clear()

    with pytest.raises(StoreUnavailableError, match="expired and another analysis took it"):
        save_generation(cast(StandardDatabase, db), Queries(), plan, lease)

    assert db.names() == [
        "acquire_analysis_lease", "list_analysis_generations",
        "renew_analysis_lease", "save_entity_ranks",
        "renew_analysis_lease", "save_entity_ranks",
        "renew_analysis_lease",  # lost: no more writes, no switch
        "release_analysis_lease",  # not ours any more: nothing released
    ]  # fmt: skip
    assert db.current == before
    assert db.data["analysis"]["lease"]["generation"] == "gother"  # not released: not ours


def test_the_switch_needs_the_lease() -> None:
    db = AnalysisDb(ENTITIES)
    plan = analysis_plan(*FIRST, dim=4, batch_size=2)
    row = query_switch(Queries(), cast(StandardDatabase, db), plan.generation, {})
    assert row == {"switched": False, "previous": None}
    with pytest.raises(StoreUnavailableError, match="expired"):
        switch(cast(StandardDatabase, db), Queries(), plan, {"communities": 1})
    assert db.current is None


async def test_a_failed_cleanup_is_logged_and_done_by_the_next_analysis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = AnalysisDb(ENTITIES)
    store, _ = _store(db)
    await store.save_analysis(*FIRST)
    db.calls.clear()
    db.fail[("remove_analysis_generation", 1)] = server_error(1000, 500)

    await store.save_analysis(*SECOND)  # saved: the failure comes after the switch

    assert "removing the previous one failed" in caplog.text
    assert len(db.generations()) == 2
    assert (await _view(store))[1] == [("k_two", ["e_d", "e_e"]), ("k_three", ["e_a"])]
    await store.save_analysis({}, [])
    assert db.generations() == set()
    assert await _view(store) == (dict.fromkeys(ENTITIES), [], {}, 0)


# --------------------------------------------------------------------------- migration


def _legacy(db: AnalysisDb) -> None:
    """What schema version 3 stored: ranks on entities, ids as keys, meta/analysis."""
    db.data["entities"]["e_a"]["rank"] = 0.4
    db.data["communities"]["k_old"] = {"_key": "k_old", "level": 0, "ordinal": 0, "title": "old"}
    db.data["member_of"]["m1"] = {"_key": "m1", "_from": "entities/e_b",
                                  "_to": "communities/k_old", "position": 0}  # fmt: skip
    db.data["meta"]["analysis"] = {"_key": "analysis", "analyzed_at": "2026-01-01T00:00:00+00:00",
                                   "communities": 1, "embedded": 0, "documents": 1,
                                   "entities": len(ENTITIES)}  # fmt: skip


async def test_an_older_analysis_is_read_until_the_first_new_one_replaces_it() -> None:
    db = AnalysisDb(ENTITIES)
    _legacy(db)
    store, _ = _store(db)
    assert await _view(store) == (
        {"e_a": 0.4, "e_b": None, "e_c": None, "e_d": None, "e_e": None},
        [("k_old", ["e_b"])],
        {"e_b": ["k_old"]},
        1,
    )
    assert [c.id for c in await store.get_communities(["k_old"])] == ["k_old"]
    db.fail[("save_entity_ranks", 1)] = StoreQueryError("boom")
    with pytest.raises(StoreQueryError):
        await store.save_analysis(*FIRST)
    assert (await _view(store))[1] == [("k_old", ["e_b"])]  # still the old one

    await store.save_analysis(*FIRST)

    assert None not in db.generations()  # old communities and edges removed
    assert "rank" not in db.data["entities"]["e_a"]  # the old rank attribute too
    assert db.names()[-2:] == ["list_ranked_entities", "clear_entity_ranks"]
    assert await _view(store) == (
        {"e_a": 0.5, "e_b": 0.25, "e_c": 0.125, "e_d": None, "e_e": None},
        [("k_one", ["e_a", "e_b", "e_c"])],
        {"e_a": ["k_one"], "e_b": ["k_one"], "e_c": ["k_one"]},
        1,
    )


class _Coll:
    def __init__(self, db: _V3Db, name: str) -> None:
        self.db, self.name = db, name

    def indexes(self) -> list[dict[str, Any]]:
        return [{"name": i} for i in self.db.indexes.get(self.name, [])]

    def add_index(self, data: dict[str, Any]) -> dict[str, Any]:
        self.db.indexes.setdefault(self.name, []).append(data["name"])
        self.db.added.append((self.name, data))
        return data

    def get(self, key: str) -> dict[str, Any] | None:
        return self.db.meta

    def update(self, doc: dict[str, Any], **_: Any) -> None:
        self.db.meta.update(doc)


class _V3Db:
    """A version 3 store: every collection and index but those of the generations (version
    4) and of the evidence collection (version 5)."""

    new: ClassVar = {n.ENTITY_RANKS, n.ANALYSIS, n.EVIDENCE}
    new_indexes: ClassVar = {"idx_entity_ranks_generation", "idx_communities_generation",
                             "idx_member_of_generation", "idx_evidence_relation",
                             "idx_evidence_chunk"}  # fmt: skip

    def __init__(self) -> None:
        self.names = [c for c in n.ALL_COLLECTIONS if c not in self.new]
        self.indexes: dict[str, list[str]] = {}
        for coll, name, _ in PERSISTENT_INDEXES:
            if name not in self.new_indexes:
                self.indexes.setdefault(coll, []).append(name)
        self.indexes[n.CHUNKS].append(n.CHUNKS_TEXT_INDEX)
        self.meta: dict[str, Any] = {"version": 3, "embedding_model": "m", "dim": 4}
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.added: list[tuple[str, dict[str, Any]]] = []
        self.queries: list[dict[str, Any]] = []
        owner = self

        class _Aql:
            def execute(self, text: str, bind_vars: dict[str, Any], **_: Any) -> list[int]:
                owner.queries.append(bind_vars)
                return [{"relations": 0, "entities": 0}]  # nothing left to convert

        self.aql = _Aql()

    def collections(self) -> list[dict[str, Any]]:
        return [{"name": c} for c in self.names]

    def create_collection(self, name: str, **options: Any) -> None:
        self.created.append((name, options))
        self.names.append(name)

    def has_graph(self, name: str) -> bool:
        return True

    def graph(self, name: str) -> Any:
        edges = [{"edge_collection": e} for e in n.EDGE_COLLECTIONS]
        return type("G", (), {"edge_definitions": lambda self: edges})()

    def collection(self, name: str) -> _Coll:
        return _Coll(self, name)

    def has_collection(self, name: str) -> bool:
        return name in self.names

    def views(self) -> list[dict[str, Any]]:
        return [{"name": n.CHUNKS_VIEW}]


def test_a_version_3_store_gets_the_analysis_collections_and_indexes_once() -> None:
    db = _V3Db()

    def ensure() -> dict[str, Any]:
        return ensure_objects(
            cast(StandardDatabase, db), SETTINGS, embedding_model="m", dim=4, where="t",
            version="3.12.12",
        )  # fmt: skip

    meta = ensure()

    assert db.created == [
        (n.ENTITY_RANKS, {"edge": False}), (n.ANALYSIS, {"edge": False}),
        (n.EVIDENCE, {"edge": False}),
    ]  # fmt: skip
    assert db.added == [
        (coll, persistent_index_definition(name, fields))
        for coll, name, fields in PERSISTENT_INDEXES
        if name in _V3Db.new_indexes
    ]
    assert [d["fields"] for _, d in db.added] == [
        ["relation", "chunk", "weight"], ["chunk"],
        ["generation", "rank"], ["generation", "level", "ordinal"], ["generation"],
    ]  # fmt: skip
    assert not any(d.get("sparse") for _, d in db.added)  # null generations must be found
    assert meta["version"] == n.SCHEMA_VERSION == 5
    assert db.queries == [  # provenance moved: one pass over both collections found nothing
        {"limit": 1000, "sample": n.PROVENANCE_SAMPLE, "after_relation": "", "after_entity": ""}
    ]
    db.created.clear()
    db.added.clear()
    db.queries.clear()
    ensure()
    assert (db.created, db.added, db.queries) == ([], [], [])


# --------------------------------------------------------------------------- the AQL


def _text(name: str) -> str:
    return (AQL_DIR / f"{name}.aql").read_text()


def _code(name: str) -> str:
    return "\n".join(line for line in _text(name).splitlines() if not line.startswith("//"))


CURRENT = f'DOCUMENT("{n.ANALYSIS}", "{n.CURRENT_ANALYSIS}")'


def test_every_reader_follows_the_current_generation() -> None:
    readers = {
        "list_communities": "FILTER com.generation == generation",
        "search_communities_exact": "FILTER com.generation == generation",
        "search_communities_exact_many": "FILTER com.generation == generation",
        "stats": "FILTER com.generation == generation",
        "list_entity_communities": "mo.generation == generation",
        "get_communities": "com.generation == current.generation",
        "get_entities": 'DOCUMENT("entity_ranks", CONCAT(current.generation, "_", ent._key))',
        "export_document": 'DOCUMENT("entity_ranks", CONCAT(current.generation, "_", ent._key))',
        "analyst/top_entities_by_rank": "FILTER r.generation == generation",
    }
    for name, condition in readers.items():
        code = _code(name)
        assert CURRENT in code, name
        assert condition in code, name
    assert "LET key = CONCAT(prefix, k)" in _code("get_communities")  # <generation>_<id> keys
    state = _code("get_analysis_state")
    assert CURRENT in state
    assert f'DOCUMENT("meta", "{n.ANALYSIS_KEY}")' in state
    for name in ("list_communities", "get_communities", "list_entity_communities"):
        assert "NOT_NULL(com.id, com._key)" in _code(name), name


def test_the_writes_are_idempotent_batches_and_the_switch_is_guarded() -> None:
    for name in ("save_entity_ranks", "insert_communities", "insert_community_members"):
        assert 'OPTIONS { overwriteMode: "ignore" }' in _code(name), name
    assert '_key: CONCAT(@generation, "_", item.key)' in _code("save_entity_ranks")
    switch_code = _code("save_analysis_state")
    assert f'DOCUMENT("{n.ANALYSIS}", "{n.ANALYSIS_LEASE}")' in switch_code
    assert "LET held = lease != null AND lease.generation == @generation" in switch_code
    assert 'FOR doc IN (held ? [record, { _key: "lease", generation: null' in switch_code
    assert 'OPTIONS { overwriteMode: "replace", exclusive: true }' in switch_code
    assert switch_code.count("INSERT") == 1  # one operation on analysis
    removal = _code("remove_analysis_generation")
    assert f"LET allowed = @generation != {CURRENT}.generation" in removal
    assert removal.count("AND allowed") == 3
    assert removal.count("LIMIT @limit") == 3
    assert "OPTIONS { exclusive: true }" in _code("acquire_analysis_lease")
    renew = _code("renew_analysis_lease")
    assert 'FILTER l._key == "lease" AND l.generation == @generation' in renew
    assert "UPSERT" not in renew  # a lost lease is never taken back
    assert "keepNull: false" in _code("clear_entity_ranks")


def test_deletes_remove_member_of_edges_of_every_generation() -> None:
    code = _code("delete_document")
    block = code[code.index("LET dead_members") :].split(")", 1)[0]
    assert "FILTER mo._from == oid" in block
    assert "generation" not in block
