"""Generates the hostile-input corpus of the audit at test time (no binary blobs committed).

:func:`write_hostile_corpus` fills a folder with good files and every hostile case, and
returns what each file must lead to: stored documents, or a failure whose one-line reason
contains a given substring (reported under the file's own path).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

GOOD: dict[str, str] = {
    "harbor.txt": (
        "The Port of Norrvik was founded by Ingrid Halvorsen in 1902. "
        "Ingrid Halvorsen later moved to Bergen, where she opened a shipyard."
    ),
    "council.md": (
        "# Norrvik Maritime Council\n\nThe Norrvik Maritime Council manages the Port of "
        "Norrvik. Its chair is Lars Eriksen, who studied at the University of Oslo.\n"
    ),
    "ships.json": json.dumps(
        [
            {"id": "aurora", "title": "Aurora", "text": "The Aurora is a ferry built in Bergen."},
            {"id": "borealis", "text": "The Borealis is a cargo ship owned by Nordlys Shipping."},
        ]
    ),
    "ports.csv": 'id,title,text\n1,Tromso,"Tromso has a harbour, a bridge and a museum."\n',
}
"""Plain good files: every one must be stored whatever else the folder holds."""

CONTROL_TEXT = (
    "The \x1b[31mRed Harbour\x1b[0m of Velmora was rebuilt by Anna Berg.\x07\x7f "
    "Its lighthouse\x9b2J keeper is Tomas Lind."
)
INJECTION_NAME = "'; DROP TABLE documents; --.txt"
ESCAPE_NAME = "\x1b[31mescape.txt"
GIANT_TOKEN_CHARS = 1_600_000


@dataclass
class HostileCorpus:
    """A generated folder and what ingesting it must give."""

    folder: Path
    outside: Path
    failures: dict[str, str] = field(default_factory=dict)
    """File name -> substring of its one-line reason."""
    stored: dict[str, int] = field(default_factory=dict)
    """File name -> number of documents it must store."""
    skipped: list[str] = field(default_factory=list)
    """Cases not generated here, with the reason (e.g. running as root)."""


def make_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF with ``text`` on it."""
    content = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _encrypted_pdf(folder: Path) -> bytes:
    from pypdf import PdfWriter

    plain = folder.parent / "plain-for-encryption.pdf"
    plain.write_bytes(make_pdf("Secret text"))
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="x", algorithm="RC4-128")
    target = folder.parent / "encrypted-out.pdf"
    writer.write(target)
    return target.read_bytes()


def _content_failures(folder: Path) -> dict[str, tuple[bytes, str]]:
    """Hostile regular files: name -> (bytes, substring of the reason)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    good_line = json.dumps({"text": "A fine line about Bergen harbour."}).encode()
    pdf = make_pdf("Hello harbour")
    return {
        "empty.txt": (b"", "empty file (0 bytes)"),
        "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file (NUL byte"),
        "nul.md": (b"Hello\x00world", "NUL byte at offset 5"),
        "latin1.txt": ("caf\u00e9 au lait".encode("latin-1"), "invalid UTF-8 at byte offset 3"),
        "utf16.txt": ("Hello harbour".encode("utf-16-le"), "binary file"),
        "deep.json": (deep, "nested deeper than"),
        "deep.jsonl": (good_line + b"\n" + deep + b"\n", "line 2 is nested deeper than"),
        "bad_line.jsonl": (good_line + b"\n{not json\n" + good_line, "line 2 is not valid JSON"),
        "quote.csv": (b'id,text\n1,"closed"then more\n', "invalid CSV on line 2"),
        "unterminated.csv": (
            b'id,text\n1,"unterminated quote\n2,fine\n',
            "unterminated quoted field starting on line 2",
        ),
        "fields.csv": (b"id,text\n1,fine\n2,one,two\n", "line 3 (row 2) has 3 fields"),
        "scripts.html": (
            b"<html><head><script>alert(1)</script><style>p{color:red}</style></head>"
            b"<body><script>document.write('x')</script><noscript>n</noscript></body></html>",
            "empty: no text after extraction",
        ),
        "truncated.pdf": (pdf[:150], "cannot parse PDF"),
        "garbage.pdf": (b"%PDF-1.7\n" + bytes(range(256)) * 8, "cannot parse PDF"),
        "encrypted.pdf": (_encrypted_pdf(folder), "encrypted PDF; decrypt it first"),
        "ids_not_text.json": (b'[{"id": 1, "body": "x"}]', "has no 'text' field"),
    }


def _special_files(corpus: HostileCorpus) -> None:
    """Named pipe, link loop, dangling link, link out of the folder, unreadable file."""
    folder = corpus.folder
    os.mkfifo(folder / "fifo.txt")
    corpus.failures["fifo.txt"] = "is a named pipe (FIFO), not a regular file"
    (folder / "loop.txt").symlink_to("loop.txt")
    corpus.failures["loop.txt"] = "symbolic link loop"
    (folder / "dangling.md").symlink_to("missing-target.md")
    corpus.failures["dangling.md"] = "dangling symbolic link to missing-target.md"
    (folder / "outside.txt").symlink_to(corpus.outside)
    corpus.failures["outside.txt"] = "outside the ingested folder"
    (folder / "inside-link.txt").symlink_to("harbor.txt")  # inside: same document as harbor.txt
    if os.geteuid() == 0:
        corpus.skipped.append("unreadable.txt: running as root, which reads any file")
    else:
        unreadable = folder / "unreadable.txt"
        unreadable.write_text("You cannot read me.", encoding="utf-8")
        unreadable.chmod(0)
        corpus.failures["unreadable.txt"] = "cannot read file"


def _stored_hostile(folder: Path) -> dict[str, tuple[str, int]]:
    """Hostile files that are valid and must be stored: name -> (text, documents)."""
    records = [
        {"id": "../../etc/passwd", "text": "Record one mentions the Norrvik lighthouse."},
        {"id": "a/../b'; DROP TABLE chunks; --", "text": "Record two mentions Oslo."},
    ]
    # one 121,000-character line of long words: no newline for the paragraph splitter
    words = " ".join(f"{'harbour' * 17}{i:03d}" for i in range(1_000))
    return {
        "controls.txt": (CONTROL_TEXT, 1),
        "giant_token.txt": ("x" * GIANT_TOKEN_CHARS, 1),
        "huge_line.txt": (words, 1),
        INJECTION_NAME: ("Tomas Lind keeps the lighthouse of Velmora.", 1),
        ESCAPE_NAME: ("Mira Holm painted the harbour of Velmora.", 1),
        "traversal_ids.json": (json.dumps(records), 2),
    }


def write_hostile_corpus(root: Path) -> HostileCorpus:
    """Write good files plus every hostile case into ``root / "corpus"``."""
    folder = root / "corpus"
    folder.mkdir(parents=True)
    outside = root / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text("A secret outside the ingested folder.", encoding="utf-8")
    corpus = HostileCorpus(folder=folder, outside=outside)
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
        corpus.stored[name] = 2 if name == "ships.json" else 1
    for name, (data, reason) in _content_failures(folder).items():
        (folder / name).write_bytes(data)
        corpus.failures[name] = reason
    for name, (text, documents) in _stored_hostile(folder).items():
        (folder / name).write_text(text, encoding="utf-8")
        corpus.stored[name] = documents
    _special_files(corpus)
    return corpus
