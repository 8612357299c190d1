"""PDF loading with pypdf; pypdf's own warnings are re-logged with the file they concern.

pypdf reports problems it worked around (a broken cross-reference table, a bad object) on
the ``pypdf`` logger without naming the file. While a PDF loads, those records are captured
for the loading thread, logged once more by this module as ``<path>: pypdf: <message>`` and
kept in the document's ``metadata["pdf_warnings"]``; records from other threads pass through
to the root logger's handlers as before.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphrag.errors import IngestError
from graphrag.ingest.common import clean_line, make_document, normalize_text
from graphrag.models import Document

logger = logging.getLogger(__name__)

_MAX_WARNINGS = 20
_capture = threading.local()
_install_lock = threading.Lock()


class _PypdfRouter(logging.Handler):
    """Sends ``pypdf`` records of a loading thread to its capture list, others to root."""

    def emit(self, record: logging.LogRecord) -> None:
        captured: list[str] | None = getattr(_capture, "messages", None)
        if captured is None:
            logging.getLogger().handle(record)
        else:
            captured.append(clean_line(record.getMessage()))


def _install_router() -> None:
    with _install_lock:
        pypdf_logger = logging.getLogger("pypdf")
        if not any(isinstance(h, _PypdfRouter) for h in pypdf_logger.handlers):
            pypdf_logger.addHandler(_PypdfRouter())
            pypdf_logger.propagate = False


@contextmanager
def _pypdf_warnings(where: str) -> Iterator[list[str]]:
    """Collect the ``pypdf`` warnings logged by this thread; re-log them with the file name."""
    _install_router()
    messages: list[str] = []
    _capture.messages = messages
    try:
        yield messages
    finally:
        _capture.messages = None
        for text, count in _counted(messages)[:_MAX_WARNINGS]:
            suffix = f" (x{count})" if count > 1 else ""
            logger.warning("%s: pypdf: %s%s", where, text, suffix)


def _counted(messages: list[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for text in messages:
        counts[text] = counts.get(text, 0) + 1
    return list(counts.items())


def load_pdf(path: Path, data: bytes) -> Document:
    """Load the text of every page of a PDF (pages separated by blank lines).

    Raises:
        IngestError: If the PDF is encrypted, malformed or has no text layer.
    """
    where = str(path)
    with _pypdf_warnings(where) as warnings:
        pages, meta_title = _read_pdf(where, data)
    text = normalize_text("\n\n".join(page for page in pages if page))
    if not text.strip():
        reason = "no extractable text (scanned PDF?); run OCR on it first (e.g. ocrmypdf)"
        raise IngestError(where, reason)
    title = clean_line(meta_title) if isinstance(meta_title, str) else ""
    metadata: dict[str, Any] = {
        "file_name": path.name,
        "pages": len(pages),
        "pages_with_text": sum(1 for page in pages if page),
    }
    if warnings:
        metadata["pdf_warnings"] = [
            f"{text} (x{count})" if count > 1 else text
            for text, count in _counted(warnings)[:_MAX_WARNINGS]
        ]
    return make_document(where, title or path.stem, "application/pdf", text, metadata)


def _read_pdf(where: str, data: bytes) -> tuple[list[str], object]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            reason = "encrypted PDF; decrypt it first (e.g. qpdf --decrypt in.pdf out.pdf)"
            raise IngestError(where, reason)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        return pages, info.title if info is not None else None
    except IngestError:
        raise
    except DependencyError as exc:
        reason = f"encrypted PDF needs a missing package ({exc}); decrypt it first"
        raise IngestError(where, reason) from exc
    except Exception as exc:  # pypdf raises many exception types on malformed input
        reason = (
            f"cannot parse PDF ({type(exc).__name__}: {clean_line(str(exc))[:200]}); "
            "check that the file is a complete, valid PDF"
        )
        raise IngestError(where, reason) from exc
