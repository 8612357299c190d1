"""File loaders: turn one file into one or more :class:`~graphrag.models.Document` objects.

Supported formats: plain text, Markdown, HTML, PDF (:mod:`graphrag.ingest.pdf`), JSON (a list
of records or one record), JSON Lines and CSV (one document per record or row,
:mod:`graphrag.ingest.records`). Every failure raises :class:`~graphrag.errors.IngestError`
with a one-line reason saying what was wrong and what to do, whatever went wrong inside a
parser; text is never altered beyond :func:`normalize_text` (which also drops control
characters, see :mod:`graphrag.ingest.common`).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from graphrag.config import IngestSettings
from graphrag.errors import IngestError
from graphrag.ingest.common import (
    MIME_TYPES,
    SUPPORTED_EXTENSIONS,
    clean_line,
    finish,
    make_document,
    normalize_text,
    supported_list,
)
from graphrag.ingest.files import read_regular_file
from graphrag.ingest.pdf import load_pdf
from graphrag.ingest.records import load_csv, load_json, load_jsonl
from graphrag.models import Document

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "load_file",
    "markdown_title",
    "normalize_text",
    "source_path",
    "supported_list",
]

logger = logging.getLogger(__name__)

_HTML_BLANK_LINES = re.compile(r"\n{3,}")
_WS_RUN = re.compile(r"\s+")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

_TextLoader = Callable[[Path, str, IngestSettings], list[Document]]


def source_path(path: Path) -> Path:
    """Return the absolute path a file is loaded and reported under.

    Directories on the way are resolved; a symbolic link itself is kept (not replaced by
    its target), so a followed link is stored and reported under its own path.
    """
    path = Path(path).expanduser()
    if path.is_symlink():
        return path.absolute().parent.resolve() / path.name
    return path.resolve()


def load_file(path: Path, settings: IngestSettings) -> list[Document]:
    """Load one file into documents (status ``PENDING``).

    Single-document formats (``.txt``, ``.md``, ``.html``, ``.pdf``) use the absolute path
    (:func:`source_path`) as the source. JSON/JSONL records and CSV rows each become one
    document with source ``<path>#<index>``, ``<path>#<record id>`` or ``<path>#row<n>``
    (``n`` counts data rows from 1); records or rows whose text is empty are skipped with a
    warning.

    Args:
        path: The file to load.
        settings: Size limit and the JSON/CSV field names.

    Returns:
        The documents, with ``text``, ``id``, ``content_hash``, ``mime``, ``title`` and
        ``metadata`` filled.

    Raises:
        IngestError: If the file is missing, unreadable, not a regular file (a directory, a
            named pipe, a dangling link or a link loop), too large, empty, binary, not valid
            UTF-8, of an unsupported type or malformed for its format. Parser failures of any
            other kind (too deep nesting, out of memory) are turned into this error too.
    """
    resolved = source_path(path)
    ext = resolved.suffix.lower()
    unsupported = None
    if ext not in SUPPORTED_EXTENSIONS:
        shown = repr(ext) if ext else "(none)"
        unsupported = f"unsupported extension {shown}; supported: {supported_list()}"
    data = read_regular_file(resolved, settings.max_file_bytes, check_ext=unsupported)
    where = str(resolved)
    try:
        if ext == ".pdf":
            return [load_pdf(resolved, data)]
        raw = _decode(where, data)
        documents = _TEXT_LOADERS[ext](resolved, raw, settings)
    except RecursionError:
        reason = "nested too deeply to parse; flatten the file or split it into simpler files"
        raise IngestError(where, reason) from None
    except MemoryError:
        reason = "not enough memory to parse this file; split it into smaller files"
        raise IngestError(where, reason) from None
    logger.debug("loaded %d document(s) from %s", len(documents), resolved)
    return documents


def _decode(where: str, data: bytes) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        reason = (
            f"binary file (NUL byte at offset {nul}); only UTF-8 text is supported for this "
            "extension (re-save UTF-16 text as UTF-8)"
        )
        raise IngestError(where, reason)
    shift = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[shift:].decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"invalid UTF-8 at byte offset {exc.start + shift}; re-save the file as UTF-8"
        raise IngestError(where, reason) from exc


# --- plain text and Markdown -------------------------------------------------------------


def markdown_title(text: str) -> str | None:
    """Return the first level-1 ATX heading (``# Title``) outside code fences, if any."""
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _ATX_H1.match(line)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


def _load_plain(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    ext = path.suffix.lower()
    text = finish(str(path), raw)
    title = markdown_title(text) if MIME_TYPES[ext] == "text/markdown" else None
    metadata: dict[str, Any] = {"file_name": path.name}
    return [make_document(str(path), title or path.stem, MIME_TYPES[ext], text, metadata)]


# --- HTML ---------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "details", "dialog", "div", "dl"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "main"}
    | {"nav", "ol", "p", "pre", "section", "summary", "table", "ul"}
    | {f"h{level}" for level in range(1, 7)}
)
_LINE_TAGS = frozenset({"br", "li", "tr", "dt", "dd", "caption", "option"})
_CELL_TAGS = frozenset({"td", "th"})


class _HTMLText(HTMLParser):
    """Collects visible text with block structure kept as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.h1_parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._in_title = False
        self._h1_state = 0  # 0: not seen, 1: inside the first <h1>, 2: done

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        else:
            if tag == "h1" and self._h1_state == 0:
                self._h1_state = 1
            self._pre += tag == "pre"
            self._break(tag, start=True)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        else:
            if tag == "h1" and self._h1_state == 1:
                self._h1_state = 2
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._break(tag, start=False)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title_parts.append(data)
            return
        if not self._pre:
            data = _WS_RUN.sub(" ", data)
            if not self.parts or self.parts[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            if self._h1_state == 1:
                self.h1_parts.append(data)

    def _break(self, tag: str, *, start: bool) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _LINE_TAGS and start:
            self.parts.append("\n")
        elif tag in _CELL_TAGS and self.parts and not self.parts[-1].endswith(("\n", " ")):
            self.parts.append(" ")


def _load_html(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    body = _HTML_BLANK_LINES.sub("\n\n", normalize_text("".join(parser.parts)))
    text = finish(str(path), body)
    title = clean_line("".join(parser.title_parts))
    title = title or clean_line("".join(parser.h1_parts)) or path.stem
    metadata: dict[str, Any] = {"file_name": path.name}
    return [make_document(str(path), title, "text/html", text, metadata)]


_TEXT_LOADERS: dict[str, _TextLoader] = {
    ".txt": _load_plain,
    ".md": _load_plain,
    ".markdown": _load_plain,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".csv": load_csv,
}
