"""``--json`` on every command that prints a result, ``graphrag documents`` and Parquet export.

Each ``--json`` output must be exactly one JSON object on stdout (``json.loads`` of the whole
stdout), whatever goes to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.e2e.conftest import write_corpus

pytestmark = pytest.mark.slow


def invoke(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def as_json(runner: CliRunner, *args: str | Path, code: int = 0) -> Any:
    result = invoke(runner, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The e2e corpus (without the broken file) ingested once: (corpus folder, db file)."""
    root = tmp_path_factory.mktemp("json")
    corpus = write_corpus(root / "corpus")
    (corpus / "broken.json").unlink()
    db = root / "graph.db"
    assert invoke(CliRunner(), "ingest", corpus, "--db", db).exit_code == 0
    return corpus, db


def test_ingest_documents_delete_and_stats_as_json(runner: CliRunner, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    db = tmp_path / "graph.db"
    result = invoke(runner, "ingest", corpus, "--db", db, "--json")
    assert result.exit_code == 1  # broken.json
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["files_failed"], summary["documents"]) == (4, 1, 4)
    assert (summary["new"], summary["unchanged"], summary["ok"]) == (4, 0, False)
    assert summary["chunks"] >= 4
    assert summary["entities_new"] > 0
    [failure] = summary["failures"]
    assert failure["path"] == str(corpus / "broken.json")
    assert "invalid JSON" in failure["reason"]
    assert f"{corpus / 'broken.json'}:" in result.stderr  # still told on stderr

    listed = as_json(runner, "documents", "--db", db)
    assert (listed["total"], listed["shown"]) == (4, 4)
    row = listed["documents"][0]
    assert set(row) == {"id", "source", "title", "status", "chunks", "updated_at", "error"}
    assert {d["status"] for d in listed["documents"]} == {"done"}
    assert all(d["chunks"] >= 1 for d in listed["documents"])
    titles = {d["title"] for d in listed["documents"]}
    assert {"Aurora", "Borealis", "Norrvik Maritime Council"} <= titles

    ships = as_json(runner, "documents", "--source-contains", "SHIPS.json", "--db", db)
    assert ships["total"] == 2
    assert all("#" in d["source"] for d in ships["documents"])
    assert as_json(runner, "documents", "--source", "*.md", "--db", db)["total"] == 1
    assert as_json(runner, "documents", "--status", "failed", "--db", db)["total"] == 0
    limited = as_json(runner, "documents", "--limit", "1", "--db", db)
    assert (limited["total"], limited["shown"]) == (4, 1)

    deleted = as_json(runner, "delete", corpus / "ships.json", "--db", db)
    assert len(deleted["deleted"]) == 2
    assert all(r["chunks"] >= 1 for r in deleted["deleted"])
    assert {r["document_id"] for r in deleted["deleted"]} == {d["id"] for d in ships["documents"]}
    assert as_json(runner, "stats", "--db", db)["documents"] == 2

    again = invoke(runner, "delete", corpus / "ships.json", "--db", db)
    assert again.exit_code == 1
    assert "graphrag documents" in again.stderr
    assert again.stdout == ""


def test_documents_table(runner: CliRunner, built: tuple[Path, Path]) -> None:
    _, db = built
    result = invoke(runner, "documents", "--limit", "3", "--db", db)
    assert result.exit_code == 0, result.output
    assert "Documents (3 of 4)" in result.stdout
    assert "pass --limit 4" in " ".join(result.stdout.split())
    assert "done" in result.stdout


def test_read_only_commands_as_json(runner: CliRunner, built: tuple[Path, Path]) -> None:
    _, db = built
    stats = as_json(runner, "stats", "--db", db)
    assert (stats["backend"], stats["documents"]) == ("embedded", 4)
    assert stats["location"].endswith("graph.db")
    merges = as_json(runner, "merges", "--db", db)
    assert merges["total"] == len(merges["merges"]) >= merges["active"]
    for record in merges["merges"]:
        assert record["id"].startswith("x_")
        assert record["canonical_name"]


def test_export_migrate_schema_analyze_as_json(
    runner: CliRunner, built: tuple[Path, Path], tmp_path: Path
) -> None:
    _, source = built
    db = tmp_path / "copy.db"
    migrated = as_json(runner, "migrate", "--to", "embedded", "--target-db", db, "--db", source)
    assert migrated["documents"] == 4
    assert migrated["chunks"] > 0
    graph = as_json(runner, "export", "-o", tmp_path / "g.json", "--format", "json", "--db", db)
    assert graph["format"] == "json"
    assert graph["path"] == str(tmp_path / "g.json")
    assert graph["entities"] == graph["nodes"] > 0
    assert graph["relations"] == graph["edges"]
    analyzed = as_json(runner, "analyze", "--db", db)
    assert analyzed["entities"] > 0
    assert analyzed["communities"] >= 0
    assert as_json(runner, "stats", "--db", db)["communities"] == analyzed["communities"]
    fresh = as_json(runner, "schema", "--db", tmp_path / "fresh.db")
    assert fresh["ready"] is True
    assert fresh["stats"]["documents"] == 0


def test_merges_undo_as_json(runner: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "einstein.md"
    doc.write_text(
        "# Einstein\nAlbert Einstein developed the theory of relativity in Berlin. "
        "Einstein later moved to Princeton University in New Jersey.\n",
        encoding="utf-8",
    )
    db = tmp_path / "graph.db"
    assert as_json(runner, "ingest", doc, "--db", db)["ok"] is True
    merges = as_json(runner, "merges", "--db", db)["merges"]
    assert merges, "the document yields at least one merge"
    undone = as_json(runner, "merges", "--undo", merges[0]["id"], "--db", db)
    assert undone["undone"] == merges[0]["id"]
    assert undone["documents_derived"] >= 1
    after = {m["id"]: m for m in as_json(runner, "merges", "--db", db)["merges"]}
    assert after[merges[0]["id"]]["undone_at"] is not None


def test_eval_as_json_on_a_tiny_dataset(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    passages = [
        {"title": "Norrvik", "text": "The Port of Norrvik was founded by Ingrid Halvorsen."},
        {"title": "Halvorsen", "text": "Ingrid Halvorsen later opened a shipyard in Bergen."},
        {"title": "Aurora", "text": "The Aurora is a ferry that sails to Tromso."},
    ]
    (folder / "tiny_corpus.json").write_text(json.dumps(passages), encoding="utf-8")
    question = {
        "id": "q1",
        "question": "Where did the founder of the Port of Norrvik open a shipyard?",
        "paragraphs": [
            {"title": p["title"], "paragraph_text": p["text"], "is_supporting": i < 2}
            for i, p in enumerate(passages)
        ],
    }
    (folder / "tiny.json").write_text(json.dumps([question]), encoding="utf-8")
    out = tmp_path / "out"
    result = as_json(runner, "eval", "--dataset", folder, "--modes", "naive,bm25", "--out", out)
    assert (result["dataset"], result["questions"], result["passages"]) == ("tiny", 1, 3)
    assert [m["mode"] for m in result["modes"]] == ["naive", "bm25"]
    assert "per_question" not in result
    assert result["files"]["json"] == str(out / "results.json")
    assert Path(result["files"]["plot"]).is_file()


def test_export_parquet_tables(runner: CliRunner, built: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pandas as pd

    from pipelines.parquet_export import COLUMNS

    _, db = built
    out = tmp_path / "tables"
    summary = as_json(runner, "export", "--format", "parquet", "--output", out, "--db", db)
    assert summary["format"] == "parquet"
    assert summary["with_embeddings"] is False
    rows = {t["name"]: t["rows"] for t in summary["tables"]}
    assert list(rows) == list(COLUMNS)
    frames = {name: pd.read_parquet(out / f"{name}.parquet") for name in COLUMNS}
    for name, frame in frames.items():
        assert list(frame.columns) == [c for c, _ in COLUMNS[name]], name
        assert len(frame) == rows[name], name
    assert rows["documents"] == 4
    for name in ("chunks", "entities", "relations", "mentions"):
        assert rows[name] > 0, name
    chunks, mentions = frames["chunks"], frames["mentions"]
    assert set(chunks["document_id"]) <= set(frames["documents"]["id"])
    assert set(mentions["chunk_id"]) <= set(chunks["id"])
    assert set(mentions["entity_id"]) <= set(frames["entities"]["id"])
    relations = frames["relations"]
    assert set(relations["source_id"]) | set(relations["target_id"]) <= set(
        frames["entities"]["id"]
    )
    assert "Ingrid Halvorsen" in set(frames["entities"]["name"])
    assert not list(out.glob(".*partial"))

    with_vectors = tmp_path / "vectors"
    assert invoke(
        runner, "export", "--format", "parquet", "-o", with_vectors, "--with-embeddings", "--db", db
    ).stdout.startswith("wrote ")
    vectors = pd.read_parquet(with_vectors / "chunks.parquet")
    assert len(vectors["embedding"].iloc[0]) == 384
    assert len(vectors) == rows["chunks"]
