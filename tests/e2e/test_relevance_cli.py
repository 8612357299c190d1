"""``graphrag query`` abstains, with a note, on questions the corpus knows nothing about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrag.answer.extractive import NO_PASSAGES_TEXT
from pipelines.cli import app
from tests.e2e.conftest import write_corpus

pytestmark = pytest.mark.slow


def invoke(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relevance")
    corpus = write_corpus(root / "corpus")
    (corpus / "broken.json").unlink()
    path = root / "graph.db"
    result = invoke(CliRunner(), "ingest", corpus, "--db", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("mode", ["ppr", "naive", "local", "hybrid"])
def test_query_prints_the_abstention_note(runner: CliRunner, db: Path, mode: str) -> None:
    result = invoke(runner, "query", "'; DROP TABLE documents; --", "--mode", mode, "--db", db)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # undo the console's line wrapping
    assert NO_PASSAGES_TEXT in out
    assert "note: Abstained: the retrieved passages do not match the question" in out
    assert "answer.min_relevance 0.35" in out
    assert "Context (" in out  # what was retrieved is still shown


def test_query_json_keeps_the_note_and_the_context(runner: CliRunner, db: Path) -> None:
    result = invoke(runner, "query", "zxqv blorf wug", "--json", "--db", db)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["kind"] == "extractive"
    assert answer["text"] == NO_PASSAGES_TEXT
    assert answer["citations"] == []
    assert answer["notes"][-1].startswith("Abstained:")
    assert answer["context"]["chunks"]


def test_the_floor_setting_reaches_the_cli(
    runner: CliRunner, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPHRAG_ANSWER__MIN_RELEVANCE", "0")
    result = invoke(runner, "query", "zxqv blorf wug", "--json", "--db", db)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["citations"], "with the floor disabled the answer quotes again"
