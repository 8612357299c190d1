"""``graphrag init`` and ``graphrag config show``; option variables keep the precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrag.config import Settings, load_settings
from pipelines.cli import app
from pipelines.settings_view import MASK


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def show(*args: str | Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = invoke("config", "show", "--json", *args, env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("name", ["graphrag.toml", "team.yaml", "team.yml"])
def test_init_writes_a_starter_file_that_loads_to_the_defaults(tmp_path: Path, name: str) -> None:
    result = invoke("init", tmp_path / name)
    assert result.exit_code == 0, result.output
    text = (tmp_path / name).read_text(encoding="utf-8")
    assert load_settings(tmp_path / name) == Settings()
    for section in ("embedded", "arango", "ingest", "chunking", "extraction", "resolution"):
        assert f"{section}" in text
    for section in ("embedding", "retrieval", "answer", "llm"):
        assert f"{section}" in text
    assert "# Most chunks returned (1-200). [GRAPHRAG_RETRIEVAL__TOP_K]" in text
    assert "password" in text
    assert "hunter" not in text


def test_init_defaults_to_graphrag_toml_and_takes_a_format(tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    assert (tmp_path / "graphrag.toml").is_file()
    folder = tmp_path / "conf"
    folder.mkdir()
    result = invoke("init", folder, "--format", "yaml", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"path": str(folder / "graphrag.yaml"), "format": "yaml"}
    assert load_settings(folder / "graphrag.yaml") == Settings()


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "graphrag.toml"
    target.write_text("# mine\n", encoding="utf-8")
    refused = invoke("init")
    assert refused.exit_code == 1
    assert "already exists; pass --force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"
    forced = invoke("init", "--force")
    assert forced.exit_code == 0, forced.output
    assert "[retrieval]" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["settings.ini"], "must end in .toml, .yaml or .yml"),
        (["a.toml", "--format", "yaml"], "--format is yaml"),
    ],
)
def test_init_refuses_bad_names(args: list[str], message: str) -> None:
    result = invoke("init", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_config_show_names_every_source(tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_text("[retrieval]\ntop_k = 3\nhops = 3\n[embedded]\npath = 'f.db'\n")
    (tmp_path / ".env").write_text("GRAPHRAG_RETRIEVAL__RRF_K=7\n", encoding="utf-8")
    env = {"GRAPHRAG_RETRIEVAL__HOPS": "1"}
    data = show("--config", config, "--log-level", "warning", env=env)
    values, sources = data["settings"], data["sources"]
    assert data["config_file"] == str(config)
    assert (values["retrieval"]["top_k"], sources["retrieval.top_k"]) == (
        3,
        f"config file {config}",
    )
    assert values["retrieval"]["hops"] == 1
    assert sources["retrieval.hops"] == "environment variable GRAPHRAG_RETRIEVAL__HOPS"
    assert sources["retrieval.rrf_k"] == ".env (GRAPHRAG_RETRIEVAL__RRF_K)"
    assert (values["log_level"], sources["log_level"]) == ("WARNING", "command line (--log-level)")
    assert (values["embedded"]["path"], sources["embedded.path"]) == (
        "f.db",
        f"config file {config}",
    )
    assert sources["retrieval.mode"] == "default"
    dumped = Settings().model_dump()
    leaves = sum(len(v) if isinstance(v, dict) else 1 for v in dumped.values())
    assert len(sources) == leaves  # every setting is listed


def test_config_show_masks_secrets() -> None:
    env = {
        "GRAPHRAG_ARANGO__PASSWORD": "hunter2",
        "GRAPHRAG_LLM__API_KEY": "sk-secret",
        "GRAPHRAG_RETRIEVAL__TOKEN_BUDGET": "500",
    }
    data = show(env=env)
    assert data["settings"]["arango"]["password"] == MASK
    assert data["settings"]["llm"]["api_key"] == MASK
    assert data["settings"]["arango"]["admin_password"] is None  # unset stays visible as unset
    assert data["settings"]["retrieval"]["token_budget"] == 500  # a "token" count, not a secret
    human = invoke("config", "show", env=env)
    assert human.exit_code == 0, human.output
    assert "hunter2" not in human.stdout + human.stderr
    assert "sk-secret" not in human.stdout + human.stderr
    assert "arango.password" in human.stdout


def test_variables_shown_in_help_keep_the_settings_precedence(tmp_path: Path) -> None:
    """GRAPHRAG_EMBEDDED__PATH (the --db variable) is an environment value, not a CLI one."""
    config = tmp_path / "g.yaml"
    config.write_text("embedded:\n  path: file.db\nlog_level: ERROR\n", encoding="utf-8")
    env = {"GRAPHRAG_EMBEDDED__PATH": "env.db", "GRAPHRAG_CONFIG_FILE": str(config)}
    data = show(env=env)
    assert data["settings"]["embedded"]["path"] == "env.db"
    assert data["sources"]["embedded.path"] == "environment variable GRAPHRAG_EMBEDDED__PATH"
    assert data["sources"]["log_level"] == f"config file {config}"  # read via the variable
    assert show("--db", "cli.db", env=env)["sources"]["embedded.path"] == "command line (--db)"
    quiet = show(env={**env, "GRAPHRAG_LOG_LEVEL": "debug"})
    assert quiet["settings"]["log_level"] == "DEBUG"
    assert quiet["sources"]["log_level"] == "environment variable GRAPHRAG_LOG_LEVEL"


def test_a_bad_config_file_exits_2_with_the_file_and_key() -> None:
    Path("g.toml").write_text("[retrieval]\ntopk = 3\n", encoding="utf-8")
    result = invoke("config", "show", "--config", "g.toml")
    assert result.exit_code == 2
    assert "retrieval.topk: unknown setting in config file g.toml" in result.stderr
    assert "did you mean 'top_k'" in result.stderr
