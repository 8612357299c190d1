"""Real `graphrag ingest` processes: two writers at once, and `kill -9` in the middle.

The graph must not depend on who wrote what when: two processes ingesting the two halves of
a folder into one store at once end with the graph of one sequential run, and a run killed
at any point, then run again, ends with the graph of a run that was never interrupted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from graphrag.stores.embedded import EmbeddedGraphStore
from tests.contract.resolution_kit import snapshot

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "corpus"
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GRAPHRAG_EXTRACTION__PROCESSES": "1",
    "GRAPHRAG_LOG_LEVEL": "WARNING",
}


def ingest_cmd(db: Path, *inputs: Path, batch: int = 256) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "ingest", *map(str, inputs),
            "--db", str(db), "--batch-size", str(batch)]  # fmt: skip


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


async def graph_of(db: Path) -> dict[str, Any]:
    store = EmbeddedGraphStore(db)
    with sqlite3.connect(db) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    await store.ensure_schema(embedding_model=meta["embedding_model"], dim=int(meta["dim"]))
    try:
        state = await snapshot(store)
    finally:
        await store.close()
    state.pop("documents")  # updated_at differs; ids and hashes are compared through chunks
    return state


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The sample corpus as one folder and as two halves (copies)."""
    root = tmp_path_factory.mktemp("halves")
    files = sorted(SAMPLES.iterdir())
    whole, first, second = root / "all", root / "first", root / "second"
    for folder in (whole, first, second):
        folder.mkdir()
    for i, path in enumerate(files):
        shutil.copy(path, whole / path.name)
        shutil.copy(path, (first if i % 2 else second) / path.name)
    return whole, first, second


@pytest.fixture(scope="module")
def sequential(
    halves: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    _, first, second = halves
    db = tmp_path_factory.mktemp("seq") / "graph.db"
    run(ingest_cmd(db, first))
    run(ingest_cmd(db, second))
    return asyncio.run(graph_of(db))


def test_two_concurrent_ingests_equal_a_sequential_run(
    halves: tuple[Path, Path, Path], sequential: dict[str, Any], tmp_path: Path
) -> None:
    _, first, second = halves
    db = tmp_path / "graph.db"
    procs = [
        subprocess.Popen(ingest_cmd(db, half, batch=1), env=ENV, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for half in (second, first)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]

    assert asyncio.run(graph_of(db)) == sequential


@pytest.fixture(scope="module")
def uninterrupted(
    halves: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    whole, _, _ = halves
    db = tmp_path_factory.mktemp("whole") / "graph.db"
    run(ingest_cmd(db, whole))
    return asyncio.run(graph_of(db))


def documents_done(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("kill_after", [1, 6, 14])
def test_kill_9_then_rerun_equals_an_uninterrupted_run(
    halves: tuple[Path, Path, Path],
    uninterrupted: dict[str, Any],
    tmp_path: Path,
    kill_after: int,
) -> None:
    whole, _, _ = halves
    db = tmp_path / "graph.db"
    proc = subprocess.Popen(ingest_cmd(db, whole, batch=1), env=ENV, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while documents_done(db) < kill_after and proc.poll() is None:
        assert time.monotonic() < deadline, "the ingest made no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    run(ingest_cmd(db, whole))

    assert asyncio.run(graph_of(db)) == uninterrupted
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
