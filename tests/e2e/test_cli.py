"""The ``graphrag`` CLI end to end: real SQLite store, real spaCy, real MiniLM."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import SHARED_DATA
from tests.e2e.conftest import write_corpus

pytestmark = pytest.mark.slow

MODES = ["naive", "bm25", "local", "hybrid", "ppr", "global"]


def invoke(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def summary_value(output: str, name: str) -> str:
    """Read a row of a human table (tests of the human output only; the others use --json)."""
    match = re.search(rf"^\W*{re.escape(name)}\s+│?\s*(\S+)", output, re.MULTILINE)
    assert match, f"no {name!r} row in:\n{output}"
    return match.group(1)


def as_json(runner: CliRunner, *args: str | Path, code: int = 0) -> Any:
    """Run a command with --json; its stdout must be exactly one JSON object."""
    result = invoke(runner, *args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus ingested once for the read-only tests: (corpus folder, db file)."""
    root = tmp_path_factory.mktemp("built")
    corpus = write_corpus(root / "corpus")
    (corpus / "broken.json").unlink()
    db = root / "graph.db"
    result = invoke(CliRunner(), "ingest", corpus, "--db", db)
    assert result.exit_code == 0, result.output
    return corpus, db


def test_ingest_lifecycle(runner: CliRunner, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    db = tmp_path / "graph.db"

    first = invoke(runner, "ingest", corpus, "--db", db, "--batch-size", "2")
    assert first.exit_code == 1  # broken.json failed, the others were written
    assert f"{corpus / 'broken.json'}:" in first.stderr
    assert summary_value(first.stdout, "files") == "4"  # the human table
    assert summary_value(first.stdout, "documents") == "4"  # txt + md + 2 JSON records
    assert summary_value(first.stdout, "new") == "4"
    assert int(summary_value(first.stdout, "chunks")) >= 4
    assert int(summary_value(first.stdout, "entities (new)")) > 0

    (corpus / "broken.json").unlink()
    again = as_json(runner, "ingest", corpus, "--db", db)
    assert (again["unchanged"], again["new"], again["chunks"]) == (4, 0, 0)

    (corpus / "council.md").write_text(
        "# Norrvik Maritime Council\n\nThe council is now chaired by Sofia Berg.\n",
        encoding="utf-8",
    )
    changed = as_json(runner, "ingest", corpus, "--db", db)
    assert (changed["replaced"], changed["unchanged"]) == (1, 3)

    forced = as_json(runner, "ingest", corpus / "harbor.txt", "--db", db, "--force")
    assert forced["replaced"] == 1

    deleted = invoke(runner, "delete", corpus / "ships.json", "--db", db)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.count("Deleted document") == 2  # both JSON records
    assert as_json(runner, "stats", "--db", db)["documents"] == 2

    missing = invoke(runner, "delete", corpus / "ships.json", "--db", db)
    assert missing.exit_code == 1
    assert "not found" in missing.stderr


def test_ingest_missing_path_is_listed_and_fails(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "ingest", tmp_path / "nowhere", "--db", tmp_path / "g.db")
    assert result.exit_code == 1
    assert str(tmp_path / "nowhere") in result.stderr


def test_ingest_no_recursive_skips_sub_folders(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "top.txt").write_text("Maria Olsen founded the Olsen Bakery in Trondheim.")
    (corpus / "sub" / "deep.txt").write_text("The Olsen Bakery sells bread in Trondheim.")
    db = tmp_path / "g.db"
    flat = as_json(runner, "ingest", corpus, "--no-recursive", "--db", db)
    assert flat["files"] == 1
    deep = as_json(runner, "ingest", corpus, "--db", db)
    assert (deep["files"], deep["new"], deep["unchanged"]) == (2, 1, 1)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "global"])  # global: after analyze
def test_query_each_mode_json_cites_real_chunks(
    runner: CliRunner, built: tuple[Path, Path], tmp_path: Path, mode: str
) -> None:
    _, db = built
    result = invoke(
        runner, "query", "Who founded the Port of Norrvik?", "--mode", mode, "--json", "--db", db
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == mode
    assert answer["kind"] == "extractive"
    assert answer["context"]["chunks"], "the context must hold chunks"
    assert answer["citations"], "an extractive answer cites what it quotes"
    exported = tmp_path / "g.json"
    assert (
        invoke(
            runner, "export", "--format", "json", "-o", exported, "--with-chunks", "--db", db
        ).exit_code
        == 0
    )
    graph = nx.node_link_graph(json.loads(exported.read_text()), edges="edges")
    for citation in answer["citations"]:
        assert graph.nodes[citation["chunk_id"]]["kind"] == "chunk"
        assert graph.nodes[citation["document_id"]]["kind"] == "document"
        assert citation["quote"] in graph.nodes[citation["chunk_id"]]["text"]


def test_query_prints_answer_citations_and_context(
    runner: CliRunner, built: tuple[Path, Path]
) -> None:
    _, db = built
    result = invoke(runner, "query", "Who founded the Port of Norrvik?", "--db", db)
    assert result.exit_code == 0, result.output
    assert "extractive" in result.stdout
    assert "Halvorsen" in result.stdout
    assert re.search(r"\[1\] .+ chunk c_[0-9a-f]+", result.stdout)
    assert "Context (" in result.stdout
    assert "timings:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "empty"),
        (["x" * 5000], "long"),
        (["Who?", "--mode", "telepathy"], "unknown retrieval mode"),
    ],
)
def test_bad_questions_exit_2(
    runner: CliRunner, built: tuple[Path, Path], args: list[str], message: str
) -> None:
    _, db = built
    result = invoke(runner, "query", *args, "--db", db)
    assert result.exit_code == 2
    assert message in result.stderr.lower()
    assert "Traceback" not in result.output


def test_stats_counts(runner: CliRunner, built: tuple[Path, Path]) -> None:
    _, db = built
    result = invoke(runner, "stats", "--db", db)
    assert result.exit_code == 0, result.output
    assert summary_value(result.stdout, "documents") == "4"
    assert int(summary_value(result.stdout, "entities")) > 0
    assert int(summary_value(result.stdout, "relations")) > 0


def test_export_graphml_and_json(
    runner: CliRunner, built: tuple[Path, Path], tmp_path: Path
) -> None:
    _, db = built
    graphml = tmp_path / "kg.graphml"
    result = invoke(runner, "export", "--format", "graphml", "--output", graphml, "--db", db)
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(graphml)
    kinds = {data["kind"] for _, data in graph.nodes(data=True)}
    assert kinds == {"entity"}
    names = {data["name"] for _, data in graph.nodes(data=True)}
    assert any("Halvorsen" in n for n in names)
    node = next(iter(graph.nodes(data=True)))[1]
    assert {"name", "type", "mention_count", "aliases"} <= set(node)
    assert graph.number_of_edges() > 0
    edge = next(iter(graph.edges(data=True)))[2]
    assert {"predicate", "kind", "weight", "source_chunk_ids"} <= set(edge)
    assert edge["source_chunk_ids"].startswith("c_")

    as_json = tmp_path / "kg.json"
    result = invoke(
        runner, "export", "--format", "json", "--output", as_json, "--with-chunks", "--db", db
    )
    assert result.exit_code == 0, result.output
    full = nx.node_link_graph(json.loads(as_json.read_text()), edges="edges")
    kinds = [data["kind"] for _, data in full.nodes(data=True)]
    assert kinds.count("document") == 4
    labels = {data["label"] for _, _, data in full.edges(data=True)}
    assert labels == {"relation", "part_of", "mentions"}
    assert full.number_of_nodes() > graph.number_of_nodes()

    bad = invoke(runner, "export", "--format", "csv", "--output", tmp_path / "x", "--db", db)
    assert bad.exit_code == 2
    assert "unknown export format" in bad.stderr


def test_bad_config_exits_2_with_the_message(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "graphrag.yaml"
    config.write_text("chunking:\n  max_tokens: 100\n  overlap_tokens: 500\n")
    result = invoke(runner, "stats", "--config", config, "--db", tmp_path / "g.db")
    assert result.exit_code == 2
    assert "overlap_tokens" in result.stderr
    assert "Traceback" not in result.output

    missing = invoke(runner, "stats", "--config", tmp_path / "nope.toml")
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr

    level = invoke(runner, "stats", "--log-level", "LOUD", "--db", tmp_path / "g.db")
    assert level.exit_code == 2
    assert "log level" in level.stderr


def test_schema_and_merges_on_a_fresh_store(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = invoke(runner, "schema", "--db", db)
    assert result.exit_code == 0, result.output
    assert db.exists()
    merges = invoke(runner, "merges", "--db", db)
    assert merges.exit_code == 0, merges.output
    assert "0 merges" in merges.stdout
    undo = invoke(runner, "merges", "--undo", "x_nope", "--db", db)
    assert undo.exit_code == 1
    assert "not found" in undo.stderr


def test_migrate_embedded_copy(
    runner: CliRunner, built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, db = built
    target = tmp_path / "copy.db"
    result = invoke(runner, "migrate", "--to", "embedded", "--target-db", target, "--db", db)
    assert result.exit_code == 0, result.output
    source_stats = as_json(runner, "stats", "--db", db)
    copy_stats = as_json(runner, "stats", "--db", target)
    for name in ("documents", "chunks", "entities", "relations", "mentions"):
        assert copy_stats[name] == source_stats[name]
    same = invoke(runner, "migrate", "--to", "embedded", "--target-db", db, "--db", db)
    assert same.exit_code == 2
    assert "same store" in same.stderr
    monkeypatch.delenv("GRAPHRAG_ARANGO__URL", raising=False)
    no_url = invoke(runner, "migrate", "--to", "arango", "--db", db)
    assert no_url.exit_code == 2
    assert "arango.url is not set" in no_url.stderr


def test_demo_answers_sample_questions_extractively(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "demo", "--db", tmp_path / "demo.db")
    assert result.exit_code == 0, result.output
    assert "Ingest summary" in result.stdout
    assert "answers are extractive" in result.stdout
    questions = (Path(__file__).resolve().parents[2] / "samples" / "questions.txt").read_text()
    n_questions = len([q for q in questions.splitlines() if q.strip()])
    assert result.stdout.count("Q: ") == n_questions
    assert result.stdout.count("  [1] ") >= n_questions - 1
    assert "Brennick" in result.stdout


def test_merges_list_and_undo_rebuilds_documents(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert invoke(runner, "demo", "--db", db).exit_code == 0
    listed = invoke(runner, "merges", "--db", db)
    assert listed.exit_code == 0, listed.output
    ids = re.findall(r"^(x_[0-9a-f]{32})  .+ -> .+\[", listed.stdout, re.MULTILINE)
    assert ids, listed.stdout
    assert "undone" not in listed.stdout
    records = as_json(runner, "merges", "--db", db)["merges"]
    assert [r["id"] for r in records] == ids
    assert all(r["undone_at"] is None for r in records)

    undone = invoke(runner, "merges", "--undo", ids[0], "--db", db)
    assert undone.exit_code == 0, undone.output
    derived = int(re.search(r"undone; (\d+) document", undone.stdout).group(1))
    assert derived >= 1
    analyzed = as_json(runner, "analyze", "--db", db)
    assert analyzed["communities"] > 0
    assert as_json(runner, "stats", "--db", db)["communities"] == analyzed["communities"]
    graphml = tmp_path / "ranked.graphml"
    assert invoke(runner, "export", "-o", graphml, "--db", db).exit_code == 0
    ranks = [d["rank"] for _, d in nx.read_graphml(graphml).nodes(data=True) if "rank" in d]
    assert ranks
    assert all(r > 0 for r in ranks)

    after = invoke(runner, "merges", "--db", db).stdout
    line = next(x for x in after.splitlines() if x.startswith(ids[0]))
    assert " undone " in line
    assert after.count(" undone ") == 1


@pytest.mark.skipif(not (SHARED_DATA / "hotpotqa_train").is_dir(), reason="no dev data")
def test_eval_on_a_ten_question_slice(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["eval", "--dataset", SHARED_DATA / "hotpotqa_train", "--limit", "10", "--out", out]
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert data["questions"] == 10
    assert [m["mode"] for m in data["modes"]] == MODES
    by_mode = {m["mode"]: m for m in data["modes"]}
    for mode in MODES:
        recall = by_mode[mode]["recall"]
        assert 0.0 <= recall["R@2"] <= recall["R@5"] <= recall["R@10"] <= 1.0
        assert by_mode[mode]["latency_ms"]["p50"] > 0
        assert len(data["per_question"][mode]) == 10
    # Dense retrieval over 10 questions' own passages must find most gold passages.
    assert by_mode["naive"]["recall"]["R@5"] >= 0.5
    table = (out / "results.md").read_text()
    header = (
        "| mode | R@2 | R@5 | R@10 | AG@5 | AG@8 | ans⊇gold | top5⊇gold | span EM | span F1 "
        "| p50 ms | p95 ms |"
    )
    assert header in table  # recall, the answer-containment columns (issue 11), latency
    for mode in MODES:
        containment = by_mode[mode]["containment"]
        assert containment["questions"] == 10, mode
        assert 0.0 <= containment["answer_contains_gold"] <= 1.0, mode
        assert 0.0 <= containment["top5_contains_gold"] <= 1.0, mode
    assert (out / "recall.png").read_bytes().startswith(b"\x89PNG")

    reused = invoke(runner, *args, "--modes", "bm25")
    assert reused.exit_code == 0, reused.output
    again = json.loads((out / "results.json").read_text())
    assert again["index"]["reused"] is True
    assert again["index"]["written"] == 0
    assert [m["mode"] for m in again["modes"]] == ["bm25"]
    assert again["modes"][0]["recall"] == by_mode["bm25"]["recall"]

    bad = invoke(runner, "eval", "--dataset", tmp_path / "missing", "--out", out)
    assert bad.exit_code == 2
    assert "no such dataset" in bad.stderr
    bad_mode = invoke(runner, *args, "--modes", "naive,psychic")
    assert bad_mode.exit_code == 2
    assert "psychic" in bad_mode.stderr


def test_undo_whose_rebuild_fails_exits_non_zero(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphrag.errors import StoreQueryError
    from graphrag.stores.embedded import writes

    doc = tmp_path / "einstein.md"
    doc.write_text(
        "# Einstein\nAlbert Einstein developed the theory of relativity in Berlin. "
        "Einstein later moved to Princeton University in New Jersey.\n",
        encoding="utf-8",
    )
    db = tmp_path / "graph.db"
    assert invoke(runner, "ingest", doc, "--db", db).exit_code == 0
    ids = [r["id"] for r in as_json(runner, "merges", "--db", db)["merges"]]
    assert ids

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise StoreQueryError("simulated write failure")

    with monkeypatch.context() as patch:
        patch.setattr(writes, "rederive", refuse)
        undone = invoke(runner, "merges", "--undo", ids[0], "--db", db)
    assert undone.exit_code == 1, undone.output
    assert "simulated write failure" in undone.stderr
    stats = invoke(runner, "stats", "--db", db).stdout
    assert int(summary_value(stats, "pending documents")) >= 1  # the human table
    assert as_json(runner, "stats", "--db", db)["pending_documents"] >= 1

    retried = invoke(runner, "merges", "--undo", ids[0], "--db", db)
    assert retried.exit_code == 0, retried.output
    assert as_json(runner, "stats", "--db", db)["pending_documents"] == 0


def test_reading_commands_refuse_a_missing_store(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "graph.db"
    for args in (("stats",), ("query", "Who?"), ("export", "--format", "json", "--output",
                 tmp_path / "g.json"), ("delete", "d_x"), ("merges",), ("documents",)):  # fmt: skip
        result = invoke(runner, *args, "--db", missing)
        assert result.exit_code == 2, (args, result.output)
        assert "no graph store at" in result.stderr
    assert not missing.parent.exists()  # nothing was created


def test_links_out_of_the_folder_need_follow_links(runner: CliRunner, tmp_path: Path) -> None:
    import sqlite3

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "inside.txt").write_text("Maria Olsen founded the Olsen Bakery in Trondheim.")
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("The Olsen Bakery sells bread in Bergen.")
    link = corpus / "link.txt"
    link.symlink_to(secret)
    db = tmp_path / "g.db"

    refused = invoke(runner, "ingest", corpus, "--db", db)
    assert refused.exit_code == 1, refused.output
    assert f"{corpus.resolve() / 'link.txt'}: symbolic link to {secret}" in refused.stderr
    assert "--follow-links" in refused.stderr
    assert not any(line.startswith(str(secret)) for line in refused.stderr.splitlines())
    assert summary_value(refused.stdout, "new") == "1"

    followed = as_json(runner, "ingest", corpus, "--follow-links", "--db", db)
    assert followed["new"] == 1
    with sqlite3.connect(db) as conn:
        stored = {s for (s,) in conn.execute("SELECT source FROM documents")}
    assert str(corpus.resolve() / "link.txt") in stored  # under the link's own path
    assert str(secret) not in stored


def test_failure_lines_escape_control_characters(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "\x1b[31mred.json").write_text('{"text": ')
    (corpus / "fine.txt").write_text("Maria Olsen founded the Olsen Bakery in Trondheim.")
    result = invoke(runner, "ingest", corpus, "--db", tmp_path / "g.db")
    assert result.exit_code == 1, result.output
    assert "\\x1b[31mred.json: invalid JSON" in result.stderr
    assert "\x1b" not in result.output
