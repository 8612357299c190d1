"""Input discovery: expand files, directories and glob patterns into the files to load.

Symbolic links found inside an ingested folder (or below a glob pattern's fixed prefix) are
followed when they point inside that folder: the target is ingested once, under its own
path. A link that points outside is refused under the link's own path unless
``follow_external_links`` is set, in which case the file is loaded under the link's path.
Dangling links, link loops, named pipes, sockets and devices are reported with what they
are, never as "no such file".
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrag.errors import IngestError
from graphrag.ingest.common import SUPPORTED_EXTENSIONS, supported_list
from graphrag.ingest.files import file_problem
from graphrag.ingest.loaders import source_path

logger = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


@dataclass
class _Found:
    """What discovery collected so far."""

    follow_external_links: bool
    files: set[Path] = field(default_factory=set)
    errors: list[IngestError] = field(default_factory=list)
    outcomes: int = 0  # files accepted (duplicates too) plus errors

    def add(self, path: Path) -> None:
        self.files.add(path)
        self.outcomes += 1

    def fail(self, where: Path | str, reason: str) -> None:
        self.errors.append(IngestError(str(where), reason))
        self.outcomes += 1


def discover(
    inputs: Sequence[str], *, recursive: bool = True, follow_external_links: bool = False
) -> tuple[list[Path], list[IngestError]]:
    """Expand inputs into the files to ingest.

    Each input may be a file, a directory or a glob pattern (``docs/**/*.md``, ``**``
    matches any depth). Directories are walked (recursively unless ``recursive`` is
    false); inside directories and glob matches, hidden files and folders (names starting
    with ``.``) and files with unsupported extensions are skipped silently. A problem with
    one input never stops the others: it becomes an error in the second list.

    Args:
        inputs: Paths, directories or glob patterns (``~`` is expanded).
        recursive: Whether to walk sub-directories of directory inputs.
        follow_external_links: Whether to follow symbolic links inside a walked folder
            that point outside it (a file named explicitly is always followed).

    Returns:
        The sorted, de-duplicated absolute paths of supported files, and one
        :class:`~graphrag.errors.IngestError` per input that is missing, matches no
        supported file, names a file with an unsupported extension or something that is
        not a regular file, and per supported entry of a folder that cannot be read (a
        named pipe, a dangling link, a link loop, a link out of the folder).
    """
    found = _Found(follow_external_links)
    for raw in inputs:
        expanded = os.path.expanduser(raw)
        if os.path.isdir(expanded):
            before = found.outcomes
            _walk(raw, Path(expanded), Path(expanded), recursive, found)
            if found.outcomes == before:
                reason = f"no supported files in directory (looked for {supported_list()})"
                found.fail(raw, reason)
        elif os.path.lexists(expanded):
            _add_named(raw, Path(expanded), found)
        elif _GLOB_CHARS.intersection(expanded):
            _expand_glob(raw, expanded, recursive, found)
        else:
            found.fail(raw, "no such file or directory; check the path")
    paths = sorted(found.files)
    logger.debug("discovered %d file(s), %d error(s)", len(paths), len(found.errors))
    return paths, found.errors


def _supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def _add_named(raw: str, path: Path, found: _Found) -> None:
    """A file named explicitly: links are followed wherever they point."""
    problem = file_problem(path)
    if problem is not None:
        found.fail(raw, problem)
    elif _supported(path):
        found.add(path.resolve())
    else:
        shown = repr(path.suffix) if path.suffix else "(none)"
        found.fail(raw, f"unsupported extension {shown}; supported: {supported_list()}")


def _add_entry(path: Path, root: Path, found: _Found) -> None:
    """A supported entry of a walked folder: follow links only inside ``root``."""
    own = source_path(path)
    problem = file_problem(path)
    if problem is not None:
        found.fail(own, problem)
        return
    target = path.resolve()
    if not path.is_symlink() or target.is_relative_to(root):
        found.add(target)
    elif found.follow_external_links:
        found.add(own)
    else:
        reason = (
            f"symbolic link to {target}, outside the ingested folder {root}; not followed "
            "(pass --follow-links or set GRAPHRAG_INGEST__FOLLOW_EXTERNAL_LINKS=true to "
            "ingest it)"
        )
        found.fail(own, reason)


def _walk(raw: str, start: Path, root: Path, recursive: bool, found: _Found) -> None:
    resolved_root = root.resolve()

    def on_error(exc: OSError) -> None:
        where = exc.filename or raw
        found.fail(where, f"cannot read directory ({exc.strerror}); check its permissions")

    for folder, dirs, names in os.walk(start, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and _supported(path):
                _add_entry(path, resolved_root, found)


def _glob_root(pattern: str) -> Path:
    """The fixed folder a glob pattern starts from (``docs/a`` for ``docs/a/**/*.md``)."""
    parts: list[str] = []
    for part in Path(pattern).parts[:-1]:
        if _GLOB_CHARS.intersection(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def _expand_glob(raw: str, pattern: str, recursive: bool, found: _Found) -> None:
    root = _glob_root(pattern)
    before = found.outcomes
    matches = glob.glob(pattern, recursive=True)
    for match in matches:
        path = Path(match)
        if path.is_dir():
            _walk(raw, path, root, recursive, found)
        elif _supported(path):
            _add_entry(path, root.resolve(), found)
    if not matches:
        found.fail(raw, "the pattern matches nothing; check the pattern")
    elif found.outcomes == before:
        reason = (
            f"the pattern matches {len(matches)} path(s) but no supported file "
            f"(supported: {supported_list()})"
        )
        found.fail(raw, reason)
