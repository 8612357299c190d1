"""Write conflicts (ArangoDB errors 1200 and 1210) retry the whole stream transaction.

The real python-arango client and the store's write path (:func:`write_plans`, the queries of
``aql/``) run against a local stub of the stream transaction endpoints, answering like
ArangoDB 3.12: ``POST /_api/transaction/begin``, ``POST /_api/cursor`` and
``POST /_api/document/{collection}`` with ``x-arango-trx-id``, ``PUT`` (commit) and
``DELETE`` (abort) ``/_api/transaction/{id}``. The stub keeps document-level write locks
like RocksDB: a transaction that writes a document another running transaction wrote gets
``409`` / error 1200 (write-write conflict); a commit makes the writes visible.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest
from arango.exceptions import AQLQueryExecuteError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError, StoreUnavailableError
from graphrag.models import WriteReport
from graphrag.stores.arango import retry
from graphrag.stores.arango.batch import plan_batch
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.retry import ConflictPolicy, retry_write_conflicts
from graphrag.stores.arango.writes import in_transaction, write_plans
from tests.sample_graphs import DIM, document_graph
from tests.unit.stores.arango.http_stub import serving

CONFLICT = (409, 1200, "write-write conflict")
UNIQUE = (409, 1210, "unique constraint violated - in index primary of type primary")
SYNTAX = (400, 1501, "syntax error, unexpected FOR")

Reply = tuple[int, Any]


def error(status: int, num: int, message: str) -> Reply:
    return status, {"error": True, "code": status, "errorNum": num, "errorMessage": message}


def _key(item: dict[str, Any]) -> str:
    doc = item.get("doc") if isinstance(item.get("doc"), dict) else item
    return str(doc.get("_key") or json.dumps(doc, sort_keys=True))


@dataclass
class Txn:
    id: str
    status: str = "running"
    staged: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class FakeArango:
    """Stream transactions with document write locks; ``fail`` forces errors in order."""

    txns: dict[str, Txn] = field(default_factory=dict)
    committed: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    fail: list[tuple[str, tuple[int, int, str]]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    rendezvous: bool = False
    conflicted: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.split()[0] == kind)

    def _forced(self, step: str) -> Reply | None:
        if self.fail and self.fail[0][0] == step:
            return error(*self.fail.pop(0)[1])
        return None

    def begin(self) -> Reply:
        with self.lock:
            txn = Txn(id=str(100 + len(self.txns)))
            self.txns[txn.id] = txn
            self.events.append(f"begin {txn.id}")
        return 201, {"code": 201, "error": False, "result": {"id": txn.id, "status": "running"}}

    def finish(self, txn_id: str, commit: bool) -> Reply:
        with self.lock:
            txn = self.txns[txn_id]
            forced = self._forced("commit") if commit else None
            if forced is not None:
                self.events.append(f"conflict {txn_id} at commit")
                return forced
            if commit and txn.status == "running":
                self.committed.update(txn.staged)
            if txn.status == "running":
                txn.status = "committed" if commit else "aborted"
            self.owners = {k: o for k, o in self.owners.items() if o != txn_id}
            self.events.append(f"{'commit' if commit else 'abort'} {txn_id}")
        result = {"id": txn_id, "status": txn.status}
        return 200, {"code": 200, "error": False, "result": result}

    def write(self, txn_id: str, step: str, collection: str, items: list[Any]) -> Reply | None:
        """Stage documents in the transaction; a conflict if another one wrote one of them."""
        with self.lock:
            forced = self._forced(step)
            keys = [f"{collection}/{_key(item)}" for item in items]
            busy = [k for k in keys if self.owners.get(k, txn_id) != txn_id]
            if forced is None and busy:
                forced = error(*CONFLICT)
            if forced is not None:
                self.events.append(f"conflict {txn_id} on {step}")
                self.conflicted.set()
                return forced
            for key, item in zip(keys, items, strict=True):
                self.owners[key] = txn_id
                self.txns[txn_id].staged[key] = item
        if step == "upsert_entities" and self.rendezvous:
            self.conflicted.wait(timeout=5)  # hold the locks until the other writer collided
        return None

    def cursor(self, txn_id: str, body: dict[str, Any]) -> Reply:
        binds = body.get("bindVars") or {}
        row: Any = {}
        if "entity_keys" in binds:
            row = {"entities": 0, "relations": 0}
        for name in ("entities", "relations"):
            if name in binds:
                failed = self.write(txn_id, f"upsert_{name}", name, binds[name])
                if failed is not None:
                    return failed
                row = {"written": len(binds[name]), "inserted": len(binds[name])}
        return 201, {"result": [row], "hasMore": False, "cached": False, "error": False,
                     "code": 201}  # fmt: skip

    def insert(self, txn_id: str, collection: str, docs: list[dict[str, Any]]) -> Reply:
        failed = self.write(txn_id, "insert", collection, docs)
        if failed is not None:
            return failed
        return 202, [{"_id": f"{collection}/{_key(d)}", "_key": _key(d), "_rev": "1"} for d in docs]

    def route(self, method: str, path: str, txn_id: str, body: Any) -> Reply:
        parts = path.removeprefix("/_db/graphrag").strip("/").split("/")
        if parts[:3] == ["_api", "transaction", "begin"]:
            return self.begin()
        if parts[:2] == ["_api", "transaction"] and method in ("PUT", "DELETE"):
            return self.finish(parts[2], commit=method == "PUT")
        if parts[:2] == ["_api", "cursor"]:
            return self.cursor(txn_id, body)
        if parts[:2] == ["_api", "document"]:
            return self.insert(txn_id, parts[2], body)
        return error(404, 404, f"unknown path {path}")


@pytest.fixture
def fake() -> Iterator[FakeArango]:
    state = FakeArango()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            txn_id = self.headers.get("x-arango-trx-id", "")
            status, answer = state.route(self.command, urlsplit(self.path).path, txn_id, body)
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            self._reply()

        def do_PUT(self) -> None:
            self._reply()

        def do_DELETE(self) -> None:
            self._reply()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as port:
        state.port = port
        yield state


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "CONFLICT_POLICY", ConflictPolicy(base_delay=0.001, max_delay=0.01))


def connect(fake: FakeArango) -> ArangoConnection:
    settings = ArangoSettings(
        url=f"http://127.0.0.1:{fake.port}", password=SecretStr("pw"), retries=0, batch_size=50
    )
    return ArangoConnection(settings)


def write(conn: ArangoConnection, source: str) -> WriteReport:
    plan = plan_batch([document_graph(source)], DIM)
    return conn.call(
        f"writing {source}", lambda db: write_plans(db, Queries(), [plan], batch_size=50)
    )


def entity_keys(fake: FakeArango) -> set[str]:
    return {k for k in fake.committed if k.startswith("entities/")}


# --------------------------------------------------------------------------- through the stub


@pytest.mark.parametrize(("step", "failure"), [("upsert_entities", CONFLICT),
                                               ("upsert_entities", UNIQUE),
                                               ("insert", CONFLICT),
                                               ("commit", CONFLICT)])  # fmt: skip
def test_a_batch_that_conflicts_once_is_written_on_the_second_try(
    fake: FakeArango, step: str, failure: tuple[int, int, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail = [(step, failure)]
    conn = connect(fake)
    with caplog.at_level(logging.WARNING):
        report = write(conn, "curie.txt")
    assert report.documents == 1
    assert report.chunks == 2
    assert (fake.count("begin"), fake.count("abort"), fake.count("commit")) == (2, 1, 1)
    first, second = (t.id for t in fake.txns.values())
    assert fake.events.index(f"abort {first}") < fake.events.index(f"begin {second}")
    assert fake.txns[first].status == "aborted"
    assert fake.txns[second].status == "committed"
    assert len(entity_keys(fake)) == len(document_graph("curie.txt").entities)
    assert f"hit a write conflict (ArangoDB error {failure[1]}" in caplog.text
    assert "retry 1/4" in caplog.text
    conn.close()


def test_a_batch_that_keeps_conflicting_fails_clearly_and_writes_nothing(
    fake: FakeArango,
) -> None:
    fake.fail = [("upsert_entities", CONFLICT)] * 10
    conn = connect(fake)
    with pytest.raises(StoreUnavailableError) as err:
        write(conn, "curie.txt")
    message = str(err.value)
    assert message.startswith("writing 1 documents failed with a write conflict 5 times")
    assert "ArangoDB error 1200" in message
    assert "nothing of it was committed" in message
    assert "Run it again" in message
    assert "fewer concurrent writers" in message
    assert (fake.count("begin"), fake.count("abort"), fake.count("commit")) == (5, 5, 0)
    assert fake.committed == {}
    assert len(fake.fail) == 5
    conn.close()


def test_other_errors_abort_once_and_are_not_retried(fake: FakeArango) -> None:
    fake.fail = [("upsert_entities", SYNTAX)]
    conn = connect(fake)
    with pytest.raises(StoreQueryError, match="ArangoDB error 1501"):
        write(conn, "curie.txt")
    assert (fake.count("begin"), fake.count("abort"), fake.count("commit")) == (1, 1, 0)
    conn.close()


def test_two_concurrent_writers_of_shared_entities_both_end_written(fake: FakeArango) -> None:
    fake.rendezvous = True  # the first writer holds its entity locks until the other collides
    conn = connect(fake)
    start = threading.Barrier(2)
    results: dict[str, WriteReport | BaseException] = {}

    def writer(source: str) -> None:
        start.wait()
        try:
            results[source] = write(conn, source)
        except BaseException as exc:  # reported below
            results[source] = exc

    threads = [threading.Thread(target=writer, args=(s,)) for s in ("curie.txt", "pierre.txt")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(r, WriteReport) for r in results.values()), results
    assert len(results) == 2
    assert fake.count("conflict") >= 1
    assert fake.count("commit") == 2
    shared = {e.id for e in document_graph("curie.txt").entities} & {
        e.id for e in document_graph("pierre.txt").entities
    }
    assert shared  # the writers really collide on these
    wanted = {e.id for s in ("curie.txt", "pierre.txt") for e in document_graph(s).entities}
    assert entity_keys(fake) == {f"entities/{k}" for k in wanted}
    documents = {k for k in fake.committed if k.startswith("documents/")}
    assert len(documents) == 2
    assert fake.owners == {}
    conn.close()


# --------------------------------------------------------------------------- the helper


def conflict(code: int = 1200) -> AQLQueryExecuteError:
    response = Response("post", "http://fake:8529/_api/cursor", {}, 409, "Conflict", "{}")
    response.error_code, response.error_message = code, "write-write conflict"
    return AQLQueryExecuteError(response, Request(method="post", endpoint="/_api/cursor"))


def test_the_helper_waits_with_growing_jittered_backoff() -> None:
    waits: list[float] = []
    tries: list[int] = []

    def run() -> str:
        tries.append(1)
        if len(tries) < 4:
            raise conflict()
        return "done"

    policy = ConflictPolicy(attempts=5, deadline=60, base_delay=0.1, max_delay=0.25)
    assert retry_write_conflicts("x", run, policy=policy, sleep=waits.append) == "done"
    assert len(waits) == 3
    for wait, ceiling in zip(waits, (0.1, 0.2, 0.25), strict=True):
        assert 0.0 <= wait <= ceiling


def test_the_helper_stops_at_the_deadline() -> None:
    tries: list[int] = []

    def run() -> None:
        tries.append(1)
        raise conflict(1210)

    policy = ConflictPolicy(attempts=100, deadline=0.0, base_delay=0.01, max_delay=0.01)
    with pytest.raises(StoreUnavailableError, match=r"1 times .*error 1210, unique constraint"):
        retry_write_conflicts("saving", run, policy=policy, sleep=lambda _: None)
    assert len(tries) == 1


def test_the_helper_passes_other_errors_at_once() -> None:
    tries: list[int] = []

    def run() -> None:
        tries.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError, match="not a conflict"):
        retry_write_conflicts("x", run, sleep=lambda _: None)
    assert len(tries) == 1


class FakeTxn:
    def __init__(self, log: list[str], number: int) -> None:
        self.log, self.transaction_id = log, str(number)

    def commit_transaction(self) -> bool:
        self.log.append(f"commit {self.transaction_id}")
        return True

    def abort_transaction(self) -> bool:
        self.log.append(f"abort {self.transaction_id}")
        return True


class FakeDb:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.write: list[str] = []

    def begin_transaction(self, write: list[str]) -> FakeTxn:
        self.write = write
        self.log.append(f"begin {len(self.log)}")
        return FakeTxn(self.log, len(self.log))


def test_in_transaction_fences_every_try_and_takes_the_collections() -> None:
    db = FakeDb()
    fenced: list[str] = []
    failures = [conflict()]

    def work(txn: Any) -> str:
        if failures:
            raise failures.pop()
        return "ok"

    result = in_transaction(
        db,  # type: ignore[arg-type]
        work,
        lambda txn: fenced.append(txn.transaction_id),
        write=("entities", "meta"),
        what="saving",
    )
    assert result == "ok"
    assert db.write == ["entities", "meta"]
    assert [e.split()[0] for e in db.log] == ["begin", "abort", "begin", "commit"]
    assert len(fenced) == 2
