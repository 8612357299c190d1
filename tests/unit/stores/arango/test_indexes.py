"""Indexes of the ArangoDB store without a server.

The definitions sent to ``add_index``; the vector index rebuild (built in the background
under a new name, polled with its own deadline, swapped in only once trained), run through
the real python-arango client against a stub of the index HTTP API; the schema upgrade that
drops obsolete indexes and moves ``chunks_view`` to the top-k optimised inverted index; the
minimum server version.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import requests
from arango.client import ArangoClient  # noqa: TID251
from arango.database import StandardDatabase  # noqa: TID251
from arango.http import HTTPClient  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import SchemaError
from graphrag.stores.arango import names as n
from graphrag.stores.arango.indexes import (
    OBSOLETE_INDEXES,
    PERSISTENT_INDEXES,
    Wait,
    persistent_index_definition,
    text_index_definition,
    vector_index_definition,
)
from graphrag.stores.arango.queries import AQL_DIR, Queries
from graphrag.stores.arango.schema import (
    build_vector_indexes,
    check_version,
    ensure_objects,
    parse_version,
)

Doc = dict[str, Any]
SETTINGS = ArangoSettings(url="http://stub:8529", password=SecretStr("x"), n_probe=16)
NEW_NAME = re.compile(r"^vec_chunks_embedding_\d{8}T\d{6}$")


# --------------------------------------------------------------------------- definitions


def test_vector_index_is_built_in_the_background_under_the_given_name() -> None:
    assert vector_index_definition("chunks", 384, 400, 16, name="vec_chunks_embedding_x") == {
        "type": "vector",
        "name": "vec_chunks_embedding_x",
        "fields": ["embedding"],
        "sparse": True,
        "inBackground": True,
        "parallelism": 2,
        "params": {
            "metric": "cosine",
            "dimension": 384,
            "nLists": 400,
            "defaultNProbe": 16,
            "trainingIterations": 25,
        },
    }
    assert vector_index_definition("keys", 4, 2, 8)["name"] == "vec_keys_embedding"  # legacy


def test_inverted_index_optimises_the_bm25_sort() -> None:
    assert text_index_definition() == {
        "type": "inverted",
        "name": "inv_chunks_text_topk",
        "fields": [{"name": "text", "analyzer": "text_en"}],
        "optimizeTopK": ["BM25(@doc) DESC"],
        "inBackground": True,
    }


def test_persistent_indexes_serve_the_sorts_and_drop_the_unused() -> None:
    defined = {name: (coll, fields) for coll, name, fields in PERSISTENT_INDEXES}
    assert defined["idx_entities_rank"] == ("entities", ("rank", "mention_count"))
    assert defined["idx_documents_updated_at"] == ("documents", ("updated_at", "_key"))
    assert persistent_index_definition("idx_entities_rank", ("rank", "mention_count")) == {
        "type": "persistent",
        "name": "idx_entities_rank",
        "fields": ["rank", "mention_count"],
    }
    assert OBSOLETE_INDEXES == (
        ("mentions", "idx_mentions_to"),
        ("relations", "idx_relations_from_weight"),
        ("relations", "idx_relations_to_weight"),
        ("entities", "idx_entities_name_norm"),
        ("entities", "idx_entities_source_ids"),
        ("relations", "idx_relations_source_ids"),
    )
    assert not set(defined) & {name for _, name in OBSOLETE_INDEXES}


def _aql_texts() -> dict[str, str]:
    return {p.relative_to(AQL_DIR).as_posix(): p.read_text() for p in AQL_DIR.rglob("*.aql")}


def test_the_new_indexes_match_sorts_the_queries_use() -> None:
    texts = _aql_texts()
    top = texts["analyst/top_entities_by_rank.aql"]  # ranks: entity_ranks, by generation
    assert "FILTER r.generation == generation" in top
    assert "SORT r.rank DESC, ent.mention_count DESC" in top
    assert "SORT d.updated_at DESC, d._key DESC" in texts["list_documents.aql"]
    assert "FILTER @status == null OR d.status == @status" in texts["list_documents.aql"]
    assert "SORT d.updated_at DESC" in texts["analyst/newest_documents.aql"]


def test_no_query_needs_the_obsolete_indexes() -> None:
    """name_norm is never looked up, weight never filtered next to _from/_to."""
    for name, text in _aql_texts().items():
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        assert not re.search(r"name_norm\s*(==|IN\b)", code), name
        assert not re.search(r"\b(FILTER|SORT)\b[^\n]*\brel\.weight\b", code), name


def test_communities_have_no_approximate_search() -> None:
    for name, text in _aql_texts().items():
        if "APPROX_NEAR" in text:
            assert "communities" not in text, name


# --------------------------------------------------------------------------- versions


def test_the_oldest_server_accepted_is_3_12_6() -> None:
    assert n.MIN_SERVER_VERSION == (3, 12, 6)
    check_version("3.12.6", "x")
    check_version("3.12.12-1", "x")
    with pytest.raises(SchemaError, match=r"runs version 3\.12\.5, but 3\.12\.6 or newer"):
        check_version("3.12.5", "arango:http://db:8529/kg")
    with pytest.raises(SchemaError, match=r"3\.12\.6\+ is required"):
        parse_version("devel")


# --------------------------------------------------------------------------- the HTTP stub


@dataclass
class Plan:
    """How the next vector index created on a collection behaves.

    Attributes:
        states: ``trainingState`` of the new index at each listing (the last one stays).
        response: ``trainingState`` in the create response (``None``: not reported).
        message: ``errorMessage`` of the create response.
        error: ``(HTTP status, errorNum, message)`` of a failed create call.
        timeout: The create call outlasts the HTTP timeout.
        hidden: Listings that do not show the new index yet (a build in progress).
    """

    states: list[str | None] = field(default_factory=lambda: ["ready"])
    response: str | None = None
    message: str | None = None
    error: tuple[int, int, str] | None = None
    timeout: bool = False
    hidden: int = 0


class IndexServer(HTTPClient):
    """The index, collection and document endpoints python-arango calls, in memory."""

    def __init__(self) -> None:
        self.indexes: dict[str, list[Doc]] = {}
        self.plans: dict[str, Plan] = {}
        self.pending: dict[str, Doc] = {}
        self.log: list[tuple[str, str, Any]] = []
        self.meta: Doc = {"_key": "schema", "version": n.SCHEMA_VERSION, "vector_feature": None}
        self.next_id = 100

    def add(self, collection: str, name: str, **extra: Any) -> Doc:
        self.next_id += 1
        index = {"id": f"{collection}/{self.next_id}", "name": name, "type": "vector",
                 "fields": ["embedding"], "sparse": True, **extra}  # fmt: skip
        self.indexes.setdefault(collection, []).append(index)
        return index

    def create_session(self, host: str) -> requests.Session:
        return requests.Session()

    def send_request(
        self,
        session: requests.Session,
        method: str,
        url: str,
        headers: MutableMapping[str, str] | None = None,
        params: MutableMapping[str, str] | None = None,
        data: Any = None,
        auth: Any = None,
    ) -> Response:
        path = url.split("/_db/graphrag", 1)[-1]
        query = dict(params or {})
        body = json.loads(data) if isinstance(data, str) and data else None
        status, reply = self._route(method.lower(), path, query, body)
        return Response(method, url, {}, status, "OK", json.dumps(reply))

    def _route(self, method: str, path: str, query: Doc, body: Any) -> tuple[int, Doc]:
        if path == "/_api/index" and method == "get":
            return self._list(query["collection"])
        if path == "/_api/index" and method == "post":
            return self._create(query["collection"], body)
        if path.startswith("/_api/index/") and method == "delete":
            return self._delete(path.removeprefix("/_api/index/"))
        if path == "/_api/collection":
            return 200, {"error": False, "code": 200, "result": [{"name": n.META}]}
        if path == f"/_api/document/{n.META}/{n.META_KEY}" and method == "get":
            return 200, dict(self.meta)
        if path == f"/_api/document/{n.META}/{n.META_KEY}" and method == "patch":
            self.log.append(("meta", n.META, body))
            self.meta = {**self.meta, **body}
            return 200, {"_id": "meta/schema", "_key": "schema", "_rev": "2", "_oldRev": "1"}
        raise AssertionError(f"unexpected request {method} {path}")

    def _list(self, collection: str) -> tuple[int, Doc]:
        pending = self.pending.get(collection)
        if pending is not None:
            plan = self.plans[collection]
            if plan.hidden:
                plan.hidden -= 1
            else:
                state = plan.states.pop(0) if len(plan.states) > 1 else plan.states[0]
                pending.pop("trainingState", None)
                if state is not None:
                    pending["trainingState"] = state
                if pending not in self.indexes.setdefault(collection, []):
                    self.indexes[collection].append(pending)
        listed = [dict(i) for i in self.indexes.get(collection, [])]
        self.log.append(("list", collection, [(i["name"], i.get("trainingState")) for i in listed]))
        return 200, {"error": False, "code": 200, "indexes": listed}

    def _create(self, collection: str, body: Doc) -> tuple[int, Doc]:
        self.log.append(("create", collection, body))
        plan = self.plans.setdefault(collection, Plan())
        if plan.error is not None:
            status, num, message = plan.error
            if num == 1555:  # <= 3.12.9: the index is created nevertheless, unusable
                self.add(collection, body["name"])
            return status, {"error": True, "code": status, "errorNum": num, "errorMessage": message}
        self.next_id += 1
        index = {"id": f"{collection}/{self.next_id}", "name": body["name"], "type": "vector",
                 "fields": body["fields"], "sparse": body["sparse"]}  # fmt: skip
        self.pending[collection] = index
        if plan.timeout:
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
        reply = {**index, "isNewlyCreated": True, "error": False, "code": 201}
        if plan.response is not None:
            reply["trainingState"] = plan.response
        if plan.message is not None:
            reply["errorMessage"] = plan.message
        return 201, reply

    def _delete(self, handle: str) -> tuple[int, Doc]:
        collection = handle.split("/", 1)[0]
        self.log.append(("delete", collection, handle))
        before = self.indexes.get(collection, [])
        self.indexes[collection] = [i for i in before if i["id"] != handle]
        if self.pending.get(collection, {}).get("id") == handle:
            del self.pending[collection]
        if len(before) == len(self.indexes[collection]):
            return 404, {"error": True, "code": 404, "errorNum": 1212, "errorMessage": "no index"}
        return 200, {"error": False, "code": 200, "id": handle}

    def names(self, collection: str) -> list[str]:
        return [str(i["name"]) for i in self.indexes.get(collection, [])]


class Counts:
    """Stands in for :class:`Queries`: the embedded-document counts only."""

    def __init__(self, **counts: int) -> None:
        self.counts = counts

    def count_embeddings(self, db: object, collection: str) -> int:
        return self.counts.get(collection, 0)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def _db(server: IndexServer) -> StandardDatabase:
    return ArangoClient(hosts="http://stub:8529", http_client=server).db(
        "graphrag", username="root", password="x"
    )


def _build(server: IndexServer, clock: Clock, seconds: float = 30.0, **counts: int) -> Doc:
    wait = Wait(seconds=seconds, now=clock.now, sleep=clock.sleep, poll=5.0)
    queries = cast(Queries, Counts(**counts))
    return build_vector_indexes(_db(server), queries, SETTINGS, dim=4, min_documents=10, wait=wait)


def _ops(server: IndexServer, collection: str) -> list[str]:
    return [op for op, coll, _ in server.log if coll == collection]


# --------------------------------------------------------------------------- the swap


def test_a_new_index_is_trained_in_the_background_then_replaces_the_old_one() -> None:
    server, clock = IndexServer(), Clock()
    old = server.add("chunks", "vec_chunks_embedding", trainingState="ready")
    server.plans["chunks"] = Plan(states=["training", "training", "ready"], response="training")
    report = _build(server, clock, chunks=10_000)

    [sent] = [body for op, coll, body in server.log if op == "create" and coll == "chunks"]
    assert NEW_NAME.match(sent["name"])
    assert sent == vector_index_definition("chunks", 4, 400, 16, name=sent["name"])
    assert sent["inBackground"] is True
    # created, polled until ready, only then the old index dropped
    assert _ops(server, "chunks") == ["list", "create", "list", "list", "list", "delete"]
    deleted = [body for op, coll, body in server.log if op == "delete" and coll == "chunks"]
    assert deleted == [old["id"]]
    assert server.names("chunks") == [sent["name"]]
    assert clock.sleeps == [5.0, 5.0]
    assert report["chunks"] == {"usable": True, "documents": 10_000, "n_lists": 400,
                                "name": sent["name"], "reason": "ready"}  # fmt: skip
    assert server.meta["vector_indexes"]["chunks"]["name"] == sent["name"]
    assert server.meta["vector_index"] is True


def test_a_deadline_that_passes_keeps_the_old_index_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, clock = IndexServer(), Clock()
    old = server.add("chunks", "vec_chunks_embedding", trainingState="ready")
    server.plans["chunks"] = Plan(states=["training"])
    with caplog.at_level(logging.WARNING):
        report = _build(server, clock, seconds=30.0, chunks=10_000)

    assert clock.t - 1000.0 == 30.0  # waited for the deadline, not for the HTTP timeout
    assert server.names("chunks") == ["vec_chunks_embedding"]  # the new one dropped
    deleted = [body for op, coll, body in server.log if op == "delete"]
    assert old["id"] not in deleted
    assert len(deleted) == 1
    entry = report["chunks"]
    assert entry["usable"] is True
    assert entry["name"] == "vec_chunks_embedding"
    assert entry["reason"] == (
        "rebuild failed (not trained within 30 s (training state training)); previous index kept"
    )
    assert "the previous index vec_chunks_embedding stays in use" in caplog.text


def test_a_create_call_that_outlasts_the_http_timeout_is_awaited() -> None:
    server, clock = IndexServer(), Clock()
    old = server.add("entities", "vec_entities_embedding_20250101T000000")
    server.plans["entities"] = Plan(timeout=True, hidden=2, states=[None])  # before 3.12.9
    report = _build(server, clock, entities=5_000)

    assert report["entities"]["usable"] is True
    assert re.match(r"^vec_entities_embedding_\d{8}T\d{6}$", report["entities"]["name"])
    assert _ops(server, "entities") == ["list", "create", "list", "list", "list", "delete"]
    assert server.names("entities") == [report["entities"]["name"]]
    assert [b for op, _, b in server.log if op == "delete"] == [old["id"]]


def test_a_failed_training_drops_the_new_index_and_keeps_the_old_one() -> None:
    server, clock = IndexServer(), Clock()
    server.add("chunks", "vec_chunks_embedding", trainingState="ready")
    server.plans["chunks"] = Plan(error=(400, 1555, "vector index not trained"))  # <= 3.12.9
    report = _build(server, clock, chunks=10_000)

    assert server.names("chunks") == ["vec_chunks_embedding"]
    assert report["chunks"]["usable"] is True
    assert "creation failed: [1555] vector index not trained" in report["chunks"]["reason"]


def test_an_unusable_state_with_a_message_is_a_failed_training() -> None:
    server, clock = IndexServer(), Clock()
    server.plans["resolution_keys"] = Plan(response="unusable", message="not enough training data")
    report = _build(server, clock, resolution_keys=2_000)  # 3.12.10+: success, but unusable

    entry = report["resolution_keys"]
    assert entry["usable"] is False
    assert entry["reason"] == "training failed: not enough training data"
    assert server.names("resolution_keys") == []
    assert clock.sleeps == []


def test_without_the_vector_feature_every_target_scans_exactly() -> None:
    server, clock = IndexServer(), Clock()
    for coll in ("chunks", "entities", "resolution_keys"):
        server.plans[coll] = Plan(error=(400, 10, "the vector index feature is not enabled"))
    report = _build(server, clock, chunks=10_000, entities=10_000, resolution_keys=10_000)

    assert report["vector_feature"] is False
    assert [op for op, _, _ in server.log].count("create") == 1  # probed once
    assert all(not report[c]["usable"] for c in ("chunks", "entities", "resolution_keys"))
    assert server.meta["vector_feature"] is False


def test_small_collections_and_communities_lose_their_vector_indexes() -> None:
    server, clock = IndexServer(), Clock()
    server.add("chunks", "vec_chunks_embedding", trainingState="ready")
    server.add("communities", "vec_communities_embedding", trainingState="ready")
    report = _build(server, clock, chunks=5)

    assert server.names("chunks") == server.names("communities") == []
    assert report["chunks"] == {"usable": False, "documents": 5,
                                "reason": "5 embedded documents < 10: exact scans"}  # fmt: skip
    assert not [op for op, _, _ in server.log if op == "create"]


# --------------------------------------------------------------------------- ensure_objects


class _Coll:
    def __init__(self, db: _SchemaDb, name: str) -> None:
        self.db, self.name = db, name

    def indexes(self) -> list[Doc]:
        return [dict(i) for i in self.db.indexes.get(self.name, [])]

    def add_index(self, data: Doc) -> Doc:
        self.db.calls.append(("add_index", self.name, data))
        self.db.indexes.setdefault(self.name, []).append({"id": f"{len(self.db.calls)}", **data})
        return data

    def delete_index(self, index_id: str, ignore_missing: bool = False) -> bool:
        self.db.calls.append(("delete_index", self.name, index_id))
        self.db.indexes[self.name] = [i for i in self.db.indexes[self.name] if i["id"] != index_id]
        return True

    def get(self, key: str) -> Doc | None:
        return self.db.meta

    def insert(self, doc: Doc) -> None:
        self.db.meta = doc

    def update(self, doc: Doc, **_: Any) -> None:
        assert self.db.meta is not None
        self.db.meta.update(doc)


class _Graph:
    def edge_definitions(self) -> list[Doc]:
        return [{"edge_collection": e} for e in n.EDGE_COLLECTIONS]


class _SchemaDb:
    """A complete store of the previous version (or a new, empty database)."""

    def __init__(self, *, previous: bool) -> None:
        self.names = list(n.ALL_COLLECTIONS) if previous else []
        self.indexes: dict[str, list[Doc]] = {}
        self.view_names: list[str] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.meta: Doc | None = None

        class _Aql:  # the provenance conversion of an older store: nothing left to move
            def execute(self, text: str, bind_vars: Any, **_: Any) -> list[int]:
                return [0]

        self.aql = _Aql()
        if previous:
            self.meta = {"version": 3, "embedding_model": "m", "dim": 4}
            for coll, name, fields in PERSISTENT_INDEXES:
                if name not in ("idx_entities_rank", "idx_documents_updated_at"):
                    self._index(coll, name, type="persistent", fields=list(fields))
            for coll, name in OBSOLETE_INDEXES:
                self._index(coll, name, type="persistent", fields=["x"])
            self._index("chunks", "inv_chunks_text", type="inverted", fields=["text"])
            self._index("communities", "vec_communities_embedding", type="vector",
                        fields=["embedding"])  # fmt: skip
            self.view_names = [n.CHUNKS_VIEW]

    def _index(self, coll: str, name: str, **extra: Any) -> None:
        self.indexes.setdefault(coll, []).append({"id": f"{coll}-{name}", "name": name, **extra})

    def collections(self) -> list[Doc]:
        return [{"name": c} for c in self.names]

    def create_collection(self, name: str, **options: Any) -> None:
        self.names.append(name)

    def has_graph(self, name: str) -> bool:
        return bool(self.meta)

    def create_graph(self, name: str, **options: Any) -> None:
        self.calls.append(("create_graph", name, None))

    def graph(self, name: str) -> _Graph:
        return _Graph()

    def collection(self, name: str) -> _Coll:
        return _Coll(self, name)

    def has_collection(self, name: str) -> bool:
        return name in self.names

    def views(self) -> list[Doc]:
        return [{"name": v} for v in self.view_names]

    def create_view(self, name: str, view_type: str, properties: Doc) -> None:
        self.calls.append(("create_view", name, (view_type, properties)))
        self.view_names.append(name)

    def replace_view(self, name: str, properties: Doc) -> None:
        self.calls.append(("replace_view", name, properties))


def _ensure(db: _SchemaDb) -> None:
    ensure_objects(
        cast(StandardDatabase, db), SETTINGS, embedding_model="m", dim=4, where="t",
        version="3.12.12",
    )  # fmt: skip


def test_a_new_store_gets_the_indexes_and_the_view() -> None:
    db = _SchemaDb(previous=False)
    _ensure(db)
    added = [(coll, d) for op, coll, d in db.calls if op == "add_index"]
    expected = [(c, persistent_index_definition(name, f)) for c, name, f in PERSISTENT_INDEXES]
    assert added == [*expected, ("chunks", text_index_definition())]
    members = {"indexes": [{"collection": "chunks", "index": "inv_chunks_text_topk"}]}
    assert ("create_view", n.CHUNKS_VIEW, ("search-alias", members)) in db.calls
    assert not [c for c in db.calls if c[0] in ("delete_index", "replace_view")]


def test_an_older_store_drops_obsolete_indexes_and_moves_the_view_idempotently() -> None:
    db = _SchemaDb(previous=True)
    _ensure(db)
    ops = [(op, coll, d if op != "add_index" else d["name"]) for op, coll, d in db.calls]
    members = {"indexes": [{"collection": "chunks", "index": "inv_chunks_text_topk"}]}
    assert ops == [
        ("add_index", "entities", "idx_entities_rank"),
        ("add_index", "documents", "idx_documents_updated_at"),
        ("delete_index", "mentions", "mentions-idx_mentions_to"),
        ("delete_index", "relations", "relations-idx_relations_from_weight"),
        ("delete_index", "relations", "relations-idx_relations_to_weight"),
        ("delete_index", "entities", "entities-idx_entities_name_norm"),
        ("delete_index", "entities", "entities-idx_entities_source_ids"),
        ("delete_index", "relations", "relations-idx_relations_source_ids"),
        ("delete_index", "communities", "communities-vec_communities_embedding"),
        ("add_index", "chunks", "inv_chunks_text_topk"),
        ("replace_view", n.CHUNKS_VIEW, members),  # the view moves before the old index goes
        ("delete_index", "chunks", "chunks-inv_chunks_text"),
    ]
    db.calls.clear()
    _ensure(db)
    assert db.calls == []  # idempotent: a second run only reads


def test_a_store_before_schema_version_5_is_refused_until_converted() -> None:
    from graphrag.errors import SchemaError
    from graphrag.stores.arango.schema import require_meta

    class _Old:
        name = "kg"

        def has_collection(self, name: str) -> bool:
            return True

        def collection(self, name: str) -> Any:
            meta = {"_key": "schema", "version": 4, "embedding_model": "m", "dim": 4}
            return type("C", (), {"get": lambda self, key: meta})()

    with pytest.raises(SchemaError, match=r"schema version 4.*graphrag schema --store arango"):
        require_meta(cast(StandardDatabase, _Old()), "kg")
