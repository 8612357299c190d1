"""Jobs and API keys on ArangoDB, without a server: schema v3 (collections, index
definitions and the upgrade of a v2 store), the AQL, the document mapping and the handling
of write collisions. The behaviour against a server is in tests/contract/test_store_records.py
(run with GRAPHRAG_ARANGO__URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from arango.exceptions import AQLQueryExecuteError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError, StoreUnavailableError
from graphrag.records import ApiKeyRecord, Job, JobFile
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango import names as n
from graphrag.stores.arango.errors import ERR_CONFLICT, ERR_UNIQUE_CONSTRAINT
from graphrag.stores.arango.indexes import PERSISTENT_INDEXES, persistent_index_definition
from graphrag.stores.arango.queries import AQL_DIR, Queries
from graphrag.stores.arango.records import record_doc, retry_collisions
from graphrag.stores.arango.schema import ensure_objects
from graphrag.stores.codec import job_from_data, job_to_data, key_from_data, key_to_data, to_time

SETTINGS = ArangoSettings(url="http://127.0.0.1:1", password=SecretStr("x"), retries=0)


def _aql_error(code: int) -> AQLQueryExecuteError:
    response = Response("post", "http://db:8529/_db/kg/_api/cursor", {}, 409, "x", "{}")
    response.error_code, response.error_message = code, "conflict"
    return AQLQueryExecuteError(response, Request(method="post", endpoint="/_api/cursor"))


# --------------------------------------------------------------------------- schema


def test_schema_version_3_adds_the_record_collections() -> None:
    assert n.SCHEMA_VERSION >= 3  # 4 stores the graph analysis by generation
    assert (n.JOBS, n.API_KEYS) == ("jobs", "api_keys")
    assert {n.JOBS, n.API_KEYS} <= set(n.ALL_COLLECTIONS)
    assert {n.JOBS, n.API_KEYS}.isdisjoint({*n.EDGE_COLLECTIONS, *n.WRITE_COLLECTIONS})


def test_record_indexes_are_defined_exactly() -> None:
    records = {
        name: (coll, f) for coll, name, f in PERSISTENT_INDEXES if coll in n.RECORD_COLLECTIONS
    }
    assert records == {
        "idx_jobs_status": ("jobs", ("status", "created_at")),
        "idx_jobs_created_at": ("jobs", ("created_at",)),
        "idx_api_keys_key_hash": ("api_keys", ("key_hash",)),
        "idx_api_keys_created_at": ("api_keys", ("created_at",)),
    }
    assert persistent_index_definition("idx_api_keys_key_hash", ("key_hash",)) == {
        "type": "persistent",
        "name": "idx_api_keys_key_hash",
        "fields": ["key_hash"],
        "unique": True,
    }
    assert persistent_index_definition("idx_jobs_status", ("status", "created_at")) == {
        "type": "persistent",
        "name": "idx_jobs_status",
        "fields": ["status", "created_at"],
    }
    assert persistent_index_definition("idx_keys_initials", ("initials",))["sparse"] is True


class _Collection:
    def __init__(self, db: _Db, name: str) -> None:
        self.db, self.name = db, name

    def indexes(self) -> list[dict[str, Any]]:
        return [{"name": i["name"]} for i in self.db.indexes.get(self.name, [])]

    def add_index(self, data: dict[str, Any]) -> dict[str, Any]:
        self.db.indexes.setdefault(self.name, []).append(data)
        self.db.added.append((self.name, data))
        return data

    def get(self, key: str) -> dict[str, Any] | None:
        return self.db.meta

    def update(self, doc: dict[str, Any], **_: Any) -> None:
        assert self.db.meta is not None
        self.db.meta.update(doc)


class _Graph:
    def edge_definitions(self) -> list[dict[str, Any]]:
        return [{"edge_collection": e} for e in n.EDGE_COLLECTIONS]


class _Db:
    """A version 2 store: every collection and index but those of jobs and API keys."""

    def __init__(self) -> None:
        self.names = [c for c in n.ALL_COLLECTIONS if c not in n.RECORD_COLLECTIONS]
        self.indexes: dict[str, list[dict[str, Any]]] = {}
        for coll, name, _ in PERSISTENT_INDEXES:
            if coll not in n.RECORD_COLLECTIONS:
                self.indexes.setdefault(coll, []).append({"name": name})
        self.indexes[n.CHUNKS].append({"name": n.CHUNKS_TEXT_INDEX})
        self.meta: dict[str, Any] | None = {"version": 2, "embedding_model": "m", "dim": 4}
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.added: list[tuple[str, dict[str, Any]]] = []

        class _Aql:  # the provenance conversion of an older store: nothing left to move
            def execute(self, text: str, bind_vars: Any, **_: Any) -> list[int]:
                return [0]

        self.aql = _Aql()

    def collections(self) -> list[dict[str, Any]]:
        return [{"name": c} for c in self.names]

    def create_collection(self, name: str, **options: Any) -> None:
        self.created.append((name, options))
        self.names.append(name)

    def has_graph(self, name: str) -> bool:
        return True

    def graph(self, name: str) -> _Graph:
        return _Graph()

    def collection(self, name: str) -> _Collection:
        return _Collection(self, name)

    def has_collection(self, name: str) -> bool:
        return name in self.names

    def views(self) -> list[dict[str, Any]]:
        return [{"name": n.CHUNKS_VIEW}]


def test_a_version_2_store_gets_the_record_collections_and_indexes() -> None:
    db = _Db()

    meta = ensure_objects(
        db,
        SETTINGS,
        embedding_model="m",
        dim=4,
        where="test",
        version="3.12.12",  # type: ignore[arg-type]
    )

    assert db.created == [("jobs", {"edge": False}), ("api_keys", {"edge": False})]
    assert db.added == [
        ("jobs", persistent_index_definition("idx_jobs_status", ("status", "created_at"))),
        ("jobs", persistent_index_definition("idx_jobs_created_at", ("created_at",))),
        ("api_keys", persistent_index_definition("idx_api_keys_key_hash", ("key_hash",))),
        ("api_keys", persistent_index_definition("idx_api_keys_created_at", ("created_at",))),
    ]
    assert meta["version"] == n.SCHEMA_VERSION
    assert db.meta is not None
    assert db.meta["version"] == n.SCHEMA_VERSION

    db.created.clear()
    db.added.clear()
    ensure_objects(db, SETTINGS, embedding_model="m", dim=4, where="test", version="3.12.12")  # type: ignore[arg-type]
    assert (db.created, db.added) == ([], [])  # idempotent


# --------------------------------------------------------------------------- AQL


def _text(name: str) -> str:
    return (AQL_DIR / f"{name}.aql").read_text()


def test_claim_query_is_one_conditional_exclusive_update() -> None:
    text = _text("claim_job")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    assert body.count("FOR ") == 1
    assert "FILTER j._key == @key" in body
    assert 'j.status IN ["queued", "interrupted"]' in body
    assert 'j.status == "running"' in body
    assert "j.heartbeat_at == null OR j.heartbeat_at < @stale_before" in body
    assert "UPDATE j WITH {" in body
    assert "IN jobs OPTIONS { exclusive: true }" in body
    assert body.rstrip().endswith("RETURN NEW")


def test_record_writes_are_repserts_by_key() -> None:
    for name, bind, collection in (
        ("upsert_job", "job", "jobs"),
        ("save_api_key", "record", "api_keys"),
    ):
        text = _text(name)
        assert f"UPSERT {{ _key: @{bind}._key }}" in text
        assert f"INSERT @{bind}" in text
        assert f"REPLACE @{bind}" in text
        assert f"IN {collection}" in text


def test_lists_are_newest_first_and_paged() -> None:
    jobs = _text("list_jobs")
    assert "FILTER @status == null OR j.status == @status" in jobs
    assert "SORT j.created_at DESC, j._key DESC" in jobs
    assert "LIMIT @offset, @limit" in jobs
    assert "SORT k.created_at DESC, k._key DESC" in _text("list_api_keys")
    assert "FILTER k.key_hash == @key_hash" in _text("find_api_key")


# --------------------------------------------------------------------------- mapping


def test_a_job_maps_to_a_document_keyed_by_its_id_and_back() -> None:
    job = Job(
        id="j_Ab-1",
        files=[JobFile(name="a.txt")],
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        heartbeat_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    )

    doc = record_doc(job_to_data(job))

    assert doc["_key"] == "j_Ab-1"
    assert "id" not in doc
    assert doc["created_at"] == "2026-01-02T03:04:05.000000+00:00"
    assert doc["heartbeat_at"] == "2026-01-02T03:04:05.000006+00:00"
    assert doc["started_at"] is None
    assert job_from_data({**doc, "_id": "jobs/j_Ab-1", "_rev": "_x"}) == job


def test_a_key_record_maps_to_a_document_and_back() -> None:
    record = ApiKeyRecord(id="k_1", name="ci", role="writer", key_hash="ab" * 32)
    doc = record_doc(key_to_data(record))
    assert (doc["_key"], doc["key_hash"]) == ("k_1", "ab" * 32)
    assert key_from_data({**doc, "_id": "api_keys/k_1", "_rev": "_y"}) == record


def test_stored_times_sort_like_the_times() -> None:
    base = datetime(2026, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)
    times = [base + timedelta(microseconds=k) for k in (0, 1, 10**6, -(10**6))]
    local = datetime(2026, 5, 2, 1, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    times.append(local)
    assert sorted(times) == [datetime.fromisoformat(t) for t in sorted(map(to_time, times))]
    assert len({len(to_time(t)) for t in times}) == 1


# --------------------------------------------------------------------------- collisions


def test_a_colliding_save_is_retried_then_succeeds() -> None:
    calls: list[int] = []

    def save() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _aql_error(ERR_CONFLICT if len(calls) == 1 else ERR_UNIQUE_CONSTRAINT)
        return "ok"

    assert retry_collisions("saving", save) == "ok"
    assert len(calls) == 3


def test_other_errors_and_persistent_collisions_are_raised() -> None:
    calls: list[int] = []

    def fail(code: int) -> None:
        calls.append(code)
        raise _aql_error(code)

    with pytest.raises(AQLQueryExecuteError):
        retry_collisions("saving", lambda: fail(1579))
    assert calls == [1579]
    with pytest.raises(StoreUnavailableError, match="write conflict"):
        retry_collisions("saving", lambda: fail(ERR_UNIQUE_CONSTRAINT), attempts=2)
    assert calls == [1579, ERR_UNIQUE_CONSTRAINT, ERR_UNIQUE_CONSTRAINT]


class _ConflictQueries(Queries):
    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code
        self.binds: list[tuple[str, str, str, str]] = []

    def claim_job(
        self, db: Any, key: str, worker: str, now: str, stale_before: str
    ) -> dict[str, Any] | None:
        self.binds.append((key, worker, now, stale_before))
        raise _aql_error(self.code)


def test_a_claim_that_conflicts_is_not_taken() -> None:
    queries = _ConflictQueries(ERR_CONFLICT)
    store = ArangoGraphStore(SETTINGS, queries=queries)

    assert store._claim(None, "j_1", "w", 90.0) is None  # type: ignore[arg-type]

    [(key, worker, now, before)] = queries.binds
    assert (key, worker) == ("j_1", "w")
    gap = datetime.fromisoformat(now) - datetime.fromisoformat(before)
    assert gap == timedelta(seconds=90)
    with pytest.raises(AQLQueryExecuteError):
        ArangoGraphStore(SETTINGS, queries=_ConflictQueries(1579))._claim(None, "j_1", "w", 1.0)  # type: ignore[arg-type]


async def test_ids_that_cannot_be_keys_never_reach_the_server() -> None:
    store = ArangoGraphStore(SETTINGS)  # port 1: any request would fail as unavailable

    assert await store.get_job("a/b") is None
    assert await store.claim_job("a b", "w", stale_seconds=1) is None
    with pytest.raises(StoreQueryError, match="not a valid ArangoDB key"):
        await store.save_job(Job(id="a/b"))
    with pytest.raises(StoreQueryError, match="not a valid ArangoDB key"):
        await store.save_api_key(ApiKeyRecord(id="k:1", name="x", role="reader", key_hash="ab"))
    assert await store.list_jobs(limit=0) == []
