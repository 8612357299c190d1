"""Large documents stream through the pipeline: their own batch, chunk steps, progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphrag.config import load_settings
from graphrag.runtime import open_components
from pipelines.ingest_job import run_ingest

pytestmark = pytest.mark.slow

SENTENCE = "Marie Curie founded the Radium Institute in Paris with Pierre Curie. "


async def test_a_large_file_forms_its_own_batch_and_streams_in_steps(
    tmp_path: Path, hash_embedder: Any, extractor: Any
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a_small.txt").write_text("Albert Einstein lived in Bern.")
    (folder / "b_large.txt").write_text(SENTENCE * 3000)  # one line, about 200 kB
    (folder / "c_small.txt").write_text("Warsaw is the capital of Poland.")
    settings = load_settings(
        embedded={"path": tmp_path / "graph.db"},
        ingest={"max_batch_chars": 50_000, "chunk_batch": 64},
    )
    components = await open_components(settings, embedder=hash_embedder, extractor=extractor)
    steps: list[int] = []
    batches: list[int] = []
    components.builder.on_chunks = steps.append
    real = components.builder.ingest

    async def counting(documents: Any, *, force: bool = False) -> Any:
        batches.append(len(documents))
        return await real(documents, force=force)

    components.builder.ingest = counting  # type: ignore[method-assign]
    try:
        summary = await run_ingest(components, [folder], batch_size=256)
    finally:
        await components.close()

    assert summary.ok
    assert summary.report.written == 3
    assert batches == [1, 1, 1]  # the large file closes the batch before and after it
    assert len(steps) > 3
    assert max(steps) == 64
    assert sum(steps) == summary.report.chunks
