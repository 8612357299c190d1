"""Large documents stream through the pipeline: their own batch, parts, bounded memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphrag.config import load_settings
from graphrag.errors import StoreQueryError
from graphrag.models import DocumentStatus
from graphrag.operations.ingest import run_ingest
from graphrag.runtime import Components, open_components
from graphrag.testing.snapshot import snapshot

pytestmark = pytest.mark.slow

SENTENCE = "Marie Curie founded the Radium Institute in Paris with Pierre Curie. "
OTHER = "Albert Einstein lived in Bern and later in Berlin with Mileva Maric. "


def corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a_small.txt").write_text("Albert Einstein lived in Bern.")
    (folder / "b_large.txt").write_text((SENTENCE + OTHER) * 1500)  # one line, about 200 kB
    (folder / "c_small.txt").write_text("Warsaw is the capital of Poland.")
    return folder


async def components(
    tmp_path: Path, name: str, hash_embedder: Any, extractor: Any, **ingest: Any
) -> Components:
    settings = load_settings(embedded={"path": tmp_path / name / "graph.db"}, ingest=ingest)
    return await open_components(settings, embedder=hash_embedder, extractor=extractor)


async def test_a_large_file_forms_its_own_batch_and_streams_in_parts(
    tmp_path: Path, hash_embedder: Any, extractor: Any
) -> None:
    folder = corpus(tmp_path / "docs")
    streamed = await components(tmp_path, "parts", hash_embedder, extractor,
                                max_batch_chars=50_000, chunk_batch=64)  # fmt: skip
    steps: list[int] = []
    batches: list[int] = []
    parts: list[tuple[int, bool, bool]] = []
    streamed.builder.on_chunks = steps.append
    real_ingest, real_append = streamed.builder.ingest, streamed.store.append_chunks

    async def counting(documents: Any, *, force: bool = False) -> Any:
        batches.append(len(documents))
        return await real_ingest(documents, force=force)

    async def appending(document: Any, chunks: Any, *, first: bool, last: bool) -> Any:
        parts.append((len(chunks), first, last))
        return await real_append(document, chunks, first=first, last=last)

    streamed.builder.ingest = counting  # type: ignore[method-assign]
    streamed.store.append_chunks = appending  # type: ignore[method-assign]
    whole = await components(tmp_path, "whole", hash_embedder, extractor, chunk_batch=4096)
    try:
        summary = await run_ingest(streamed, [folder], batch_size=256)
        await run_ingest(whole, [folder], batch_size=256)
        assert await snapshot(streamed.store) == await snapshot(whole.store)
    finally:
        await streamed.close()
        await whole.close()

    assert summary.ok
    assert summary.report.written == 3
    assert batches == [1, 1, 1]  # the large file closes the batch before and after it
    assert len(parts) > 3
    assert parts[0][1]
    assert parts[-1][2]
    assert not any(first or last for _, first, last in parts[1:-1])
    assert max(size for size, _, _ in parts) == 64
    assert sum(steps) == summary.report.chunks


async def test_a_part_that_fails_leaves_a_document_the_next_run_replaces(
    tmp_path: Path, hash_embedder: Any, extractor: Any
) -> None:
    folder = corpus(tmp_path / "docs")
    broken = await components(tmp_path, "broken", hash_embedder, extractor, chunk_batch=64)
    real = broken.store.append_chunks
    calls = 0

    async def failing(document: Any, chunks: Any, *, first: bool, last: bool) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StoreQueryError("simulated failure of a part")
        return await real(document, chunks, first=first, last=last)

    broken.store.append_chunks = failing  # type: ignore[method-assign]
    whole = await components(tmp_path, "whole", hash_embedder, extractor, chunk_batch=4096)
    try:
        summary = await run_ingest(broken, [folder], batch_size=256)
        assert [reason for _, reason in summary.report.failed] == ["simulated failure of a part"]
        large = [d for d in await broken.store.list_documents() if d.source.endswith("large.txt")]
        assert large[0].status is DocumentStatus.FAILED
        stats = await broken.store.stats()
        assert stats.pending_documents == 0
        assert stats.chunks == 2  # the parts written before the failure were removed
        broken.store.append_chunks = real  # type: ignore[method-assign]
        again = await run_ingest(broken, [folder], batch_size=256)
        assert again.ok
        assert again.report.written == 1
        await run_ingest(whole, [folder], batch_size=256)
        assert await snapshot(broken.store) == await snapshot(whole.store)
    finally:
        await broken.close()
        await whole.close()
