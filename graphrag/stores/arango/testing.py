"""Checks against a real ArangoDB server: a throw-away database, the skip reason, EXPLAIN.

- :func:`arango_test_store`: the contract suite and ``tests/integration`` use it when
  ``GRAPHRAG_ARANGO__URL`` is set.
- :data:`SKIP_REASON`: what those suites print when they are skipped (``pytest -rs``),
  pointing at the checklist in docs/arango.md ("Verified against a server").
- :func:`explain_vector_queries`: EXPLAIN every ``aql/`` query that uses ``APPROX_NEAR_*`` on
  a throw-away database with trained vector indexes, and report whether the plan has the
  vector index node (``EnumerateNearVectorNode``). From a shell::

      export GRAPHRAG_ARANGO__URL=http://127.0.0.1:8529 GRAPHRAG_ARANGO__PASSWORD=<root pw>
      .venv/bin/python -m graphrag.stores.arango.testing explain

Everything here runs as ``root``: creating and dropping databases needs the server's
*Administrate* access level.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from arango.database import StandardDatabase
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.names import CHUNKS, ENTITIES, KEYS
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.store import ArangoGraphStore
from graphrag.stores.arango.users import drop_database

logger = logging.getLogger(__name__)

CHECKLIST = 'docs/arango.md, section "Verified against a server"'

SKIP_REASON = (
    "needs an ArangoDB 3.12 server: set GRAPHRAG_ARANGO__URL and GRAPHRAG_ARANGO__PASSWORD "
    f"(the root password); checklist in {CHECKLIST}: docker compose up -d arangodb, then "
    "pytest -rs -m arango tests/integration and pytest -rs -k arango tests/contract"
)
"""Skip reason of the suites that need a server (shown by ``pytest -rs``)."""

VECTOR_NODE = "EnumerateNearVectorNode"
"""Plan node of a query answered by a vector index."""

VECTOR_RULE = "use-vector-index"
"""Optimizer rule that puts :data:`VECTOR_NODE` into a plan."""

_PARAMS = re.compile(r"^//\s*@params:\s*(.*)$", re.MULTILINE)
_BINDS = re.compile(r"(?<![@\w])@(\w+)")


@asynccontextmanager
async def arango_test_store(
    url: str, password: str, embedding_model: str, dim: int, *, n_lists: int | None = None
) -> AsyncIterator[ArangoGraphStore]:
    """Yield a store on a new database ``graphrag_test_<uuid hex>``, dropped afterwards.

    Args:
        url: The server URL (``GRAPHRAG_ARANGO__URL``).
        password: The ``root`` password (the database is created and dropped as root).
        embedding_model: Passed to ``ensure_schema``.
        dim: Passed to ``ensure_schema``.
        n_lists: IVF centroids of the vector indexes (``None``: the store's default).

    Yields:
        A store whose schema is ensured, whose BM25 queries see the writes made before them
        (``wait_for_sync``, for tests only).
    """
    name = f"graphrag_test_{uuid.uuid4().hex}"
    settings = ArangoSettings(
        url=url,
        database=name,
        username="root",
        password=SecretStr(password),
        retries=1,
        n_lists=n_lists,
    )
    # tests read their own writes: BM25 waits for chunks_view to commit (sync_chunks_view.aql)
    store = ArangoGraphStore(settings, wait_for_sync=True)
    try:
        await store.ensure_schema(embedding_model=embedding_model, dim=dim)
        yield store
    finally:
        await store.close()
        try:
            await drop_database(settings, name)
        except Exception as exc:  # the test's own failure matters more
            logger.warning("could not drop test database %s: %s", name, exc)


# --------------------------------------------------------------------------- EXPLAIN


@dataclass(frozen=True)
class PlanCheck:
    """The EXPLAIN of one query file: its plan's node types and optimizer rules."""

    query: str
    nodes: tuple[str, ...]
    rules: tuple[str, ...]

    @property
    def uses_vector_index(self) -> bool:
        """Whether the plan has the vector index node."""
        return VECTOR_NODE in self.nodes


def vector_query_names(queries: Queries) -> list[str]:
    """Return the names of the query files that use ``APPROX_NEAR_*`` (a vector index)."""
    return [name for name in queries.names() if "APPROX_NEAR_" in queries.text(name)]


def example_binds(text: str, dim: int, graph: str) -> dict[str, Any]:
    """Return plausible bind values for EXPLAIN: every ``@param`` of the file gets one.

    Raises:
        KeyError: If the file uses a bind parameter without an example value here.
    """
    vector = [1.0] + [0.0] * (dim - 1)
    values: dict[str, Any] = {
        "query": vector,
        "queries": [vector, vector[::-1]],
        "k": 5,
        "nprobe": 4,
        "threshold": 0.5,
        "text": "entity",
        "sync": False,
        "k_chunks": 5,
        "k_entities": 5,
        "seed_ids": [],
        "hops": 1,
        "degree_cap": 10,
        "max_entities": 20,
        "max_relations": 20,
        "graph": graph,
    }
    # an assembled query has one @params line per file (the query's and its fragments')
    declared = _PARAMS.findall(text)
    names = (
        list(dict.fromkeys(p.strip() for line in declared for p in line.split(",") if p.strip()))
        if declared
        else sorted(set(_BINDS.findall(text)))
    )
    missing = [n for n in names if n not in values]
    if missing:
        msg = f"no example value for bind parameters {missing}; add them to example_binds"
        raise KeyError(msg)
    return {n: values[n] for n in names}


def _node_types(plan: Any) -> Iterator[str]:
    """Yield the ``type`` of every node in a plan, subquery plans included."""
    if isinstance(plan, dict):
        if isinstance(plan.get("type"), str) and "id" in plan:
            yield plan["type"]
        for value in plan.values():
            yield from _node_types(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _node_types(item)


def explain_one(
    db: StandardDatabase, queries: Queries, name: str, dim: int, graph: str
) -> PlanCheck:
    """EXPLAIN ``aql/<name>.aql`` with :func:`example_binds` and return its plan summary."""
    text = queries.text(name)
    plan = cast(dict[str, Any], db.aql.explain(text, bind_vars=example_binds(text, dim, graph)))
    rules = tuple(str(r) for r in plan.get("rules", []))
    return PlanCheck(query=name, nodes=tuple(_node_types(plan.get("nodes", []))), rules=rules)


def _seed(db: StandardDatabase, dim: int, count: int) -> None:
    """Insert ``count`` documents with unit embeddings into each vector-indexed collection."""
    rng = random.Random(7)

    def vector() -> list[float]:
        raw = [rng.gauss(0.0, 1.0) for _ in range(dim)]
        norm = sum(x * x for x in raw) ** 0.5 or 1.0
        return [x / norm for x in raw]

    for collection, prefix in ((CHUNKS, "c"), (ENTITIES, "e"), (KEYS, "k")):
        docs = [
            {"_key": f"{prefix}{i}", "name": f"entity {i}", "text": f"entity number {i}",
             "document_id": "d0", "embedding": vector()}
            for i in range(count)
        ]  # fmt: skip
        db.collection(collection).insert_many(docs, silent=True)


async def explain_vector_queries(
    url: str, password: str, *, dim: int = 8, documents: int = 256, n_lists: int = 8
) -> tuple[dict[str, Any], list[PlanCheck]]:
    """EXPLAIN every vector query on a throw-away database whose vector indexes are trained.

    The database gets ``documents`` random unit vectors in each vector-indexed collection,
    vector indexes with ``n_lists`` centroids (``build_vector_indexes(min_documents=1)``),
    then every ``APPROX_NEAR_*`` query file is explained (not run) with example binds. It is
    dropped afterwards.

    Args:
        url: The server URL.
        password: The root password.
        dim: The embedding dimension.
        documents: Documents per collection (at least ``n_lists``).
        n_lists: IVF centroids per index.

    Returns:
        The vector-index build report and one :class:`PlanCheck` per query file.
    """
    queries = Queries()
    async with arango_test_store(url, password, "explain-check", dim, n_lists=n_lists) as store:
        conn = ArangoConnection(store.settings)
        try:
            await conn.run("seeding vectors", lambda db: _seed(db, dim, documents))
            report = await store.build_vector_indexes(min_documents=1)
            checks = await conn.run(
                "explaining the vector queries",
                lambda db: [
                    explain_one(db, queries, name, dim, store.settings.graph_name)
                    for name in vector_query_names(queries)
                ],
            )
        finally:
            conn.close()
    return report, checks


def _main(argv: list[str]) -> int:
    """``python -m graphrag.stores.arango.testing explain``: print the plans, exit 1 on a miss."""
    url, password = (
        os.environ.get("GRAPHRAG_ARANGO__URL"),
        os.environ.get("GRAPHRAG_ARANGO__PASSWORD", ""),
    )
    if argv[1:] != ["explain"] or not url:
        sys.stderr.write(
            "usage: GRAPHRAG_ARANGO__URL=... GRAPHRAG_ARANGO__PASSWORD=<root password> "
            "python -m graphrag.stores.arango.testing explain\n"
        )
        return 2
    report, checks = asyncio.run(explain_vector_queries(url, password))
    out = sys.stdout
    out.write(f"vector feature: {report.get('vector_feature')}\n")
    for target in (CHUNKS, ENTITIES, KEYS):
        built = report.get(target) or {}
        out.write(f"index on {target}: usable={built.get('usable')} ({built.get('reason')})\n")
    for check in checks:
        mark = "yes" if check.uses_vector_index else "NO "
        rule = VECTOR_RULE if VECTOR_RULE in check.rules else "-"
        out.write(f"{mark} {check.query:32} {VECTOR_NODE if mark == 'yes' else '':24} {rule}\n")
    missing = [c.query for c in checks if not c.uses_vector_index]
    out.write(
        f"{len(checks) - len(missing)} of {len(checks)} vector queries use the vector index"
        + (f"; not: {', '.join(missing)}\n" if missing else "\n")
    )
    return 1 if missing or not checks else 0


if __name__ == "__main__":  # pragma: no cover - run by hand against a server
    sys.exit(_main(sys.argv))
