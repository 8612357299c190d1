"""CLI conventions without models: --version, --help, choices, env vars, completion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from graphrag.config import version
from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[3]
SHARED = {"config": "GRAPHRAG_CONFIG_FILE", "store": "GRAPHRAG_STORE"} | {
    "db": "GRAPHRAG_EMBEDDED__PATH",
    "log_level": "GRAPHRAG_LOG_LEVEL",
}
WITHOUT_SETTINGS = {"init", "analyst-queries export", "analyst-queries install"}
WITHOUT_JSON = {"demo", "serve", "analyst-queries export", "analyst-queries install"}


def invoke(*args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(app, list(args), prog_name="graphrag", **kwargs)


def commands() -> dict[str, Any]:
    """Every leaf command by its full name (``config show``, ``analyst-queries export``)."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = command

    walk(typer.main.get_command(app), "")
    return found


def test_version_prints_the_distribution_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"graphrag {version()}"


def test_every_command_is_listed() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("ingest", "query", "documents", "delete", "stats", "export", "eval"):
        assert f"\n  {name} " in result.stdout
    for name in ("merges", "migrate", "schema", "analyze", "init", "demo", "config"):
        assert f"\n  {name} " in result.stdout
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


def test_every_option_has_help_text() -> None:
    for name, command in commands().items():
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts[0]} has no help text"


def test_shared_options_are_on_every_command_once_with_their_variable() -> None:
    for name, command in commands().items():
        options = [p for p in command.params if p.param_type_name == "option"]
        names = [p.name for p in options]
        assert len(names) == len(set(names)), name
        if name not in WITHOUT_SETTINGS:
            envvars = {p.name: p.envvar for p in options if p.name in SHARED}
            assert envvars == SHARED, name
        assert ("as_json" in names) is (name not in WITHOUT_JSON), name


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("query", ["[naive|bm25|local|hybrid|ppr|global]", "GRAPHRAG_RETRIEVAL__MODE"]),
        ("query", ["GRAPHRAG_RETRIEVAL__TOP_K", "GRAPHRAG_EMBEDDED__PATH"]),
        ("export", ["[graphml|json|parquet]", "--with-embeddings"]),
        ("stats", ["[DEBUG|INFO|WARNING|ERROR|CRITICAL]", "[embedded|arango]"]),
        ("documents", ["[pending|processing|done|failed]", "--source-contains", "--limit"]),
        ("ingest", ["--batch-size", "GRAPHRAG_INGEST__FOLLOW_EXTERNAL_LINKS"]),
        ("init", ["[toml|yaml]", "--force"]),
        ("migrate", ["--to [embedded|arango]"]),
    ],
)
def test_help_lists_choices_and_variables(command: str, expected: list[str]) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for part in expected:
        assert part in text, text


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("graphrag query x --mode ", 4, ["naive", "bm25", "local", "hybrid", "ppr", "global"]),
        ("graphrag export --format p", 3, ["parquet"]),
        ("graphrag stats --log-level W", 3, ["WARNING"]),
        ("graphrag do", 1, ["documents"]),
    ],
)
def test_shell_completion_offers_the_choices(words: str, cword: int, expected: list[str]) -> None:
    env = {"_GRAPHRAG_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = invoke(env=env)
    assert result.exit_code == 0
    assert result.stdout.split() == expected


def test_the_completion_script_is_shown() -> None:
    result = invoke("--show-completion", "bash")
    assert result.exit_code == 0
    assert "_GRAPHRAG_COMPLETE=complete_bash" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats", "--log-level", "LOUD"], "unknown log level 'LOUD'; use one of: DEBUG"),
        (["stats", "--store", "mongo"], "unknown store 'mongo'; use one of: embedded, arango"),
        (["export", "-o", "x", "--format", "csv"], "unknown export format 'csv'"),
        (["documents", "--status", "gone"], "unknown document status 'gone'"),
        (["query", "Who?", "--top-k", "0"], "--top-k"),
        (["query", "Who?", "--top-k", "many"], "--top-k"),
    ],
)
def test_bad_option_values_exit_2_naming_the_valid_ones(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_choices_are_case_insensitive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("config", "show", "--json", "--log-level", "debug", "--store", "EMBEDDED")
    assert result.exit_code == 0, result.output
    assert '"log_level": "DEBUG"' in result.stdout


def test_the_cli_module_stays_small() -> None:
    for path in (ROOT / "pipelines").glob("cli*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 500, path


def test_parquet_export_without_pyarrow_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import sys

    from graphrag.errors import ConfigError
    from pipelines.parquet_export import export_tables

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    with pytest.raises(ConfigError, match=r"needs pyarrow.*pip install pyarrow"):
        asyncio.run(export_tables(Any, tmp_path / "tables"))  # type: ignore[arg-type]
    assert not (tmp_path / "tables").exists()
