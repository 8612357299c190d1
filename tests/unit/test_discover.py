"""Discovery of input files from paths, directories and glob patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.ingest.discover import discover


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small corpus with nested, hidden and unsupported files."""
    files = [
        "a.txt",
        "b.md",
        "notes.docx",
        ".hidden.txt",
        "sub/c.html",
        "sub/deeper/d.JSON",
        "sub/deeper/image.png",
        ".git/config.txt",
        "sub/.cache/e.md",
    ]
    for name in files:
        path = tmp_path / "corpus" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("content", encoding="utf-8")
    return tmp_path / "corpus"


def rel(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def test_directory_recursive_skips_hidden_and_unsupported(tree: Path) -> None:
    paths, errors = discover([str(tree)])
    assert errors == []
    assert rel(paths, tree) == ["a.txt", "b.md", "sub/c.html", "sub/deeper/d.JSON"]
    assert all(p.is_absolute() for p in paths)


def test_directory_not_recursive(tree: Path) -> None:
    paths, errors = discover([str(tree)], recursive=False)
    assert errors == []
    assert rel(paths, tree) == ["a.txt", "b.md"]


def test_glob_pattern(tree: Path) -> None:
    paths, errors = discover([f"{tree}/**/*.html", f"{tree}/*.md"])
    assert errors == []
    assert rel(paths, tree) == ["b.md", "sub/c.html"]


def test_glob_matching_directories_walks_them(tree: Path) -> None:
    paths, errors = discover([f"{tree}/su*"])
    assert errors == []
    assert rel(paths, tree) == ["sub/c.html", "sub/deeper/d.JSON"]


def test_missing_inputs_become_errors_and_batch_continues(tree: Path) -> None:
    missing = str(tree / "missing.txt")
    pattern = f"{tree}/**/*.csv"
    paths, errors = discover([missing, str(tree / "a.txt"), pattern])
    assert rel(paths, tree) == ["a.txt"]
    assert [e.path for e in errors] == [missing, pattern]
    assert "no such file or directory" in errors[0].reason
    assert "matches nothing" in errors[1].reason


def test_named_unsupported_file_is_an_error(tree: Path) -> None:
    named = str(tree / "notes.docx")
    paths, errors = discover([named])
    assert paths == []
    [error] = errors
    assert error.path == named
    assert "unsupported extension '.docx'" in error.reason
    assert ".pdf" in error.reason


def test_glob_with_only_unsupported_matches_is_an_error(tree: Path) -> None:
    paths, errors = discover([f"{tree}/**/*.png"])
    assert paths == []
    assert "no supported file" in errors[0].reason


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    paths, errors = discover([str(tmp_path / "empty")])
    assert paths == []
    assert "no supported files in directory" in errors[0].reason


def test_hidden_file_named_explicitly_is_included(tree: Path) -> None:
    paths, errors = discover([str(tree / ".hidden.txt")])
    assert errors == []
    assert rel(paths, tree) == [".hidden.txt"]


def test_duplicates_are_removed_and_sorted(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    paths, errors = discover(["sub/c.html", str(tree), "a.txt", f"{tree}/*.txt", "./a.txt"])
    assert errors == []
    assert rel(paths, tree) == ["a.txt", "b.md", "sub/c.html", "sub/deeper/d.JSON"]
    assert paths == sorted(paths)


def test_symlinked_file_resolves_to_target(tree: Path) -> None:
    link = tree / "link.txt"
    link.symlink_to(tree / "a.txt")
    paths, _ = discover([str(link), str(tree / "a.txt")])
    assert paths == [(tree / "a.txt").resolve()]


def test_home_is_expanded(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tree))
    paths, errors = discover(["~/a.txt"])
    assert errors == []
    assert rel(paths, tree) == ["a.txt"]
