"""Least privilege on ArangoDB, without a server.

- The writer's grants follow from what the code writes: every collection an AQL file
  modifies (ingestion, the API, and the graph analysis, which runs as kg_writer) is one of
  the writer's ``rw`` collections; ``meta`` (written by ``graphrag schema`` only, through
  python-arango as kg_admin) stays ``ro``.
- deploy/arango-init/create-users.js, run under node with a stand-in of arangosh's modules,
  creates the collections before it grants them (ArangoDB refuses grants on collections that
  do not exist) and grants exactly what :mod:`graphrag.stores.arango.users` grants, never
  the ``*`` wildcard.
- ``create_users`` and ``install_saved_queries`` against a stand-in of ArangoDB's users API
  (``/_db/{database}/_api/user``) that applies the server's rules: a user may only call a
  database they can read; managing users and grants needs the *Administrate* server level;
  users may read and change their own record (arangod ``RestUsersHandler::canAccessUser``).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import StoreAuthError
from graphrag.stores.arango import names as n
from graphrag.stores.arango.queries import AQL_DIR
from graphrag.stores.arango.users import (
    WRITER_COLLECTIONS,
    WRITER_READ_ONLY,
    create_users,
    install_saved_queries,
    reader_grants,
    writer_grants,
)
from tests.unit.stores.arango.http_stub import serving

ROOT = Path(__file__).resolve().parents[4]
INIT_SCRIPT = ROOT / "deploy" / "arango-init" / "create-users.js"
PACKAGE = ROOT / "graphrag" / "stores" / "arango"

# --------------------------------------------------------------------------- what is written

_MODIFY = re.compile(r"\b(INSERT|UPDATE|REPLACE|REMOVE|UPSERT)\b")
_TARGET = re.compile(r"\b(?:IN|INTO)\s+(@?@?\w+)")


def _strip(text: str) -> str:
    """AQL without comments and string literals (their words are not statements)."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', text)


def written_collections(text: str) -> set[str]:
    """Collections modified by an AQL text: the ``IN``/``INTO`` target of each operation.

    From each modification keyword, the first ``IN``/``INTO`` at the same bracket depth is
    its target (``UPDATE d WITH {x: (FOR y IN z ...)} IN coll`` -> ``coll``).
    """
    code = _strip(text)
    found: set[str] = set()
    for match in _MODIFY.finditer(code):
        depth, i = 0, match.end()
        while i < len(code):
            ch = code[i]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0:
                target = _TARGET.match(code, i)
                if target and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")):
                    found.add(target.group(1))
                    break
            i += 1
    return found


def _files_run_by(module: str) -> set[str]:
    """The query files a module of the package runs directly (``queries.one/rows``)."""
    text = (PACKAGE / module).read_text(encoding="utf-8")
    return set(re.findall(r"queries\.(?:one|rows)\(\s*\w+,\s*\"(\w+)\"", text))


def test_the_write_detector_finds_the_targets() -> None:
    assert written_collections("FOR d IN documents REMOVE d IN documents") == {"documents"}
    assert written_collections(
        "UPSERT {_key: @k} INSERT {a: (FOR x IN chunks RETURN x)} UPDATE {} IN entities"
    ) == {"entities"}
    assert written_collections("// INSERT x IN meta\nFOR d IN meta RETURN d") == set()
    assert written_collections("LET r = REMOVE_VALUE(@a, 1) RETURN r") == set()


def _writes_by_file() -> dict[str, set[str]]:
    return {
        path.stem: written_collections(path.read_text(encoding="utf-8"))
        for path in sorted(AQL_DIR.glob("*.aql"))
    }


def test_the_writer_may_change_exactly_what_the_code_writes() -> None:
    writes = _writes_by_file()
    by_writer: dict[str, set[str]] = {}
    for name, written in writes.items():
        for collection in written:
            by_writer.setdefault(collection, set()).add(name)
    assert "@@collection" not in by_writer  # collection binds would hide the target
    assert set(by_writer) <= set(WRITER_COLLECTIONS), {
        c: f for c, f in by_writer.items() if c not in WRITER_COLLECTIONS
    }
    # meta: written by graphrag schema only (python-arango, as kg_admin), by no AQL file
    assert set(WRITER_READ_ONLY) == {n.META}
    assert n.META not in by_writer
    # ingestion writes these with insert_many (document API), outside AQL
    assert {n.DOCUMENTS, n.CHUNKS, n.PART_OF, n.MENTIONS} <= set(WRITER_COLLECTIONS)
    assert {n.JOBS, n.API_KEYS, n.LOCKS} <= set(by_writer)


def test_the_analysis_writes_only_its_collections_as_the_writer() -> None:
    saved = _files_run_by("generations.py")
    assert {
        "acquire_analysis_lease",
        "renew_analysis_lease",
        "release_analysis_lease",
        "save_entity_ranks",
        "insert_communities",
        "insert_community_members",
        "save_analysis_state",
        "remove_analysis_generation",
        "clear_entity_ranks",
    } <= saved
    writes = _writes_by_file()
    by_analysis = set().union(*(writes[name] for name in saved))
    assert by_analysis == set(n.ANALYSIS_WRITES)
    assert by_analysis <= set(WRITER_COLLECTIONS)
    assert {n.COMMUNITIES, n.ENTITY_RANKS, n.ANALYSIS, n.MEMBER_OF} <= set(WRITER_COLLECTIONS)
    # entities: only the one-time removal of the ranks older versions stored on them
    assert [name for name in saved if n.ENTITIES in writes[name]] == ["clear_entity_ranks"]
    # the readers of analysis.py write nothing
    assert all(not writes[name] for name in _files_run_by("analysis.py"))
    # and the save runs as the writer, not the admin
    assert "admin=True" not in (PACKAGE / "analysis.py").read_text(encoding="utf-8")


def test_grants_name_every_collection_and_only_meta_is_read_only() -> None:
    writer = writer_grants()
    assert set(writer) == set(n.ALL_COLLECTIONS)
    assert {c for c, level in writer.items() if level == "ro"} == {n.META}
    assert reader_grants() == dict.fromkeys(n.ALL_COLLECTIONS, "ro")
    assert "*" not in writer
    assert {n.ENTITY_RANKS, n.ANALYSIS} <= set(n.PLAIN_COLLECTIONS)


# --------------------------------------------------------------------------- the init script

_HARNESS = r"""
const vm = require('vm');
const fs = require('fs');
const [script, existingJson] = process.argv.slice(1);
const existing = new Set(JSON.parse(existingJson));
const calls = { databases: [], created: [], users: [], dbGrants: [], grants: [], revoked: [] };
let current = '_system';
function create(name, kind) {
  calls.created.push([current, name, kind]);
  existing.add(name);
}
const db = {
  _databases: () => ['_system'].concat(calls.databases),
  _createDatabase: (name) => calls.databases.push(name),
  _useDatabase: (name) => { current = name; },
  _collection: (name) => (existing.has(name) ? {} : null),
  _createDocumentCollection: (name) => create(name, 'document'),
  _createEdgeCollection: (name) => create(name, 'edge'),
};
const users = {
  exists: () => false,
  save: (user) => calls.users.push(user),
  update: (user) => calls.users.push(user),
  grantDatabase: (user, database, level) => calls.dbGrants.push([user, database, level]),
  revokeCollection: (user, database, coll) => {
    calls.revoked.push([user, database, coll]);
    throw new Error('not set');
  },
  grantCollection: (user, database, coll, level) => {
    if (coll !== '*' && !existing.has(coll)) {
      throw new Error('collection or view not found: ' + coll);
    }
    calls.grants.push([user, database, coll, level]);
  },
};
const modules = {
  fs: { exists: (p) => p.startsWith('/run/secrets/'), read: (p) => 'pw-' + p },
  internal: { env: { GRAPHRAG_DATABASE: 'kgtest' } },
  '@arangodb/users': users,
  '@arangodb': { db },
};
const sandbox = { require: (m) => modules[m], print: () => {} };
vm.runInNewContext(fs.readFileSync(script, 'utf8'), sandbox);
console.log(JSON.stringify(calls));
"""


def _run_init_script(existing: list[str]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "-e", _HARNESS, str(INIT_SCRIPT), json.dumps(existing)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node not installed (runs create-users.js in a sandbox)"
)


@needs_node
def test_init_script_creates_the_collections_then_grants_each_one_explicitly() -> None:
    calls = _run_init_script([])
    assert calls["databases"] == ["kgtest"]
    created = {name: kind for database, name, kind in calls["created"] if database == "kgtest"}
    assert set(created) == set(n.ALL_COLLECTIONS)
    assert {c for c, kind in created.items() if kind == "edge"} == set(n.EDGE_COLLECTIONS)
    assert sorted(calls["users"]) == ["kg_admin", "kg_analyst", "kg_reader", "kg_writer"]
    assert sorted(calls["dbGrants"]) == [
        ["kg_admin", "kgtest", "rw"],
        ["kg_analyst", "kgtest", "ro"],
        ["kg_reader", "kgtest", "ro"],
        ["kg_writer", "kgtest", "ro"],
    ]
    grants: dict[str, dict[str, str]] = {}
    for user, database, collection, level in calls["grants"]:
        assert database == "kgtest"
        assert collection != "*"
        grants.setdefault(user, {})[collection] = level
    assert grants["kg_writer"] == writer_grants()
    assert grants["kg_reader"] == grants["kg_analyst"] == reader_grants()
    assert grants["kg_admin"] == dict.fromkeys(n.ALL_COLLECTIONS, "rw")
    # an old wildcard grant is cleared (a missing one is no error)
    assert sorted(u for u, _, c in calls["revoked"] if c == "*") == sorted(grants)


@needs_node
def test_init_script_run_again_keeps_existing_collections() -> None:
    calls = _run_init_script(list(n.ALL_COLLECTIONS))
    assert calls["created"] == []
    assert len(calls["grants"]) == 4 * len(n.ALL_COLLECTIONS)


# --------------------------------------------------------------------------- the users API


class FakeUsersApi:
    """ArangoDB's users API (``/_db/{database}/_api/user...``) with the server's access rules."""

    def __init__(self) -> None:
        self.collections = {"graphrag": set(n.ALL_COLLECTIONS)}
        self.users: dict[str, dict[str, Any]] = {
            "root": {"password": "root-pw", "databases": {"*": "rw"}, "extra": {}},
            "kg_admin": {"password": "admin-pw", "databases": {"graphrag": "rw"}, "extra": {}},
            "kg_analyst": {
                "password": "analyst-pw",
                "databases": {"graphrag": "ro"},
                "extra": {"graphs": {"kg": {"nodeLabel": "label"}}, "queries": [{"name": "mine"}]},
            },
        }
        self.grants: dict[str, dict[str, str]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, user)

    def level(self, user: str, database: str) -> str:
        dbs = self.users[user]["databases"]
        return str(dbs.get(database) or dbs.get("*") or "none")

    def is_admin(self, user: str) -> bool:
        return self.level(user, "_system") == "rw"

    def handle(self, method: str, path: str, user: str | None, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, user or ""))
        match = re.fullmatch(
            r"/_db/([^/]+)/_api/user(?:/([^/]+))?(?:/database/([^/]+)(?:/([^/]+))?)?", path
        )
        if match is None:
            return 404, {"errorNum": 404, "errorMessage": "unknown path"}
        database, target, grant_db, grant_coll = match.groups()
        if user is None or self.level(user, database) == "none":
            return 401, {"errorNum": 11, "errorMessage": "not authorized to execute this request"}
        forbidden = (403, {"errorNum": 11, "errorMessage": "forbidden"})
        if target is None:
            if not self.is_admin(user):
                return forbidden
            if method == "GET":
                return 200, {"result": [{"user": u, "active": True, "extra": r["extra"]}
                                        for u, r in self.users.items()]}  # fmt: skip
            self.users[body["user"]] = {"password": body["passwd"], "databases": {}, "extra": {}}
            return 201, {"user": body["user"], "active": True, "extra": {}}
        if grant_db is not None:  # permissions: admins only, on existing collections
            if not self.is_admin(user):
                return forbidden
            if grant_coll not in (None, "*") and grant_coll not in self.collections[grant_db]:
                return 404, {"errorNum": 1203, "errorMessage": "collection or view not found"}
            key = grant_db if grant_coll is None else f"{grant_db}/{grant_coll}"
            if method == "DELETE":
                self.grants.get(target, {}).pop(key, None)
                return 202, {}
            self.grants.setdefault(target, {})[key] = body["grant"]
            if grant_coll is None:
                self.users[target]["databases"][grant_db] = body["grant"]
            return 200, {key: body["grant"]}
        if user != target and not self.is_admin(user):  # canAccessUser
            return forbidden
        record = self.users[target]
        if method == "PATCH":
            if isinstance(body.get("extra"), dict) and body["extra"]:
                record["extra"] = body["extra"]
            if "passwd" in body:
                record["password"] = body["passwd"]
        return 200, {"user": target, "active": True, "extra": record["extra"]}


@pytest.fixture
def users_api() -> Iterator[tuple[FakeUsersApi, str]]:
    api = FakeUsersApi()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            user = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                if name in api.users and api.users[name]["password"] == password:
                    user = name
            status, payload = api.handle(self.command, self.path.split("?")[0], user, body)
            if status >= 400:
                payload = {"error": True, "code": status, **payload}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as port:
        yield api, f"http://127.0.0.1:{port}"


def _settings(url: str, user: str, password: str, **admin: Any) -> ArangoSettings:
    return ArangoSettings(
        url=url, database="graphrag", username=user, password=SecretStr(password), retries=0,
        **admin,
    )  # fmt: skip


QUERIES = [{"name": "KG: top entities by rank", "value": "RETURN 1", "parameter": {}}]


async def test_an_analyst_installs_their_own_queries_without_system_access(
    users_api: tuple[FakeUsersApi, str],
) -> None:
    api, url = users_api
    count = await install_saved_queries(
        _settings(url, "kg_analyst", "analyst-pw"), username="kg_analyst", queries=QUERIES
    )
    assert count == 2
    extra = api.users["kg_analyst"]["extra"]
    assert extra["graphs"] == {"kg": {"nodeLabel": "label"}}  # viewer settings kept
    assert [q["name"] for q in extra["queries"]] == ["mine", "KG: top entities by rank"]
    assert {(m, p, u) for m, p, u in api.requests} == {
        ("GET", "/_db/graphrag/_api/user/kg_analyst", "kg_analyst"),
        ("PATCH", "/_db/graphrag/_api/user/kg_analyst", "kg_analyst"),
    }
    # the same calls on _system are refused for this user (the old behaviour)
    assert api.handle("GET", "/_db/_system/_api/user/kg_analyst", "kg_analyst", {})[0] == 401


async def test_queries_for_another_user_need_a_server_admin(
    users_api: tuple[FakeUsersApi, str],
) -> None:
    api, url = users_api
    as_root = _settings(url, "kg_writer", "x", admin_username="root",
                        admin_password=SecretStr("root-pw"))  # fmt: skip
    assert await install_saved_queries(as_root, username="kg_analyst", queries=QUERIES) == 2
    assert {p for _, p, u in api.requests} == {"/_db/graphrag/_api/user/kg_analyst"}
    assert {u for _, _, u in api.requests} == {"root"}
    as_kg_admin = _settings(url, "kg_admin", "admin-pw")
    with pytest.raises(StoreAuthError, match="kg_admin"):
        await install_saved_queries(as_kg_admin, username="kg_analyst", queries=QUERIES)


async def test_create_users_grants_each_collection_explicitly(
    users_api: tuple[FakeUsersApi, str],
) -> None:
    api, url = users_api
    settings = _settings(url, "root", "root-pw")
    made = await create_users(
        settings, writer_password="w", reader_password="r", analyst_password="a"
    )
    assert made == ["kg_writer", "kg_reader", "kg_analyst"]
    assert all(p.startswith("/_db/_system/") for _, p, _ in api.requests)
    expected = {
        "kg_writer": writer_grants(),
        "kg_reader": reader_grants(),
        "kg_analyst": reader_grants(),
    }
    for user, grants in expected.items():
        recorded = api.grants[user]
        assert recorded.pop("graphrag") == "ro"
        assert recorded == {f"graphrag/{c}": level for c, level in grants.items()}
    assert api.grants["kg_writer"]["graphrag/meta"] == "ro"
    assert ("DELETE", "/_db/_system/_api/user/kg_writer/database/graphrag/*", "root") in (
        api.requests
    )
    with pytest.raises(StoreAuthError):
        await create_users(
            _settings(url, "kg_admin", "admin-pw"), writer_password="w", reader_password="r"
        )


# --------------------------------------------------------------------------- the checklist


def test_the_explain_command_has_binds_for_every_vector_query() -> None:
    from graphrag.stores.arango.queries import Queries
    from graphrag.stores.arango.testing import example_binds, vector_query_names

    queries = Queries()
    names = vector_query_names(queries)
    assert {"retrieve_candidates", "search_chunks_vector", "search_entities_vector"} <= set(names)
    assert "retrieve_candidates_exact" not in names
    for name in names:
        binds = example_binds(queries.text(name), dim=8, graph="kg")
        assert set(binds) == set(re.findall(r"(?<![@\w])@(\w+)", _strip(queries.text(name))))
        assert len(binds.get("query", [0.0] * 8)) == 8


def test_the_explain_command_finds_the_vector_node_in_nested_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from graphrag.stores.arango.testing import VECTOR_NODE, PlanCheck, _main, _node_types

    plan = {"nodes": [{"id": 1, "type": "SingletonNode"},
                      {"id": 2, "type": "SubqueryNode",
                       "subquery": {"nodes": [{"id": 3, "type": VECTOR_NODE}]}}]}  # fmt: skip
    nodes = tuple(_node_types(plan["nodes"]))
    assert nodes == ("SingletonNode", "SubqueryNode", VECTOR_NODE)
    assert PlanCheck("q", nodes, ("use-vector-index",)).uses_vector_index
    monkeypatch.delenv("GRAPHRAG_ARANGO__URL", raising=False)
    assert _main(["testing", "explain"]) == 2  # no server configured: usage, exit 2
