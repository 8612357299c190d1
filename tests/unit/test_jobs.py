"""Background ingest jobs: persisted, stopped gracefully, resumed by another runner."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from graphrag.errors import InvalidArgumentError, NotFoundError
from graphrag.facade import GraphRAG
from graphrag.jobs import JobInput, JobRunner, safe_file_name
from graphrag.models import Chunk, ChunkExtraction
from graphrag.records import JobFileStatus, JobStatus


class SlowExtractor:
    """The real spaCy extractor, slowed down so a job can be stopped midway."""

    def __init__(self, inner: Any, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    @property
    def name(self) -> str:
        return str(self._inner.name)

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        await asyncio.sleep(self._delay)
        result: list[ChunkExtraction] = await self._inner.extract(chunks)
        return result


class StallingExtractor(SlowExtractor):
    """Extracts the first ``free`` calls, then stalls every call until it is cancelled.

    ``stalled`` is set when a call stalls: a job stopped after that has inputs left, however
    fast the machine (a fixed sleep raced the pipeline's batching).
    """

    def __init__(self, inner: Any, free: int) -> None:
        super().__init__(inner, 0.0)
        self._free = free
        self.stalled = asyncio.Event()

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        if self._free > 0:
            self._free -= 1
            return await super().extract(chunks)
        self.stalled.set()
        await asyncio.Event().wait()  # until the stop cancels the job
        raise AssertionError("unreachable")


def inputs(count: int) -> list[JobInput]:
    return [
        JobInput(name=f"n{i}.txt", data=f"Asta Moberg{i} founded Ferrow{i} Mills.".encode())
        for i in range(count)
    ]


async def open_rag(settings: Any, embedder: Any, extractor: Any) -> GraphRAG:
    return await GraphRAG.open(settings, embedder=embedder, extractor=extractor)


async def test_job_runs_and_reports_every_input(
    settings: Any, embedder: Any, extractor: Any, tmp_path: Path
) -> None:
    rag = await open_rag(settings, embedder, extractor)

    async def opener(_: str) -> GraphRAG:
        return rag

    runner = JobRunner(opener, tmp_path / "spool")
    items = [*inputs(2), JobInput(name="api:memo", text="Kari Holm chairs the Ferrow Board.")]
    job = await runner.submit("default", items, subject="tester")
    await runner.wait(job.id)
    done = await runner.get("default", job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [f.status for f in done.files] == [JobFileStatus.DONE] * 3
    sources = sorted(d.source for d in await rag.documents())
    assert sources == ["api:memo", "upload://n0.txt", "upload://n1.txt"]
    assert not any((tmp_path / "spool").rglob("*.txt"))
    with pytest.raises(NotFoundError):
        await runner.get("default", "j_missing")
    await runner.stop()
    await rag.close()


async def test_stopped_job_is_interrupted_then_resumed_by_another_runner(
    settings: Any, embedder: Any, extractor: Any, tmp_path: Path
) -> None:
    stalling = StallingExtractor(extractor, free=0)
    slow = await open_rag(settings, embedder, stalling)

    async def slow_opener(_: str) -> GraphRAG:
        return slow

    first = JobRunner(slow_opener, tmp_path / "spool")
    job = await first.submit("default", inputs(6), subject="tester")
    await asyncio.wait_for(stalling.stalled.wait(), timeout=60)
    await first.stop(grace=0.0)
    stopped = await first.get("default", job.id)
    assert stopped.status is JobStatus.INTERRUPTED
    assert stopped.worker is None
    assert stopped.done < 6  # stopped midway: inputs left to do
    await slow.close()

    rag = await open_rag(settings, embedder, extractor)

    async def opener(_: str) -> GraphRAG:
        return rag

    second = JobRunner(opener, tmp_path / "spool")
    await second.start(["default"])
    await second.wait(job.id)
    resumed = await second.get("default", job.id)
    assert resumed.status is JobStatus.SUCCEEDED
    assert resumed.done == 6
    documents = await rag.documents()
    assert sorted(d.source for d in documents) == sorted(f"upload://n{i}.txt" for i in range(6))
    await second.stop()
    await rag.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.md", "win.md"),
        ("we ird;$name.html", "we ird_name.html"),
        (".hidden.txt", "hidden.txt"),
    ],
)
def test_safe_file_name_keeps_only_a_plain_name(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", "evil.exe", "noext", "dir/"])
def test_safe_file_name_refuses_unusable_names(name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        safe_file_name(name)


async def test_scan_resumes_jobs_of_every_listed_workspace(
    settings: Any, embedder: Any, extractor: Any, tmp_path: Path
) -> None:
    from graphrag.records import Job, JobFile

    other = settings.model_copy(
        update={"embedded": settings.embedded.model_copy(update={"path": tmp_path / "b.db"})}
    )
    rags = {
        "default": await open_rag(settings, embedder, extractor),
        "team-b": await open_rag(other, embedder, extractor),
    }

    async def opener(name: str) -> GraphRAG:
        return rags[name]

    async def names() -> list[str]:
        return sorted(rags)

    spooled = tmp_path / "spool" / "team-b" / "j_left" / "0000-left.csv"
    spooled.parent.mkdir(parents=True)
    spooled.write_text("id,text\nr1,Lena Vik founded Osterby Glass.\n", encoding="utf-8")
    left = Job(id="j_left", status=JobStatus.INTERRUPTED, total=1,
               files=[JobFile(name="left.csv", spool=str(spooled))])  # fmt: skip
    await rags["team-b"].components.store.save_job(left)
    runner = JobRunner(opener, tmp_path / "spool", list_workspaces=names)
    await runner.start(["default"])  # team-b is found through the listing
    await runner.wait("j_left")
    done = await runner.get("team-b", "j_left")
    assert done.status is JobStatus.SUCCEEDED
    documents = await rags["team-b"].documents()
    assert [d.source for d in documents] == ["upload://left.csv#row1"]
    assert documents[0].title.startswith("left")
    assert "0000-" not in documents[0].title + str(documents[0].metadata)
    await runner.stop()
    for rag in rags.values():
        await rag.close()


class BudgetExtractor(SlowExtractor):
    """The real extractor, until a chunk says "Budget": then the LLM budget stops the run."""

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        from graphrag.llm.errors import BudgetExceededError

        if any("Budget" in c.text for c in chunks):
            raise BudgetExceededError(used=900, needed=200, limit=1000, unit="tokens")
        return await super().extract(chunks)


async def test_a_budget_stop_fails_the_job_with_the_reason_and_keeps_what_was_built(
    settings: Any, embedder: Any, extractor: Any, tmp_path: Path
) -> None:
    rag = await open_rag(settings, embedder, BudgetExtractor(extractor, 0.0))

    async def opener(_: str) -> GraphRAG:
        return rag

    runner = JobRunner(opener, tmp_path / "spool")
    items = [
        JobInput(name="a.txt", data=b"Asta Moberg founded Ferrow Mills."),
        JobInput(name="b.txt", data=b"Budget Holm chairs the Ferrow Board."),
        JobInput(name="c.txt", data=b"Kari Lund runs Ferrow Port."),
    ]
    job = await runner.submit("default", items, subject="tester")
    await runner.wait(job.id)
    done = await runner.get("default", job.id)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.startswith("LLM budget reached")
    # the batch was not finished: its inputs are not marked done or failed
    assert [f.status for f in done.files] == [JobFileStatus.PENDING] * 3
    assert [d.source for d in await rag.documents()] == ["upload://a.txt"]
    await runner.stop()
    await rag.close()
