"""Migration between stores, embedded -> embedded (through ArangoDB: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.errors import ConfigError
from graphrag.models import Document, DocumentStatus
from graphrag.operations.migrate import migrate
from graphrag.stores.embedded import EmbeddedGraphStore
from tests.sample_graphs import DIM, ENTITIES, MODEL, open_embedded, sample_graphs, snapshot


class FinalizingStore(EmbeddedGraphStore):
    """An embedded store that also has the optional ``finalize_load`` hook."""

    finalized = 0

    async def finalize_load(self) -> None:
        self.finalized += 1


async def test_migrate_copies_every_written_document_between_embedded_stores(
    tmp_path: Path,
) -> None:
    source = await open_embedded(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    stub = Document(
        id="d_failed", source="bad.pdf", title="bad", mime="application/pdf", content_hash="x"
    )
    await source.set_document_status(stub, DocumentStatus.FAILED, error="unreadable")
    target = FinalizingStore(tmp_path / "target.db")
    await target.ensure_schema(embedding_model=MODEL, dim=DIM)
    seen: list[int] = []

    report = await migrate(source, target, batch_size=2, progress=seen.append)

    assert (report.documents, report.chunks, report.batches, report.merges) == (3, 6, 2, 1)
    assert seen == [2, 3]
    assert report.finalized
    assert target.finalized == 1
    assert report.source == source.location
    assert report.target == target.location
    assert await snapshot(target) == await snapshot(source)
    assert await target.get_document("d_failed") is None  # only written documents move
    await source.close()
    await target.close()


async def test_migrate_twice_replaces_instead_of_duplicating(tmp_path: Path) -> None:
    source = await open_embedded(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    target = await open_embedded(tmp_path / "target.db")
    first = await migrate(source, target)
    again = await migrate(source, target)
    assert not first.finalized  # the embedded store has no finalize_load
    assert (again.documents, again.entities_new, again.merges) == (3, 0, 0)
    assert first.entities_new == len(ENTITIES)
    assert await snapshot(target) == await snapshot(source)
    await source.close()
    await target.close()


async def test_migrate_rejects_bad_arguments(tmp_path: Path) -> None:
    store = await open_embedded(tmp_path / "one.db")
    other = await open_embedded(tmp_path / "two.db")
    with pytest.raises(ConfigError, match="same store"):
        await migrate(store, store)
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        await migrate(store, other, batch_size=0)
    await store.close()
    await other.close()
