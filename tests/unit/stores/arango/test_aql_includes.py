"""``// @include <name>`` lines: expanded on load from ``aql/fragments/``, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.errors import ConfigError
from graphrag.stores.arango.includes import assemble, marker_name
from graphrag.stores.arango.queries import Queries


def _folder(tmp_path: Path, queries: dict[str, str], fragments: dict[str, str]) -> Path:
    (tmp_path / "fragments").mkdir()
    for name, text in queries.items():
        (tmp_path / f"{name}.aql").write_text(text)
    for name, text in fragments.items():
        (tmp_path / "fragments" / f"{name}.aql").write_text(text)
    return tmp_path


def test_include_lines_are_replaced_by_the_fragment_nested_ones_too(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {"q": "// @params: k\nLET a = 1\n// @include outer\nRETURN b\n"},
        {"outer": "// @params: k\n  //  @include   inner  \nLET b = a\n", "inner": "LET c = @k\n"},
    )
    queries = Queries(folder)

    assert queries.names() == ["q"]  # fragments are no queries
    assert queries.text("q") == (
        "// @params: k\nLET a = 1\n"
        "// ---- begin fragments/outer.aql ----\n// @params: k\n"
        "// ---- begin fragments/inner.aql ----\nLET c = @k\n// ---- end fragments/inner.aql ----\n"
        "LET b = a\n// ---- end fragments/outer.aql ----\n"
        "RETURN b\n"
    )


def test_a_file_without_include_lines_is_unchanged(tmp_path: Path) -> None:
    text = "// mentions `// @include x` in prose only\nRETURN 1\n"
    folder = _folder(tmp_path, {"q": text}, {})

    assert Queries(folder).text("q") == text


def test_an_unknown_fragment_is_a_clear_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"q": "// @include nope\nRETURN 1\n"}, {})

    with pytest.raises(ConfigError, match=r"aql/q\.aql includes aql/fragments/nope\.aql, which"):
        Queries(folder).text("q")


def test_an_unknown_nested_fragment_names_the_chain() -> None:
    with pytest.raises(ConfigError, match=r"q\.aql -> fragments/a\.aql -> fragments/b\.aql"):
        assemble("// @include a", {"a": "// @include b\n"}, "q.aql")


@pytest.mark.parametrize(
    ("fragments", "chain"),
    [
        ({"a": "// @include a\n"}, "q.aql -> fragments/a.aql -> fragments/a.aql"),
        (
            {"a": "// @include b\n", "b": "// @include a\n"},
            "q.aql -> fragments/a.aql -> fragments/b.aql -> fragments/a.aql",
        ),
    ],
)
def test_include_loops_are_refused(fragments: dict[str, str], chain: str) -> None:
    with pytest.raises(ConfigError, match="include loop") as caught:
        assemble("// @include a\nRETURN 1\n", fragments, "q.aql")
    assert chain in str(caught.value)


def test_a_fragment_included_twice_into_one_query_is_refused() -> None:
    fragments = {"a": "LET x = 1\n", "b": "// @include a\n"}
    with pytest.raises(ConfigError, match=r"included twice into aql/q\.aql"):
        assemble("// @include a\n// @include b\nRETURN x\n", fragments, "q.aql")


@pytest.mark.parametrize(
    "line", ["// @include", "// @include ../secret", "// @include a b", "//@include A"]
)
def test_malformed_include_lines_are_refused(line: str) -> None:
    with pytest.raises(ConfigError, match="malformed include line"):
        marker_name(line, "aql/q.aql")


def test_a_broken_include_fails_the_first_use_of_any_query(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"q": "// @include nope\n", "stats": "RETURN 1\n"}, {})

    with pytest.raises(ConfigError, match=r"fragments/nope\.aql"):
        Queries(folder).text("stats")
