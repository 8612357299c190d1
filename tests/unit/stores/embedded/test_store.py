"""Embedded store specifics: the file, the schema, connections, caches and the factory."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.errors import SchemaError, StoreQueryError, StoreUnavailableError
from graphrag.models import Hit
from graphrag.stores.embedded import EmbeddedGraphStore
from graphrag.stores.embedded.schema import SCHEMA_VERSION
from tests.contract.builder import CORPUS, CURIE, EINSTEIN, PIERRE, build, build_all, cid, eid

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> Any:
    store = EmbeddedGraphStore(tmp_path / "data" / "graph.db")
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    yield store
    await store.close()


async def test_constructor_does_no_io(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "graph.db"

    store = EmbeddedGraphStore(path)

    assert store.location == str(path)
    assert not path.parent.exists()


async def test_ensure_schema_creates_a_wal_file_with_parents(store: Any) -> None:
    path = Path(store.location)
    assert await asyncio.to_thread(path.is_file)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["embedding_model"] == "hash-embedder-v1"
    assert (await store.stats()).schema_version == SCHEMA_VERSION


async def test_not_an_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not a database " * 100)
    store = EmbeddedGraphStore(path)

    with pytest.raises(StoreUnavailableError, match=r"notes\.db.*not an SQLite database"):
        await store.ensure_schema(embedding_model="m", dim=8)
    with pytest.raises(StoreUnavailableError, match="ensure_schema"):
        await store.stats()


async def test_a_directory_is_unavailable(tmp_path: Path) -> None:
    store = EmbeddedGraphStore(tmp_path)

    with pytest.raises(StoreUnavailableError, match=str(tmp_path)):
        await store.ensure_schema(embedding_model="m", dim=8)


async def test_foreign_sqlite_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO invoices VALUES (1)")
    before = path.read_bytes()

    with pytest.raises(SchemaError, match=r"not a graphrag embedded store.*nothing was changed"):
        await EmbeddedGraphStore(path).ensure_schema(embedding_model="m", dim=8)

    assert path.read_bytes() == before  # not switched to WAL (header bytes 18-19)
    assert _names(tmp_path) == ["other.db"]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _wreck_first_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # keep the SQLite header, wreck the first page
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def test_damaged_store_says_damaged_and_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "graph.db"
    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model="m", dim=8)
    await store.close()
    _wreck_first_page(path)

    with pytest.raises(StoreUnavailableError, match=r"damaged.*restore it from a backup"):
        await EmbeddedGraphStore(path).ensure_schema(embedding_model="m", dim=8)


def _empty(folder: Path) -> None:
    for leftover in folder.iterdir():
        leftover.unlink()


async def test_two_processes_create_one_new_store_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new" / "graph.db"
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from graphrag.stores.embedded import EmbeddedGraphStore\n"
        "async def main():\n"
        "    s = EmbeddedGraphStore(Path(sys.argv[1]))\n"
        "    await s.ensure_schema(embedding_model='m', dim=8)\n"
        "    print((await s.stats()).schema_version)\n"
        "asyncio.run(main())\n"
    )
    for _ in range(3):
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                script,
                str(path),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(4)
        ]
        results = [await p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, results
        assert {out.strip() for out, _ in results} == {str(SCHEMA_VERSION).encode()}
        _empty(path.parent)


async def test_newer_schema_version_is_refused(store: Any) -> None:
    await store.close()
    with sqlite3.connect(store.location) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")

    with pytest.raises(SchemaError, match="schema version 99"):
        await store.ensure_schema(embedding_model="hash-embedder-v1", dim=32)


async def test_reopening_with_another_model_is_refused_and_keeps_data(
    store: Any, hash_embedder: Any
) -> None:
    await store.upsert_documents([await build(hash_embedder, CURIE)])
    await store.close()
    other = EmbeddedGraphStore(Path(store.location))

    with pytest.raises(SchemaError, match="new store path"):
        await other.ensure_schema(embedding_model="minilm", dim=384)

    await other.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    assert (await other.stats()).chunks == 2
    await other.close()


async def test_failed_recheck_keeps_the_store_open(store: Any) -> None:
    with pytest.raises(SchemaError):
        await store.ensure_schema(embedding_model="minilm", dim=384)

    assert (await store.stats()).documents == 0


async def test_closed_store_refuses_then_reopens(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents([await build(hash_embedder, EINSTEIN)])
    await store.close()

    with pytest.raises(StoreUnavailableError, match="not open"):
        await store.get_chunks([cid(EINSTEIN.source, 0)])
    with pytest.raises(StoreUnavailableError):
        await store.upsert_documents([])

    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    assert len(await store.get_chunks([cid(EINSTEIN.source, 0)])) == 1


async def test_search_sees_writes_of_another_instance(store: Any, hash_embedder: Any) -> None:
    reader = EmbeddedGraphStore(Path(store.location))
    await reader.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    [query] = await hash_embedder.embed(["Albert Einstein"])
    assert await reader.vector_search("entities", query, 1) == []

    await store.upsert_documents([await build(hash_embedder, EINSTEIN)])

    assert (await reader.vector_search("entities", query, 1))[0].id == eid("Albert Einstein")
    expansion = await reader.expand([Hit(id=eid("Ulm"), score=1.0)], hops=1, degree_cap=5,
                                    max_entities=5)  # fmt: skip
    assert eid("Albert Einstein") in {h.id for h in expansion.entities}
    await reader.close()


async def test_caches_follow_writes_and_generation(store: Any, hash_embedder: Any) -> None:
    [query] = await hash_embedder.embed(["Sceaux"])
    before = store.generation
    await store.upsert_documents([await build(hash_embedder, CURIE)])
    assert all(h.id != eid("Sceaux") for h in await store.vector_search("entities", query, 3))

    await store.upsert_documents([await build(hash_embedder, PIERRE)])

    assert (await store.vector_search("entities", query, 1))[0].id == eid("Sceaux")
    assert store.generation >= before + 2
    graph = await store.subgraph([cid(PIERRE.source, 0)], [], degree_cap=5)
    assert eid("Sceaux") in graph.entity_chunk_counts


async def test_concurrent_reads_and_writes(store: Any, hash_embedder: Any) -> None:
    graphs = await build_all(hash_embedder, CORPUS)
    [query] = await hash_embedder.embed(["Paris"], kind="query")

    results = await asyncio.gather(
        *(store.upsert_documents([g]) for g in graphs),
        *(store.vector_search("chunks", query, 3) for _ in range(10)),
        *(store.keyword_search("Paris", 3) for _ in range(10)),
    )

    assert sum(r.documents for r in results[:3]) == 3
    assert (await store.stats()).chunks == 5


async def test_unknown_search_target_and_zero_k(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents([await build(hash_embedder, CURIE)])
    [query] = await hash_embedder.embed(["Paris"])

    with pytest.raises(StoreQueryError, match="search target"):
        await store.vector_search("documents", query, 3)
    assert await store.vector_search("chunks", query, 0) == []
    assert await store.keyword_search("Paris", 0) == []
    zero = np.zeros(hash_embedder.dim, dtype=np.float32)
    assert len(await store.vector_search("chunks", zero, 5)) == 2
    row = query.reshape(1, -1)
    assert (await store.vector_search("chunks", row, 1))[0].id == (
        await store.vector_search("chunks", query, 1)
    )[0].id
