"""File loaders: turn one file into one or more :class:`~graphrag.models.Document` objects.

Supported formats: plain text, Markdown, HTML, PDF, JSON (a list of records or one record),
JSON Lines and CSV (one document per record or row). Every failure raises
:class:`~graphrag.errors.IngestError` with a one-line reason saying what was wrong and what to
do; text is never silently altered beyond :func:`normalize_text`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import stat
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from graphrag.config import IngestSettings
from graphrag.errors import IngestError
from graphrag.ids import content_hash, document_id
from graphrag.models import Document

logger = logging.getLogger(__name__)

_MIME_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".csv": "text/csv",
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_MIME_TYPES)
"""Lower-case file extensions (with the dot) that :func:`load_file` accepts."""

_TRAILING_WS = re.compile(r"[^\S\n]+$", re.MULTILINE)
_EXTRA_BLANK_LINES = re.compile(r"\n{4,}")
_HTML_BLANK_LINES = re.compile(r"\n{3,}")
_WS_RUN = re.compile(r"\s+")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

_TextLoader = Callable[[Path, str, IngestSettings], list[Document]]


def supported_list() -> str:
    """Return the supported extensions as a sorted, comma-separated string."""
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def normalize_text(text: str) -> str:
    r"""Normalise extracted text.

    Applies Unicode NFC, turns ``\r\n`` and lone ``\r`` into ``\n``, strips trailing
    whitespace from every line, collapses three or more blank lines to two and drops
    leading and trailing blank lines.

    Args:
        text: Raw extracted text.

    Returns:
        The normalised text (empty if ``text`` held only whitespace).
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_WS.sub("", text)
    text = _EXTRA_BLANK_LINES.sub("\n\n\n", text)
    return text.strip("\n")


def load_file(path: Path, settings: IngestSettings) -> list[Document]:
    """Load one file into documents (status ``PENDING``).

    Single-document formats (``.txt``, ``.md``, ``.html``, ``.pdf``) use the absolute
    resolved path as the source. JSON/JSONL records and CSV rows each become one document
    with source ``<path>#<index>``, ``<path>#<record id>`` or ``<path>#row<n>`` (``n``
    counts data rows from 1); records or rows whose text is empty are skipped with a
    warning.

    Args:
        path: The file to load.
        settings: Size limit and the JSON/CSV field names.

    Returns:
        The documents, with ``text``, ``id``, ``content_hash``, ``mime``, ``title`` and
        ``metadata`` filled.

    Raises:
        IngestError: If the file is missing, unreadable, a directory, too large, empty,
            binary, not valid UTF-8, of an unsupported type or malformed for its format.
    """
    resolved = Path(path).expanduser().resolve()
    ext = resolved.suffix.lower()
    data = _read_checked(resolved, ext, settings)
    if ext == ".pdf":
        return [_load_pdf(resolved, data)]
    raw = _decode(str(resolved), data)
    documents = _TEXT_LOADERS[ext](resolved, raw, settings)
    logger.debug("loaded %d document(s) from %s", len(documents), resolved)
    return documents


def _read_checked(path: Path, ext: str, settings: IngestSettings) -> bytes:
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise IngestError(where, "file not found; check the path") from None
    except OSError as exc:
        reason = f"cannot access file ({exc.strerror or exc}); check the path and its permissions"
        raise IngestError(where, reason) from exc
    if stat.S_ISDIR(info.st_mode):
        reason = "is a directory, not a file; pass the files inside it or use discovery"
        raise IngestError(where, reason)
    if not stat.S_ISREG(info.st_mode):
        raise IngestError(where, "not a regular file; pass a regular file")
    if ext not in SUPPORTED_EXTENSIONS:
        shown = repr(ext) if ext else "(none)"
        reason = f"unsupported extension {shown}; supported: {supported_list()}"
        raise IngestError(where, reason)
    if info.st_size > settings.max_file_bytes:
        reason = (
            f"file is {info.st_size} bytes, over the limit of {settings.max_file_bytes} "
            "bytes; split the file or raise GRAPHRAG_INGEST__MAX_FILE_BYTES"
        )
        raise IngestError(where, reason)
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc}); check its permissions"
        raise IngestError(where, reason) from exc
    if not data:
        raise IngestError(where, "empty file (0 bytes); nothing to ingest")
    return data


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


def _finish(where: str, raw: str) -> str:
    text = normalize_text(raw)
    if not text.strip():
        raise IngestError(where, "empty: no text after extraction; the file holds no content")
    return text


def _document(source: str, title: str, mime: str, text: str, metadata: dict[str, Any]) -> Document:
    return Document(
        id=document_id(source),
        source=source,
        title=title,
        mime=mime,
        content_hash=content_hash(text),
        text=text,
        metadata=metadata,
    )


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
    text = _finish(str(path), raw)
    title = markdown_title(text) if _MIME_TYPES[ext] == "text/markdown" else None
    metadata: dict[str, Any] = {"file_name": path.name}
    return [_document(str(path), title or path.stem, _MIME_TYPES[ext], text, metadata)]


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
    text = _finish(str(path), body)
    title = _WS_RUN.sub(" ", "".join(parser.title_parts)).strip()
    title = title or _WS_RUN.sub(" ", "".join(parser.h1_parts)).strip() or path.stem
    metadata: dict[str, Any] = {"file_name": path.name}
    return [_document(str(path), title, "text/html", text, metadata)]


# --- PDF ----------------------------------------------------------------------------------


def _load_pdf(path: Path, data: bytes) -> Document:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    where = str(path)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            reason = "encrypted PDF; decrypt it first (e.g. qpdf --decrypt in.pdf out.pdf)"
            raise IngestError(where, reason)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        meta_title = info.title if info is not None else None
    except IngestError:
        raise
    except DependencyError as exc:
        reason = f"encrypted PDF needs a missing package ({exc}); decrypt it first"
        raise IngestError(where, reason) from exc
    except Exception as exc:  # pypdf raises many exception types on malformed input
        reason = (
            f"cannot parse PDF ({type(exc).__name__}: {exc}); "
            "check that the file is a complete, valid PDF"
        )
        raise IngestError(where, reason) from exc
    text = normalize_text("\n\n".join(page for page in pages if page))
    if not text.strip():
        reason = "no extractable text (scanned PDF?); run OCR on it first (e.g. ocrmypdf)"
        raise IngestError(where, reason)
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else ""
    metadata: dict[str, Any] = {
        "file_name": path.name,
        "pages": len(pages),
        "pages_with_text": sum(1 for page in pages if page),
    }
    return _document(where, title or path.stem, "application/pdf", text, metadata)


# --- JSON, JSON Lines ---------------------------------------------------------------------


def _load_json(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    where = str(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); fix the file"
        raise IngestError(where, reason) from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        reason = (
            f"JSON top level is a {type(data).__name__}; expected a list of record objects "
            "or one record object"
        )
        raise IngestError(where, reason)
    return _records_to_documents(path, [(i, None, rec) for i, rec in enumerate(data)], settings)


def _load_jsonl(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    items: list[tuple[int, int | None, Any]] = []
    for line_no, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = (
                f"line {line_no} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "fix or remove that line"
            )
            raise IngestError(str(path), reason) from exc
        items.append((len(items), line_no, record))
    return _records_to_documents(path, items, settings)


def _record_key(where: str, label: str, record: dict[str, Any]) -> str | None:
    if record.get("id") is None:
        return None
    key = record["id"]
    if isinstance(key, bool) or not isinstance(key, str | int):
        reason = f"{label}: field 'id' must be a string or an integer, not {type(key).__name__}"
        raise IngestError(where, reason)
    return str(key)


def _record_text(where: str, label: str, record: Any, settings: IngestSettings) -> str:
    field = settings.json_text_field
    if not isinstance(record, dict):
        reason = (
            f"{label} is a JSON {type(record).__name__}, not an object; each record must "
            f"be an object with a {field!r} field"
        )
        raise IngestError(where, reason)
    if field not in record:
        found = ", ".join(map(repr, record)) or "none"
        reason = (
            f"{label} has no {field!r} field (fields: {found}); set "
            "GRAPHRAG_INGEST__JSON_TEXT_FIELD to the field that holds the text"
        )
        raise IngestError(where, reason)
    value = record[field]
    if not isinstance(value, str):
        reason = f"{label}: field {field!r} must be a string, not {type(value).__name__}"
        raise IngestError(where, reason)
    return value


def _records_to_documents(
    path: Path, items: list[tuple[int, int | None, Any]], settings: IngestSettings
) -> list[Document]:
    where = str(path)
    documents: list[Document] = []
    seen: dict[str, str] = {}
    skip = {settings.json_text_field, settings.json_title_field}
    for index, line_no, record in items:
        label = f"record {index}" + (f" (line {line_no})" if line_no is not None else "")
        text = normalize_text(_record_text(where, label, record, settings))
        key = _record_key(where, label, record)
        if key is not None and key in seen:
            reason = f"{label} repeats id {key!r} of {seen[key]}; record ids must be unique"
            raise IngestError(where, reason)
        if key is not None:
            seen[key] = label
        if not text.strip():
            logger.warning(
                "%s: skipping %s: empty %r field", where, label, settings.json_text_field
            )
            continue
        ref = key if key is not None else str(index)
        title = record.get(settings.json_title_field)
        title = title.strip() if isinstance(title, str) and title.strip() else f"{path.stem} #{ref}"
        metadata: dict[str, Any] = {"file_name": path.name, "record": index}
        if line_no is not None:
            metadata["line"] = line_no
        metadata["fields"] = {k: v for k, v in record.items() if k not in skip and _scalar(v)}
        mime = _MIME_TYPES[path.suffix.lower()]
        documents.append(_document(f"{where}#{ref}", title, mime, text, metadata))
    if not documents:
        raise IngestError(where, "empty: no records with text; nothing to ingest")
    return documents


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# --- CSV ----------------------------------------------------------------------------------


def _load_csv(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    where = str(path)
    # The csv module's field limit is process-wide; raising it to the file size limit lets
    # long text cells through and never lowers a limit someone else set.
    csv.field_size_limit(max(csv.field_size_limit(), settings.max_file_bytes))
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        text_col = _csv_column(where, header, settings.csv_text_column)
        title_col = settings.csv_title_column if settings.csv_title_column in header else None
        rows = [{(k or "").strip(): v for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        reason = f"invalid CSV near line {reader.line_num} ({exc}); fix the file"
        raise IngestError(where, reason) from exc
    documents: list[Document] = []
    for n, row in enumerate(rows, start=1):
        text = normalize_text(row.get(text_col) or "")
        if not text.strip():
            logger.warning("%s: skipping row %d: empty %r column", where, n, text_col)
            continue
        title = (row.get(title_col) or "").strip() if title_col else ""
        fields = {k: v for k, v in row.items() if k not in {text_col, title_col}}
        metadata: dict[str, Any] = {"file_name": path.name, "row": n, "fields": fields}
        documents.append(
            _document(
                f"{where}#row{n}", title or f"{path.stem} row {n}", "text/csv", text, metadata
            )
        )
    if not documents:
        raise IngestError(where, "empty: no data rows with text; nothing to ingest")
    return documents


def _csv_column(where: str, header: list[str], column: str) -> str:
    if not header:
        raise IngestError(where, "empty: no header row; the first line must name the columns")
    if column not in header:
        reason = (
            f"no column {column!r}; columns found: {', '.join(map(repr, header))}; set "
            "GRAPHRAG_INGEST__CSV_TEXT_COLUMN to the column that holds the text"
        )
        raise IngestError(where, reason)
    return column


_TEXT_LOADERS: dict[str, _TextLoader] = {
    ".txt": _load_plain,
    ".md": _load_plain,
    ".markdown": _load_plain,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".csv": _load_csv,
}
