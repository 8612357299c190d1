"""GraphBuilder: failing documents are isolated and a failed rebuild is still a replacement."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from graphrag.errors import StoreQueryError
from graphrag.ingest.loaders import load_file
from graphrag.models import Document, DocumentGraph, DocumentStatus
from graphrag.runtime import Components, open_components
from graphrag.stores.embedded import writes

pytestmark = pytest.mark.slow


@pytest.fixture
async def components(settings: Any, hash_embedder: Any, extractor: Any) -> AsyncIterator[Any]:
    opened = await open_components(settings, embedder=hash_embedder, extractor=extractor)
    try:
        yield opened
    finally:
        await opened.close()


def load(folder: Path, components: Components) -> list[Document]:
    files = sorted(folder.glob("*.txt"))
    return [d for f in files for d in load_file(f, components.settings.ingest)]


def fail_writes_of(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the embedded store refuse to write the document whose source ends with ``name``."""
    real = writes.upsert

    def upsert(conn: sqlite3.Connection, graph: DocumentGraph, dim: int, **kw: Any) -> Any:
        if graph.document.source.endswith(name):
            msg = f"{graph.document.source}: simulated write failure"
            raise StoreQueryError(msg)
        return real(conn, graph, dim, **kw)

    monkeypatch.setattr(writes, "upsert", upsert)


async def test_failing_document_is_isolated(
    components: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Marie Curie worked in Paris with Pierre Curie.")
    (folder / "b.txt").write_text("Albert Einstein lived in Berlin and in Bern.")
    fail_writes_of(monkeypatch, "b.txt")

    report = await components.builder.ingest(load(folder, components))

    assert report.written == 1
    assert [source for source, _ in report.failed] == [str(folder / "b.txt")]
    stored = {Path(d.source).name: d for d in await components.store.list_documents()}
    assert stored["a.txt"].status is DocumentStatus.DONE
    assert stored["b.txt"].status is DocumentStatus.FAILED
    assert "simulated write failure" in (stored["b.txt"].error or "")
    found = await components.store.find_entities(["albert einstein", "marie curie"])
    assert not found.get("albert einstein")  # nothing of the failed document was written
    assert found.get("marie curie")


async def test_rebuild_after_failed_replacement_counts_as_replaced(
    components: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "a.txt"
    doc.write_text("Marie Curie worked in Paris with Pierre Curie.")
    first = await components.builder.ingest(load(folder, components))
    assert (first.written, first.replaced) == (1, 0)

    doc.write_text("Isaac Newton studied at Cambridge University.")
    with monkeypatch.context() as patch:
        fail_writes_of(patch, "a.txt")
        failed = await components.builder.ingest(load(folder, components))
    assert failed.written == 0
    assert len(failed.failed) == 1

    again = await components.builder.ingest(load(folder, components))
    assert again.failed == []
    assert (again.written, again.replaced) == (1, 1)  # the old version was replaced, not new
    stats = await components.store.stats()
    assert (stats.documents, stats.chunks, stats.failed_documents) == (1, 1, 0)
