"""Updates a user makes to stored data: records removed from a file, empty stores, exports.

From the hostile-user review of the reliability issue: removing a record from a JSON or CSV
file must remove its document on the next ingest; a reading command must not turn a 0-byte
file into a store; the same graph must export the same bytes however it was built; a large
document a run left half-written is removed by the next writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

pytestmark = pytest.mark.slow


def invoke(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def records(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id,title,text"] + [f"{i},{title},{text}" for i, (title, text) in enumerate(rows)]
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


ROWS = [
    ("Curie", "Marie Curie founded the Radium Institute in Paris."),
    ("Einstein", "Albert Einstein taught physics in Bern and Berlin."),
    ("Meitner", "Lise Meitner worked with Otto Hahn in Berlin."),
]


def test_a_record_removed_from_its_file_is_removed_from_the_store(
    runner: CliRunner, tmp_path: Path
) -> None:
    db, fresh = tmp_path / "graph.db", tmp_path / "fresh.db"
    path = records(tmp_path / "docs", ROWS)
    assert invoke(runner, "ingest", path, "--db", db).exit_code == 0
    records(tmp_path / "docs", [ROWS[0], ROWS[2]])  # Einstein's row removed

    again = invoke(runner, "ingest", path, "--db", db, "--json")

    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["records_removed"] == 1
    assert invoke(runner, "ingest", path, "--db", fresh).exit_code == 0
    for store in (db, fresh):
        listed = json.loads(invoke(runner, "documents", "--db", store, "--json").stdout)
        titles = sorted(d["title"] for d in listed["documents"])
        assert titles == ["Curie", "Meitner"]
    exports = []
    for store in (db, fresh):
        out = tmp_path / f"{store.stem}.json"
        assert invoke(runner, "export", "--format", "json", "-o", out, "--db", store).exit_code == 0
        exports.append(out.read_bytes())
    assert exports[0] == exports[1]  # the same graph exports the same bytes


def test_a_reading_command_refuses_an_empty_file(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for command in (["stats"], ["query", "Who founded it?"], ["merges"], ["documents"]):
        result = invoke(runner, *command, "--db", empty)
        assert result.exit_code == 2, result.output
        assert "empty file (0 bytes)" in result.stderr
    assert empty.read_bytes() == b""


def test_the_next_writer_removes_a_document_a_run_left_half_written(
    runner: CliRunner, tmp_path: Path
) -> None:
    import asyncio

    from graphrag.config import load_settings
    from graphrag.ids import chunk_id, content_hash, document_id
    from graphrag.models import Chunk, Document
    from graphrag.runtime import open_components
    from graphrag.testing.fakes import HashEmbedder

    db = tmp_path / "graph.db"
    path = records(tmp_path / "docs", ROWS)
    assert invoke(runner, "ingest", path, "--db", db).exit_code == 0

    async def leave_half_written() -> None:
        settings = load_settings(embedded={"path": db})
        components = await open_components(settings)
        text = "Half of a large document."
        doc = Document(id=document_id("big.txt"), source="big.txt", title="big", mime="text/plain",
                       content_hash=content_hash(text), text=text, chunk_count=2)  # fmt: skip
        vector = (await components.embedder.embed([text]))[0]
        chunk = Chunk(id=chunk_id(doc.id, 0), document_id=doc.id, ordinal=0, text=text,
                      start=0, end=len(text), token_count=6, embedding=vector)  # fmt: skip
        await components.store.append_chunks(doc, [chunk], first=True, last=False)
        await components.close()

    del HashEmbedder
    asyncio.run(leave_half_written())
    listed = json.loads(invoke(runner, "documents", "--db", db, "--json").stdout)["documents"]
    assert "processing" in {d["status"] for d in listed}

    records(tmp_path / "docs", [*ROWS, ("Hahn", "Otto Hahn worked in Berlin.")])
    assert invoke(runner, "ingest", path, "--db", db).exit_code == 0

    listed = json.loads(invoke(runner, "documents", "--db", db, "--json").stdout)["documents"]
    assert {d["status"] for d in listed} == {"done"}
    assert len(listed) == 4
