r"""Shared pieces of the loaders: formats, text normalisation and document construction.

Control characters: :func:`normalize_text` turns the C0/C1 line and record separators
(``\v``, ``\f``, ``\x1c``-``\x1e``, ``\x85``) into ``\n`` and drops every other control
character except ``\t`` and ``\n`` (ESC, BEL, NUL, DEL, C1 ...). Loaders run it on text,
titles and metadata values before chunking, so stored text never holds terminal escape
sequences and chunk offsets stay exact on the stored text. Sources (file paths, record ids)
are stored verbatim: they identify the file.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from graphrag.errors import IngestError
from graphrag.ids import content_hash, document_id
from graphrag.models import Document

MIME_TYPES: dict[str, str] = {
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

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(MIME_TYPES)
"""Lower-case file extensions (with the dot) that the loaders accept."""

_TRAILING_WS = re.compile(r"[^\S\n]+$", re.MULTILINE)
_EXTRA_BLANK_LINES = re.compile(r"\n{4,}")
_WS_RUN = re.compile(r"\s+")
_LINE_CONTROLS = str.maketrans(dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85", "\n"))
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def supported_list() -> str:
    """Return the supported extensions as a sorted, comma-separated string."""
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def strip_controls(text: str) -> str:
    r"""Drop control characters other than ``\t`` and ``\n`` (separators become ``\n``).

    Example:
        >>> strip_controls("red \x1b[31mtext\x07\x0cnext")
        'red [31mtext\nnext'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_CONTROLS)
    return _CONTROLS.sub("", text)


def normalize_text(text: str) -> str:
    r"""Normalise extracted text.

    Applies Unicode NFC, turns ``\r\n`` and lone ``\r`` into ``\n``, drops control
    characters (see :func:`strip_controls`), strips trailing whitespace from every line,
    collapses three or more blank lines to two and drops leading and trailing blank lines.

    Args:
        text: Raw extracted text.

    Returns:
        The normalised text (empty if ``text`` held only whitespace).

    Example:
        >>> normalize_text("Title  \r\n\r\n\r\n\r\nBody\x00\n\n")
        'Title\n\n\nBody'
    """
    text = strip_controls(unicodedata.normalize("NFC", text))
    text = _TRAILING_WS.sub("", text)
    text = _EXTRA_BLANK_LINES.sub("\n\n\n", text)
    return text.strip("\n")


def clean_line(text: str) -> str:
    """Return ``text`` normalised to one line: controls dropped, whitespace runs collapsed."""
    return _WS_RUN.sub(" ", strip_controls(unicodedata.normalize("NFC", text))).strip()


def clean_value(value: Any) -> Any:
    """Return a metadata value with control characters dropped from strings."""
    return strip_controls(value) if isinstance(value, str) else value


def finish(where: str, raw: str) -> str:
    """Normalise ``raw`` and refuse it when no text is left.

    Raises:
        IngestError: If nothing but whitespace remains.
    """
    text = normalize_text(raw)
    if not text.strip():
        raise IngestError(where, "empty: no text after extraction; the file holds no content")
    return text


def make_document(
    source: str, title: str, mime: str, text: str, metadata: dict[str, Any]
) -> Document:
    """Build a pending document; the id and the content hash derive from source and text."""
    return Document(
        id=document_id(source),
        source=source,
        title=clean_line(title),
        mime=mime,
        content_hash=content_hash(text),
        text=text,
        metadata=metadata,
    )
