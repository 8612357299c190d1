"""Settings: sources and their precedence (CLI > env > file > .env > defaults), file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.config import Settings, StoreKind, load_settings, value_sources, version
from graphrag.errors import ConfigError


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder so no developer's .env is read."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.retrieval.top_k == 10
    assert settings.log_level == "INFO"


def test_file_env_and_cli_win_in_that_order_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "graphrag.toml",
        'log_level = "WARNING"\n[retrieval]\ntop_k = 3\nhops = 3\nmode = "bm25"\n'
        "[embedded]\npath = 'file.db'\nwriter_timeout = 5.0\n",
    )
    write(tmp_path / ".env", "GRAPHRAG_RETRIEVAL__HOPS=1\nGRAPHRAG_RETRIEVAL__RRF_K=7\n")
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__TOP_K", "4")
    settings = load_settings(config, embedded={"path": Path("cli.db")})
    assert settings.retrieval.top_k == 4  # env over file
    assert settings.retrieval.mode == "bm25"  # file, untouched by env
    assert settings.retrieval.hops == 3  # file over .env
    assert settings.retrieval.rrf_k == 7  # .env over defaults
    assert settings.embedded.path == Path("cli.db")  # CLI over file
    assert settings.embedded.writer_timeout == 5.0  # the file's other key in that section
    assert settings.log_level == "WARNING"


def test_cli_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_STORE", "arango")
    monkeypatch.setenv("GRAPHRAG_LOG_LEVEL", "ERROR")
    settings = load_settings(store=StoreKind.EMBEDDED, log_level="DEBUG")
    assert settings.store is StoreKind.EMBEDDED
    assert settings.log_level == "DEBUG"


def test_config_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "team.yaml", "retrieval:\n  top_k: 6\nstore: embedded\n")
    monkeypatch.setenv("GRAPHRAG_CONFIG_FILE", str(config))
    assert load_settings().retrieval.top_k == 6
    other = write(tmp_path / "other.yml", "retrieval:\n  top_k: 9\n")
    assert load_settings(other).retrieval.top_k == 9  # the argument wins over the variable


def test_yaml_and_toml_give_the_same_settings(tmp_path: Path) -> None:
    toml = write(
        tmp_path / "a.toml",
        '[chunking]\nmax_tokens = 256\noverlap_tokens = 32\n[extraction]\ndrop_types = ["DATE"]\n',
    )
    yaml = write(
        tmp_path / "a.yaml",
        "chunking:\n  max_tokens: 256\n  overlap_tokens: 32\nextraction:\n  drop_types: [DATE]\n",
    )
    assert load_settings(toml) == load_settings(yaml)
    assert load_settings(toml).extraction.drop_types == ["DATE"]


def test_an_empty_yaml_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "empty.yaml", "")) == Settings()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.toml", None, ["missing.toml", "does not exist"]),
        ("settings.ini", "[retrieval]\n", ["settings.ini", ".toml, .yaml or .yml"]),
        ("bad.toml", "[retrieval\ntop_k = 3\n", ["bad.toml", "not valid TOML", "line 1"]),
        ("bad.yaml", "retrieval: [1, 2\n", ["bad.yaml", "not valid YAML", "line"]),
        ("list.yaml", "- 1\n- 2\n", ["list.yaml", "mapping", "top level"]),
        ("latin1.toml", b"title = '\xe9'\n", ["latin1.toml", "UTF-8"]),
        (
            "typo.toml",
            "[retrieval]\ntopk = 3\n",
            ["typo.toml", "retrieval.topk", "unknown setting", "top_k"],
        ),
        ("section.toml", "[retrieve]\ntop_k = 3\n", ["section.toml", "retrieve", "retrieval"]),
        (
            "type.yaml",
            "retrieval:\n  top_k: many\n",
            ["type.yaml", "retrieval.top_k", "valid integer", "'many'"],
        ),
        (
            "range.toml",
            "[chunking]\nmax_tokens = 100\noverlap_tokens = 500\n",
            ["range.toml", "overlap_tokens"],
        ),
    ],
)
def test_bad_files_say_which_file_which_key_and_what_to_do(
    tmp_path: Path, name: str, text: str | bytes | None, expected: list[str]
) -> None:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        write(path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    for part in expected:
        assert part in message, message


def test_a_folder_as_config_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "conf.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="not a file"):
        load_settings(folder)


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    import os

    path = write(tmp_path / "secret.toml", "store = 'embedded'\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file")
        with pytest.raises(ConfigError, match="cannot read"):
            load_settings(path)
    finally:
        path.chmod(0o600)


def test_invalid_env_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__TOP_K", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "retrieval.top_k" in message
    assert "GRAPHRAG_RETRIEVAL__TOP_K" in message


def test_unknown_env_keys_of_a_section_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__TOPK", "3")
    with pytest.raises(ConfigError, match="GRAPHRAG_RETRIEVAL__TOPK"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "stored"), [("debug", "DEBUG"), (" Warning ", "WARNING"), ("CRITICAL", "CRITICAL")]
)
def test_log_level_is_normalised(given: str, stored: str) -> None:
    assert load_settings(log_level=given).log_level == stored


def test_log_level_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "log_level" in message
    assert "'LOUD'" in message
    assert "GRAPHRAG_LOG_LEVEL" in message


def test_value_sources_name_where_each_value_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "g.toml", "[retrieval]\ntop_k = 3\nhops = 3\n")
    write(tmp_path / ".env", "GRAPHRAG_RETRIEVAL__RRF_K=7\nGRAPHRAG_RETRIEVAL__HOPS=1\n")
    monkeypatch.setenv("GRAPHRAG_RETRIEVAL__TOP_K", "4")
    sources = value_sources(config, embedded={"path": Path("x.db")})
    assert sources["retrieval.top_k"] == ("environment", "GRAPHRAG_RETRIEVAL__TOP_K")
    assert sources["retrieval.hops"] == ("config file", str(config))
    assert sources["retrieval.rrf_k"] == (".env", "GRAPHRAG_RETRIEVAL__RRF_K")
    assert sources["embedded.path"] == ("command line", "")
    assert "retrieval.mode" not in sources  # a default


def test_version_is_the_distribution_version() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    expected = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    assert version() == expected


PASSWORD = "PASSWORDXYZ"
CREDENTIALS_URL = f"http://bob:{PASSWORD}@127.0.0.1:18601/v1"


def _formatted(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("field", ["base_url", "embedding_base_url"])
def test_llm_urls_with_user_and_password_are_refused_without_echoing_the_password(
    monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    variable = f"GRAPHRAG_LLM__{field.upper()}"
    monkeypatch.setenv(variable, CREDENTIALS_URL)
    monkeypatch.setenv("GRAPHRAG_LLM__API_KEY", "sk-KEY-0123456789")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert "GRAPHRAG_LLM__API_KEY" in message  # where the key belongs
    assert "user name or password" in message
    formatted = _formatted(caught.value)  # the chained ValidationError included
    assert PASSWORD not in formatted
    assert "bob" not in formatted
    assert "sk-KEY-0123456789" not in formatted


def test_llm_settings_built_directly_refuse_credentials_in_urls() -> None:
    from pydantic import ValidationError

    from graphrag.config import LLMSettings

    with pytest.raises(ValidationError) as caught:
        LLMSettings(base_url=CREDENTIALS_URL, model="m")
    assert "GRAPHRAG_LLM__API_KEY" in str(caught.value)
    assert PASSWORD not in _formatted(caught.value)
    with pytest.raises(ValidationError):  # a bare user name can be a token too
        LLMSettings(embedding_base_url="https://sk-token@llm.example.com/v1")
    ok = LLMSettings(base_url="https://llm.example.com/v1?api-version=2024-06-01", model="m")
    assert ok.base_url == "https://llm.example.com/v1?api-version=2024-06-01"


def test_a_refused_llm_section_never_shows_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_LLM__API_KEY", "sk-KEY-0123456789")
    monkeypatch.setenv("GRAPHRAG_LLM__EMBEDDING_PROVIDER", "openai")  # incomplete: refused
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "GRAPHRAG_LLM__EMBEDDING_MODEL" in str(caught.value)
    assert "sk-KEY-0123456789" not in _formatted(caught.value)


def test_config_show_refuses_a_base_url_with_credentials(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    env = {"GRAPHRAG_LLM__BASE_URL": CREDENTIALS_URL}
    result = CliRunner().invoke(app, ["config", "show", "--json"], env=env)
    assert result.exit_code != 0
    assert PASSWORD not in result.output
    if result.exception is not None:
        assert PASSWORD not in _formatted(result.exception)


def test_a_cost_budget_without_prices_is_refused_naming_the_settings() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(llm={"max_cost": 0.5})
    text = str(caught.value)
    assert "GRAPHRAG_LLM__PRICE_PER_1K_PROMPT" in text
    assert "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN" in text
    assert load_settings(llm={"max_cost": 0.5, "price_per_1k_completion": 0.002}).llm.max_cost


def test_null_in_the_environment_unsets_an_optional_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().extraction.llm_min_entities == 2
    monkeypatch.setenv("GRAPHRAG_EXTRACTION__LLM_MIN_ENTITIES", "null")
    assert load_settings().extraction.llm_min_entities is None
    monkeypatch.setenv("GRAPHRAG_EXTRACTION__LLM_MIN_ENTITIES", "3")
    assert load_settings().extraction.llm_min_entities == 3
