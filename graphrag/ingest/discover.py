"""Input discovery: expand files, directories and glob patterns into the files to load."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from graphrag.errors import IngestError
from graphrag.ingest.loaders import SUPPORTED_EXTENSIONS, supported_list

logger = logging.getLogger(__name__)

_GLOB_CHARS = frozenset("*?[")


def discover(
    inputs: Sequence[str], *, recursive: bool = True
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

    Returns:
        The sorted, de-duplicated, resolved paths of supported files, and one
        :class:`~graphrag.errors.IngestError` per input that is missing, matches no
        supported file, or names a file with an unsupported extension.
    """
    found: set[Path] = set()
    errors: list[IngestError] = []
    for raw in inputs:
        expanded = os.path.expanduser(raw)
        if os.path.isfile(expanded):
            _add_file(raw, Path(expanded), found, errors)
        elif os.path.isdir(expanded):
            files = _walk(raw, Path(expanded), recursive, errors)
            if not files:
                reason = f"no supported files in directory (looked for {supported_list()})"
                errors.append(IngestError(raw, reason))
            found.update(files)
        elif _GLOB_CHARS.intersection(expanded):
            found.update(_expand_glob(raw, expanded, recursive, errors))
        else:
            errors.append(IngestError(raw, "no such file or directory; check the path"))
    paths = sorted(found)
    logger.debug("discovered %d file(s), %d error(s)", len(paths), len(errors))
    return paths, errors


def _supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def _add_file(raw: str, path: Path, found: set[Path], errors: list[IngestError]) -> None:
    if _supported(path):
        found.add(path.resolve())
    else:
        shown = repr(path.suffix) if path.suffix else "(none)"
        reason = f"unsupported extension {shown}; supported: {supported_list()}"
        errors.append(IngestError(raw, reason))


def _walk(raw: str, root: Path, recursive: bool, errors: list[IngestError]) -> set[Path]:
    files: set[Path] = set()

    def on_error(exc: OSError) -> None:
        where = exc.filename or raw
        errors.append(IngestError(str(where), f"cannot read directory ({exc.strerror}); check it"))

    for folder, dirs, names in os.walk(root, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and _supported(path) and path.is_file():
                files.add(path.resolve())
    return files


def _expand_glob(raw: str, pattern: str, recursive: bool, errors: list[IngestError]) -> set[Path]:
    files: set[Path] = set()
    matches = glob.glob(pattern, recursive=True)
    for match in matches:
        path = Path(match)
        if path.is_dir():
            files.update(_walk(raw, path, recursive, errors))
        elif path.is_file() and _supported(path):
            files.add(path.resolve())
    if not matches:
        errors.append(IngestError(raw, "the pattern matches nothing; check the pattern"))
    elif not files:
        reason = (
            f"the pattern matches {len(matches)} path(s) but no supported file "
            f"(supported: {supported_list()})"
        )
        errors.append(IngestError(raw, reason))
    return files
