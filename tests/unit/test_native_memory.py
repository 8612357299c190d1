"""The allocator settings of graphrag.native_memory, and their use by the ingest job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import graphrag.operations.ingest as ingest_module
from graphrag import native_memory
from graphrag.config import load_settings
from graphrag.ids import content_hash, document_id
from graphrag.models import Document
from graphrag.operations.ingest import ingest_documents, run_ingest
from graphrag.runtime import open_components

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import ctypes, json, os, sys
from graphrag.native_memory import release_free_memory, trim_on_free
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.restype = ctypes.c_void_p
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
calls = [trim_on_free(), trim_on_free()] if sys.argv[1] == "set" else []
size, count = 100 << 10, 120
blocks = [0] * count
big = libc.malloc(8 << 20)  # mmapped; freeing it raises glibc's thresholds (torch-like)
libc.memset(big, 1, 8 << 20)
libc.free(big)
for i in range(count):  # 12 MB on the heap, under the raised 16 MB trim threshold
    blocks[i] = libc.malloc(size)
    libc.memset(blocks[i], 1, size)
before = rss()
for block in reversed(blocks):
    libc.free(block)
after_free = rss()
trimmed = release_free_memory()
after_trim = rss()
print(json.dumps({"calls": calls, "freed_mb": (before - after_free) / 2**20,
                  "trimmed": trimmed, "trim_mb": (after_free - after_trim) / 2**20}))
"""

linux_glibc = pytest.mark.skipif(
    native_memory._glibc() is None, reason="needs Linux with glibc (mallopt, malloc_trim)"
)


def probe(mode: str, **env: str) -> dict[str, Any]:
    """Run the allocation probe in a fresh process; ``mode`` 'set' calls trim_on_free first."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@linux_glibc
def test_trim_on_free_returns_freed_memory_at_once_and_is_idempotent() -> None:
    treated = probe("set")
    assert treated["calls"] == [True, True]
    assert treated["freed_mb"] > 10  # the 12 MB went back to the system on free
    control = probe("control")
    assert control["freed_mb"] < 1  # without it glibc keeps them ...
    assert control["trimmed"] is True
    assert control["trim_mb"] > 10  # ... until malloc_trim(0)


@linux_glibc
def test_a_preset_malloc_trim_threshold_is_respected() -> None:
    kept = probe("set", MALLOC_TRIM_THRESHOLD_="67108864")
    assert kept["calls"] == [False, False]
    assert kept["freed_mb"] < 1  # the user's 64 MB threshold holds, not ours
    assert kept["trim_mb"] > 10  # an explicit trim still works


@linux_glibc
def test_release_free_memory_returns_true_in_this_process() -> None:
    assert native_memory.release_free_memory() is True
    assert native_memory.release_free_memory() is True


def test_without_glibc_both_are_no_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native_memory, "_glibc", lambda: None)
    monkeypatch.setattr(native_memory, "_configured", [])
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert native_memory.trim_on_free() is False
    assert native_memory.trim_on_free() is False
    assert native_memory.release_free_memory() is False


def test_glibc_is_not_looked_for_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    native_memory._glibc.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert native_memory._glibc() is None
    finally:
        monkeypatch.undo()
        native_memory._glibc.cache_clear()


class Counting:
    """Counts calls of a real function and records them in a shared event list."""

    def __init__(self, real: Any, name: str, events: list[str]) -> None:
        self.real, self.name, self.events = real, name, events

    def __call__(self) -> bool:
        self.events.append(self.name)
        result: bool = self.real()
        return result


def document(name: str, text: str) -> Document:
    return Document(
        id=document_id(name),
        source=name,
        title=name,
        mime="text/plain",
        content_hash=content_hash(text),
        text=text,
    )


TEXTS = [
    "Marie Curie founded the Radium Institute in Paris.",
    "Albert Einstein lived in Bern and later in Berlin.",
    "Warsaw is the capital of Poland.",
]


@pytest.mark.slow
async def test_ingest_trims_once_per_batch_after_the_write(
    tmp_path: Path, hash_embedder: Any, extractor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    for name in ("trim_on_free", "release_free_memory"):
        counter = Counting(getattr(native_memory, name), name, events)
        monkeypatch.setattr(ingest_module, name, counter)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(TEXTS):
        (folder / f"{i}.txt").write_text(text)
    settings = load_settings(embedded={"path": tmp_path / "graph.db"})
    components = await open_components(settings, embedder=hash_embedder, extractor=extractor)
    real_ingest = components.builder.ingest

    async def ingesting(documents: Any, *, force: bool = False) -> Any:
        report = await real_ingest(documents, force=force)
        stored = await components.store.get_documents([d.id for d in documents])
        events.append(f"wrote {len(stored)}")
        return report

    components.builder.ingest = ingesting  # type: ignore[method-assign]
    try:
        summary = await run_ingest(components, [folder], batch_size=2)
        assert summary.report.written == 3
        batch = ["wrote 2", "release_free_memory", "wrote 1", "release_free_memory"]
        assert events == ["trim_on_free", *batch]
        events.clear()
        docs = [document(f"api:{i}", t) for i, t in enumerate(TEXTS)]
        report = await ingest_documents(components, docs, batch_size=1)  # the API's path
        assert report.written == 3
        assert events == ["trim_on_free", *(["wrote 1", "release_free_memory"] * 3)]
    finally:
        await components.close()
