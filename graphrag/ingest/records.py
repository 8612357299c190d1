"""Record formats: JSON (a list of records or one record), JSON Lines and CSV.

Each record or row becomes one document with source ``<path>#<index>``, ``<path>#<record
id>`` or ``<path>#row<n>``. Malformed files fail as a whole with the line to fix: invalid
or too deeply nested JSON, an unterminated CSV quote, a CSV row with the wrong number of
fields.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

from graphrag.config import IngestSettings
from graphrag.errors import IngestError
from graphrag.ingest.common import (
    MIME_TYPES,
    clean_line,
    clean_value,
    make_document,
    normalize_text,
)
from graphrag.models import Document

logger = logging.getLogger(__name__)

_EOF_IN_QUOTES = "unexpected end of data"


_JSON_KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
               list: "a list", dict: "an object", type(None): "null"}  # fmt: skip


def json_kind(value: object) -> str:
    """How JSON calls a parsed value's kind (``a number``, ``null``...), for messages."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _too_deep(what: str) -> str:
    depth = sys.getrecursionlimit()
    return f"{what} nested deeper than about {depth} levels, which the JSON parser cannot read"


# --- JSON, JSON Lines ---------------------------------------------------------------------


def load_json(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    """Load a ``.json`` file: a list of record objects or one record object."""
    where = str(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        problem = exc.msg.removesuffix(" at")
        reason = f"invalid JSON at line {exc.lineno} column {exc.colno} ({problem}); fix the file"
        raise IngestError(where, reason) from exc
    except RecursionError:
        raise IngestError(where, _too_deep("JSON") + "; flatten the file") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        reason = (
            f"JSON top level is {json_kind(data)}; expected a list of record objects "
            "or one record object"
        )
        raise IngestError(where, reason)
    return _records_to_documents(path, [(i, None, rec) for i, rec in enumerate(data)], settings)


def load_jsonl(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    """Load a ``.jsonl`` file: one record object per non-blank line."""
    items: list[tuple[int, int | None, Any]] = []
    for line_no, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = (
                f"line {line_no} is not valid JSON ({exc.msg.removesuffix(' at')} at column "
                f"{exc.colno}); "
                "fix or remove that line"
            )
            raise IngestError(str(path), reason) from exc
        except RecursionError:
            reason = _too_deep(f"line {line_no} is") + "; flatten or remove that line"
            raise IngestError(str(path), reason) from None
        items.append((len(items), line_no, record))
    return _records_to_documents(path, items, settings)


def _record_key(where: str, label: str, record: dict[str, Any]) -> str | None:
    if record.get("id") is None:
        return None
    key = record["id"]
    if isinstance(key, bool) or not isinstance(key, str | int):
        reason = f"{label}: field 'id' must be a string or an integer, not {json_kind(key)}"
        raise IngestError(where, reason)
    return str(key)


def _record_text(where: str, label: str, record: Any, settings: IngestSettings) -> str:
    field = settings.json_text_field
    if not isinstance(record, dict):
        reason = (
            f"{label} is {json_kind(record)}, not an object; each record must "
            f"be an object with a {field!r} field"
        )
        raise IngestError(where, reason)
    if field not in record:
        found = ", ".join(repr(clean_line(str(k))) for k in record) or "none"
        reason = (
            f"{label} has no {field!r} field (fields: {found}); set "
            "GRAPHRAG_INGEST__JSON_TEXT_FIELD to the field that holds the text"
        )
        raise IngestError(where, reason)
    value = record[field]
    if not isinstance(value, str):
        reason = f"{label}: field {field!r} must be a string, not {json_kind(value)}"
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
        title = clean_line(title) if isinstance(title, str) else ""
        metadata: dict[str, Any] = {"file_name": path.name, "record": index}
        if line_no is not None:
            metadata["line"] = line_no
        metadata["fields"] = {
            k: clean_value(v) for k, v in record.items() if k not in skip and _scalar(v)
        }
        mime = MIME_TYPES[path.suffix.lower()]
        title = title or f"{path.stem} #{ref}"
        documents.append(make_document(f"{where}#{ref}", title, mime, text, metadata))
    if not documents:
        raise IngestError(where, "empty: no records with text; nothing to ingest")
    return documents


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# --- CSV ----------------------------------------------------------------------------------


def load_csv(path: Path, raw: str, settings: IngestSettings) -> list[Document]:
    """Load a ``.csv`` file: a header row, then one document per data row with text."""
    where = str(path)
    # The csv module's field limit is process-wide; raising it to the file size limit lets
    # long text cells through and never lowers a limit someone else set.
    csv.field_size_limit(max(csv.field_size_limit(), settings.max_file_bytes))
    rows = _csv_rows(where, raw)
    header = [name.strip() for name in rows[0][1]] if rows else []
    text_col = _csv_column(where, header, settings.csv_text_column)
    title_col = settings.csv_title_column if settings.csv_title_column in header else None
    documents: list[Document] = []
    data = [(line, values) for line, values in rows[1:] if values]  # blank lines are skipped
    for n, (line, values) in enumerate(data, start=1):
        if len(values) != len(header):
            reason = (
                f"line {line} (row {n}) has {len(values)} fields but the header has "
                f'{len(header)}; quote fields that contain commas ("a, b") or fix the row'
            )
            raise IngestError(where, reason)
        row = dict(zip(header, values, strict=True))
        text = normalize_text(row.get(text_col) or "")
        if not text.strip():
            logger.warning("%s: skipping row %d: empty %r column", where, n, text_col)
            continue
        title = clean_line(row.get(title_col) or "") if title_col else ""
        fields = {k: clean_value(v) for k, v in row.items() if k not in {text_col, title_col}}
        metadata: dict[str, Any] = {"file_name": path.name, "row": n, "fields": fields}
        title = title or f"{path.stem} row {n}"
        documents.append(make_document(f"{where}#row{n}", title, "text/csv", text, metadata))
    if not documents:
        raise IngestError(where, "empty: no data rows with text; nothing to ingest")
    return documents


def _csv_rows(where: str, raw: str) -> list[tuple[int, list[str]]]:
    """Parse strictly; return ``(first line of the row, fields)`` for every row."""
    reader = csv.reader(io.StringIO(raw, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            if str(exc) == _EOF_IN_QUOTES:
                reason = (
                    f"unterminated quoted field starting on line {start}: its opening '\"' "
                    "is never closed, so the field runs to the end of the file; add the "
                    'closing quote (write "" for a quote inside a quoted field)'
                )
            else:
                reason = (
                    f"invalid CSV on line {reader.line_num} ({exc}); a quoted field must end "
                    "with '\"' followed by a comma or a line end: fix that line"
                )
            raise IngestError(where, reason) from exc
        rows.append((start, values))


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
