"""A real ingest over good files plus every hostile file of the audit, through the CLI.

Each hostile file must fail alone with its one-line reason (printed once, under its own
path), every good file must be stored, the store must stay consistent, and nothing that
came from a document may reach the terminal as a control character.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.report import printable
from tests.hostile.corpus import (
    ESCAPE_NAME,
    GIANT_TOKEN_CHARS,
    INJECTION_NAME,
    HostileCorpus,
    write_hostile_corpus,
)

pytestmark = pytest.mark.slow

CONTROL_CHARS = {chr(c) for c in range(32) if chr(c) not in "\n\t"} | {
    chr(c) for c in range(0x7F, 0xA0)
}


def invoke(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def own_output(result: Any) -> str:
    """stdout and stderr without the model-loading progress bar of transformers (``\r``)."""
    return re.sub(r"\rLoading weights[^\r\n]*", "", result.stdout + result.stderr)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[HostileCorpus, Path, Any]:
    """The hostile corpus ingested once: (corpus, db, CLI result)."""
    root = tmp_path_factory.mktemp("hostile")
    corpus = write_hostile_corpus(root)
    db = root / "graph.db"
    result = invoke(CliRunner(), "ingest", corpus.folder, "--db", db)
    return corpus, db, result


def sources(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT source, status FROM documents").fetchall())


def test_report_skipped_cases(ingested: tuple[HostileCorpus, Path, Any]) -> None:
    corpus, _, _ = ingested
    if corpus.skipped:
        pytest.skip("; ".join(corpus.skipped))


def test_every_hostile_file_fails_alone_with_its_reason_once(
    ingested: tuple[HostileCorpus, Path, Any],
) -> None:
    corpus, _, result = ingested
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    for name, reason in corpus.failures.items():
        path = str(corpus.folder.resolve() / name)
        mine = [line for line in lines if line.startswith(f"{path}: ")]
        assert len(mine) == 1, (name, mine, result.stderr)
        assert reason in mine[0], (name, mine[0])
    outside = str(corpus.outside)
    assert not any(line.startswith(outside) for line in lines), "reported under the link target"


def test_every_good_file_is_stored(ingested: tuple[HostileCorpus, Path, Any]) -> None:
    corpus, db, _ = ingested
    stored = sources(db)
    assert "failed" not in stored.values(), stored
    folder = str(corpus.folder.resolve())
    for name, count in corpus.stored.items():
        path = f"{folder}/{name}"
        mine = [s for s in stored if s == path or s.startswith(path + "#")]
        assert len(mine) == count, (name, mine)
    assert len(stored) == sum(corpus.stored.values())  # nothing from a failed file
    assert f"{folder}/inside-link.txt" not in stored  # the link inside is the same document
    assert str(corpus.outside) not in stored
    assert f"{folder}/traversal_ids.json#../../etc/passwd" in stored
    assert f"{folder}/{INJECTION_NAME}" in stored


def test_control_characters_are_dropped_from_stored_text(
    ingested: tuple[HostileCorpus, Path, Any],
) -> None:
    corpus, db, _ = ingested
    with sqlite3.connect(db) as conn:
        texts = [t for (t,) in conn.execute("SELECT text FROM chunks")]
        titles = [t for (t,) in conn.execute("SELECT title FROM documents")]
        names = [n for (n,) in conn.execute("SELECT name FROM entities")]
        [(control,)] = conn.execute(
            "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.source = ?",
            (str(corpus.folder.resolve() / "controls.txt"),),
        ).fetchall()
    assert "Red Harbour" in control
    for value in [*texts, *titles, *names]:
        assert not CONTROL_CHARS.intersection(value), repr(value)


def test_giant_token_is_cut_into_chunks_spacy_accepts(
    ingested: tuple[HostileCorpus, Path, Any],
) -> None:
    corpus, db, _ = ingested
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT c.text, c.start_char, c.end_char FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE d.source = ? ORDER BY c.ordinal",
            (str(corpus.folder.resolve() / "giant_token.txt"),),
        ).fetchall()
    assert rows
    assert max(len(text) for text, _, _ in rows) <= 200 * 100
    assert "".join(text for text, _, _ in rows) == "x" * GIANT_TOKEN_CHARS
    assert all(end - start == len(text) for text, start, end in rows)


def test_store_integrity_after_the_hostile_run(
    ingested: tuple[HostileCorpus, Path, Any],
) -> None:
    _, db, _ = ingested
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = {
            "relation endpoints": "SELECT count(*) FROM relations r WHERE r.source_id NOT IN "
            "(SELECT id FROM entities) OR r.target_id NOT IN (SELECT id FROM entities)",
            "mention chunk or entity": "SELECT count(*) FROM mentions m WHERE m.chunk_id NOT IN "
            "(SELECT id FROM chunks) OR m.entity_id NOT IN (SELECT id FROM entities)",
            "chunk document": "SELECT count(*) FROM chunks c WHERE c.document_id NOT IN "
            "(SELECT id FROM documents)",
            "evidence relation or chunk": "SELECT count(*) FROM evidence e WHERE e.relation_id "
            "NOT IN (SELECT id FROM relations) OR e.chunk_id NOT IN (SELECT id FROM chunks)",
            "surface chunk": "SELECT count(*) FROM surfaces s WHERE s.chunk_id NOT IN "
            "(SELECT id FROM chunks)",
            "key without support": "SELECT count(*) FROM keys k WHERE NOT EXISTS "
            "(SELECT 1 FROM surfaces s WHERE s.key = k.key)",
            "key of a missing entity": "SELECT count(*) FROM keys k WHERE k.entity_id IS NULL "
            "OR k.entity_id NOT IN (SELECT id FROM entities)",
            "entity without a key": "SELECT count(*) FROM entities e WHERE e.id NOT IN "
            "(SELECT entity_id FROM keys)",
            "resolution left undone": "SELECT (SELECT count(*) FROM dirty_keys) + "
            "(SELECT count(*) FROM documents WHERE derived = 0)",
        }
        for what, sql in orphans.items():
            assert conn.execute(sql).fetchone() == (0,), what
        counts = conn.execute(
            "SELECT d.chunk_count, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
            "FROM documents d"
        ).fetchall()
    assert all(expected == actual for expected, actual in counts)


def test_cli_output_holds_no_control_characters(
    ingested: tuple[HostileCorpus, Path, Any], runner: CliRunner
) -> None:
    corpus, db, ingest = ingested
    assert not CONTROL_CHARS.intersection(own_output(ingest))
    escaped_source = printable(corpus.folder.resolve() / ESCAPE_NAME, one_line=True)
    result = invoke(runner, "query", "Who painted the harbour of Velmora?", "--db", db)
    assert result.exit_code == 0, result.output
    assert "Mira Holm" in result.stdout
    assert escaped_source in result.stdout  # the citation names the file, escaped
    assert not CONTROL_CHARS.intersection(own_output(result))
    as_json = invoke(runner, "query", "Who painted the harbour?", "--json", "--db", db)
    assert as_json.exit_code == 0, as_json.output
    assert "\x1b" not in as_json.stdout
    assert json.loads(as_json.stdout)["question"] == "Who painted the harbour?"


def test_an_unforeseen_loader_error_fails_only_its_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No real input is known to crash a loader any more; simulate a loader bug."""
    from graphrag.ingest import loaders

    def crash(path: Path, raw: str, settings: Any) -> Any:
        raise ZeroDivisionError("simulated loader bug")

    monkeypatch.setitem(loaders._TEXT_LOADERS, ".txt", crash)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "crash.txt").write_text("anything", encoding="utf-8")
    (folder / "fine.md").write_text("Maria Olsen founded the Olsen Bakery in Trondheim.")
    result = invoke(runner, "ingest", folder, "--db", tmp_path / "g.db")
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.stderr.splitlines() if "crash.txt: " in x]
    assert "unexpected ZeroDivisionError while loading (simulated loader bug)" in line
    assert "Traceback" not in result.output
    assert sources(tmp_path / "g.db") == {str(folder.resolve() / "fine.md"): "done"}
