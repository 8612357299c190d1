"""Every command, given bad arguments, exits with 2 (bad input) or 1 (failure), no traceback.

The cases use placeholders: ``{db}`` an existing store, ``{missing}`` a store path that does
not exist, ``{folder}`` an existing folder, ``{file}`` a text file that is not a store,
``{bad_toml}`` / ``{bad_yaml}`` broken config files, ``{doc}`` a good document,
``{dataset}`` a malformed evaluation dataset, ``{tmp}`` the test's folder, ``{blank}``
an empty question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

pytestmark = pytest.mark.slow

TRACEBACK = "Traceback (most recent call last)"

CASES: list[tuple[str, int, str]] = [
    # root
    ("nope", 2, "No such command"),
    ("--nope", 2, "No such option"),
    # ingest
    ("ingest", 2, "Missing argument"),
    ("ingest {doc} --batch-size 0 --db {tmp}/g.db", 2, "--batch-size"),
    ("ingest {doc} --batch-size many --db {tmp}/g.db", 2, "--batch-size"),
    ("ingest {tmp}/nowhere.txt --db {tmp}/g.db", 1, "no such file or directory"),
    ("ingest {doc} --db {folder}", 2, "is a folder"),
    ("ingest {doc} --db {file}", 1, "not an SQLite database"),
    ("ingest {doc} --config {tmp}/missing.toml", 2, "does not exist"),
    ("ingest {doc} --config {bad_toml}", 2, "not valid TOML"),
    ("ingest {doc} --store mongo", 2, "unknown store 'mongo'"),
    # query
    ("query", 2, "Missing argument"),
    ("query {blank} --db {db}", 2, "question is empty"),
    ("query Who? --mode telepathy --db {db}", 2, "unknown retrieval mode"),
    ("query Who? --top-k 0 --db {db}", 2, "--top-k"),
    ("query Who? --top-k 500 --db {db}", 2, "retrieval.top_k"),
    ("query Who? --db {missing}", 2, "no graph store at"),
    ("query Who? --config {bad_yaml} --db {db}", 2, "not valid YAML"),
    # documents
    ("documents --limit 0 --db {db}", 2, "--limit"),
    ("documents --status gone --db {db}", 2, "unknown document status"),
    ("documents --db {missing}", 2, "no graph store at"),
    # delete
    ("delete", 2, "Missing argument"),
    ("delete d_nope --db {db}", 1, "graphrag documents"),
    ("delete ~no_such_user_x/file.txt --db {db}", 1, "not found"),
    ("delete d_nope --db {missing}", 2, "no graph store at"),
    # stats
    ("stats --db {missing}", 2, "no graph store at"),
    ("stats --db {file}", 1, "not an SQLite database"),
    ("stats --log-level LOUD --db {db}", 2, "unknown log level"),
    ("stats --config {bad_toml}", 2, "{bad_toml}"),
    # export
    ("export --db {db}", 2, "Missing option '--output'"),
    ("export -o {tmp}/x --format csv --db {db}", 2, "unknown export format"),
    ("export -o {file} --format parquet --db {db}", 2, "is a file"),
    ("export -o {file}/inside.graphml --db {db}", 1, "cannot write the export"),
    ("export -o {tmp}/x.graphml --db {missing}", 2, "no graph store at"),
    # eval
    ("eval", 2, "Missing option '--dataset'"),
    ("eval --dataset {tmp}/missing", 2, "no such dataset"),
    ("eval --dataset {dataset}", 2, "cannot be read as UTF-8 JSON"),
    ("eval --dataset {dataset} --modes naive,psychic", 2, "psychic"),
    ("eval --dataset {dataset} --limit 0", 2, "--limit"),
    # merges
    ("merges --undo x_nope --db {db}", 1, "not found"),
    ("merges --db {missing}", 2, "no graph store at"),
    # migrate
    ("migrate --db {db}", 2, "Missing option '--to'"),
    ("migrate --to mongo --db {db}", 2, "unknown store 'mongo'"),
    ("migrate --to embedded --target-db {db} --db {db}", 2, "same store"),
    ("migrate --to arango --db {db}", 2, "arango.url is not set"),
    ("migrate --to embedded --batch-size 0 --db {db}", 2, "--batch-size"),
    # schema
    ("schema --config {bad_yaml}", 2, "not valid YAML"),
    ("schema --db {folder}", 2, "is a folder"),
    ("schema --store arango", 2, "arango.url is not set"),
    # analyze
    ("analyze --resolution -1 --db {db}", 2, "resolution"),
    ("analyze --min-community-size 0 --db {db}", 2, "--min-community-size"),
    ("analyze --seed lucky --db {db}", 2, "--seed"),
    ("analyze --db {missing}", 2, "no graph store at"),
    # init
    ("init {tmp}/settings.ini", 2, "must end in .toml, .yaml or .yml"),
    ("init {bad_toml}", 1, "already exists"),
    ("init --format xml", 2, "unknown settings format"),
    # config show
    ("config nope", 2, "No such command"),
    ("config show --config {bad_toml}", 2, "not valid TOML"),
    ("config show --config {folder}", 2, "is not a file"),
    # demo
    ("demo --config {tmp}/missing.yaml", 2, "does not exist"),
    ("demo --store arango", 2, "arango.url is not set"),
    # analyst-queries
    ("analyst-queries export --out {file}/inside.json", 1, "cannot write"),
    ("analyst-queries install --user kg_analyst", 2, "arango.url is not set"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    doc = root / "doc.txt"
    doc.write_text("Maria Olsen founded the Olsen Bakery in Trondheim.", encoding="utf-8")
    db = root / "graph.db"
    result = CliRunner().invoke(app, ["ingest", str(doc), "--db", str(db)])
    assert result.exit_code == 0, result.output
    (root / "folder").mkdir()
    (root / "file.txt").write_text("not a store\n", encoding="utf-8")
    (root / "bad.toml").write_text("[retrieval\n", encoding="utf-8")
    (root / "bad.yaml").write_text("retrieval: [1,\n", encoding="utf-8")
    (root / "dataset").mkdir()
    (root / "dataset" / "dataset.json").write_text("[{", encoding="utf-8")
    (root / "dataset" / "dataset_corpus.json").write_text("[]", encoding="utf-8")
    names = {"db": db, "doc": doc, "folder": root / "folder", "file": root / "file.txt"}
    names |= {"missing": root / "typo" / "graph.db", "bad_toml": root / "bad.toml"}
    names |= {"bad_yaml": root / "bad.yaml", "dataset": root / "dataset"}
    return {k: str(v) for k, v in names.items()}


@pytest.mark.parametrize(("command", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_arguments_exit_cleanly(
    places: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # init and eval write into the current folder
    monkeypatch.delenv("GRAPHRAG_ARANGO__URL", raising=False)
    values = {**places, "tmp": str(tmp_path), "blank": "  "}
    args = [part.format(**values) for part in command.split()]
    result: Any = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert TRACEBACK not in result.output
    assert message.format(**values) in " ".join(result.stderr.split())
    if code == 2 and command.split()[0] in {"stats", "query", "documents"}:
        assert result.stdout == ""  # errors never go to stdout
