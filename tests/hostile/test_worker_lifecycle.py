"""Killing a real ``graphrag ingest`` never leaves its spaCy worker processes behind.

Each test starts the real CLI (``python -m pipelines.cli``) on a corpus large enough to
still be extracting with two worker processes, waits until the workers exist (children of
the CLI process, found through /proc), then kills the CLI: with SIGKILL the workers must
die with it (parent-death signal, watchdog); with SIGTERM the CLI must exit 143 with a
message, and the workers must be gone too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
]

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["Ingrid Halvorsen", "Lars Eriksen", "Sofia Berg", "Tomas Lind", "Anna Holm"]
PLACES = ["Norrvik", "Bergen", "Oslo", "Tromso", "Velmora", "Trondheim"]
ORGS = ["the Norrvik Maritime Council", "Nordlys Shipping", "the Halvorsen Shipyard"]


def write_busy_corpus(folder: Path, files: int = 30, sentences: int = 120) -> Path:
    """Enough text (about 400 chunks) to keep two spaCy workers busy for seconds."""
    folder.mkdir(parents=True)
    for f in range(files):
        lines = []
        for s in range(sentences):
            name, place = NAMES[(f + s) % len(NAMES)], PLACES[(f * 7 + s) % len(PLACES)]
            org = ORGS[(f + 2 * s) % len(ORGS)]
            lines.append(f"In {1900 + s} {name} moved to {place}, where {org} built a pier.")
        (folder / f"doc{f:02d}.txt").write_text(" ".join(lines), encoding="utf-8")
    return folder


def children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def ingest_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], set[int]]]:
    """A real ``graphrag ingest`` that has started its two spaCy workers."""
    corpus = write_busy_corpus(tmp_path / "corpus")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GRAPHRAG_")},
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "GRAPHRAG_EXTRACTION__PROCESSES": "2",
        "GRAPHRAG_EXTRACTION__BATCH_SIZE": "4",
        "GRAPHRAG_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "pipelines.cli", "ingest", str(corpus)]
    command += ["--db", str(tmp_path / "graph.db")]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    workers: set[int] = set()

    def started() -> bool:
        workers.update(children(process.pid))
        return len(workers) >= 2 or process.poll() is not None

    try:
        assert wait_for(started, timeout=25), "the ingest never started its spaCy workers"
        assert process.poll() is None, process.communicate()[1].decode(errors="replace")
        yield process, workers
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        for pid in workers:  # never leave a worker behind, even when the test fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_sigkill_of_the_cli_takes_the_workers_down(
    ingest_process: tuple[subprocess.Popen[bytes], set[int]],
) -> None:
    process, workers = ingest_process
    process.kill()
    process.wait(timeout=10)
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5), (
        f"orphaned spaCy workers still alive: {sorted(p for p in workers if alive(p))}"
    )


def test_sigterm_exits_143_with_a_message_and_no_orphans(
    ingest_process: tuple[subprocess.Popen[bytes], set[int]],
) -> None:
    process, workers = ingest_process
    started = time.monotonic()
    process.terminate()
    _, stderr = process.communicate(timeout=20)
    # promptly, even when a model call in a worker thread cannot be interrupted
    assert time.monotonic() - started < 8
    assert process.returncode == 143, stderr.decode(errors="replace")
    message = stderr.decode(errors="replace")
    assert "terminated (SIGTERM)" in message
    assert "Traceback" not in message
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5), (
        f"spaCy workers still alive: {sorted(p for p in workers if alive(p))}"
    )


def test_ctrl_c_exits_130_promptly(
    ingest_process: tuple[subprocess.Popen[bytes], set[int]],
) -> None:
    import signal

    process, workers = ingest_process
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert time.monotonic() - started < 8
    assert process.returncode == 130, stderr.decode(errors="replace")
    assert "interrupted" in stderr.decode(errors="replace")
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5)
