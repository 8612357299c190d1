"""Discovery of input files from paths, directories and glob patterns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graphrag.errors import IngestError
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


# --- special files and symbolic links (audit) -------------------------------------------------


def reasons(errors: list[IngestError]) -> dict[str, str]:
    return {e.path: e.reason for e in errors}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_fifo_says_it_is_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    paths, errors = discover([str(fifo)])
    assert paths == []
    assert "is a named pipe (FIFO), not a regular file" in reasons(errors)[str(fifo)]


def test_named_links_say_loop_or_dangling(tmp_path: Path) -> None:
    loop, dangling = tmp_path / "loop.txt", tmp_path / "dangling.txt"
    loop.symlink_to("loop.txt")
    dangling.symlink_to("nowhere.txt")
    paths, errors = discover([str(loop), str(dangling)])
    assert paths == []
    found = reasons(errors)
    assert "symbolic link loop" in found[str(loop)]
    assert "dangling symbolic link to nowhere.txt" in found[str(dangling)]
    assert not any("no such file" in r for r in found.values())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_entries_of_a_folder_are_reported_not_skipped(tree: Path) -> None:
    os.mkfifo(tree / "pipe.md")
    (tree / "loop.txt").symlink_to("loop.txt")
    (tree / "dangling.txt").symlink_to("gone.txt")
    (tree / "ignored.png").symlink_to("gone.png")  # unsupported: still skipped silently
    paths, errors = discover([str(tree)])
    assert rel(paths, tree) == ["a.txt", "b.md", "sub/c.html", "sub/deeper/d.JSON"]
    root = tree.resolve()
    found = reasons(errors)
    assert set(found) == {str(root / n) for n in ("pipe.md", "loop.txt", "dangling.txt")}
    assert "named pipe" in found[str(root / "pipe.md")]
    assert "symbolic link loop" in found[str(root / "loop.txt")]
    assert "dangling symbolic link to gone.txt" in found[str(root / "dangling.txt")]


def test_link_out_of_the_folder_is_refused_under_its_own_path(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "inside.txt").write_text("inside", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside", encoding="utf-8")
    (folder / "link.txt").symlink_to(secret)
    (folder / "alias.txt").symlink_to("inside.txt")  # inside -> inside: followed
    paths, errors = discover([str(folder)])
    assert paths == [(folder / "inside.txt").resolve()]
    [error] = errors
    assert error.path == str(folder.resolve() / "link.txt")
    assert f"symbolic link to {secret.resolve()}, outside the ingested folder" in error.reason
    assert "--follow-links" in error.reason

    followed, errors = discover([str(folder)], follow_external_links=True)
    assert errors == []
    assert followed == sorted([(folder / "inside.txt").resolve(), folder.resolve() / "link.txt"])


def test_glob_links_are_judged_against_the_pattern_folder(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.md").write_text("real", encoding="utf-8")
    (folder / "up.md").symlink_to(folder / "sub" / "real.md")
    outside = tmp_path / "outside.md"
    outside.write_text("outside", encoding="utf-8")
    (folder / "sub" / "out.md").symlink_to(outside)
    paths, errors = discover([f"{folder}/**/*.md"])
    assert paths == [(folder / "sub" / "real.md").resolve()]
    assert [e.path for e in errors] == [str(folder.resolve() / "sub" / "out.md")]
