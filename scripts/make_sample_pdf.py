"""Write samples/corpus/edda_vale.pdf: a small, valid PDF of Helvetica text lines.

Pure Python, no dependencies: the PDF is written object by object with a correct
cross-reference table, so any reader (pypdf included) can extract the text. The output is
byte-for-byte deterministic, so re-running the script leaves the committed file unchanged.

Usage:
    python scripts/make_sample_pdf.py [OUTPUT]
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "samples" / "corpus" / "edda_vale.pdf"

TITLE = "Edda Vale (1936-2017)"
SUBTITLE = "Mathematician and engineer, partner of Brennick & Vale Engineering"
PARAGRAPHS = [
    "Edda Vale was born in Saltmere in 1936, the daughter of a harbour pilot. She studied "
    "mathematics at the University of Saltmere, where she wrote a dissertation on the "
    "vibration of hanging cables, and she taught there as a lecturer until 1966.",
    "In 1966 she joined the engineering firm of Tomas Brennick in Northvale as a partner, and "
    "the firm was renamed Brennick & Vale Engineering the following year. Vale developed the "
    "methods the firm used to calculate cable structures at a time when most of that work was "
    "still done by hand and with mechanical calculators.",
    "Her best known work is the cable system of the Lantern Bridge in Velmora. Vale designed "
    "the fan of ninety-six steel cable stays that carry the deck and computed the tension of "
    "every cable herself. She insisted that each stay could be replaced without closing the "
    "bridge to traffic, a requirement that was unusual at the time and that later became "
    "common practice in Aldmark.",
    "Vale retired from the company in 1996. Two years later, in 1998, she established the "
    "Vale Foundation with the proceeds of her shares in the firm. The foundation supports the "
    "teaching of mathematics and engineering in the Kessel region. Its largest commitment is "
    "a long-term grant to the Velmora Maritime Museum, which pays for the museum's Bridge "
    "Gallery and its school programme.",
    "The University of Saltmere awarded her an honorary doctorate in 2003. Edda Vale died in "
    "Velmora in 2017. Her notebooks with the original cable calculations are kept in the "
    "archive of the museum.",
]

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
MARGIN = 72
BODY_SIZE, BODY_LEADING = 11, 15
WRAP_CHARS = 76  # Helvetica 11 pt averages about 5.5-6 pt per character: 76 fit in 468 pt


def _escape(text: str) -> str:
    """Escape a string for a PDF literal string (WinAnsi: ASCII only here)."""
    text.encode("ascii")  # fail loudly on characters the simple encoding cannot carry
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _layout(title: str, subtitle: str, paragraphs: list[str]) -> list[list[tuple[str, str]]]:
    """Return pages, each a list of (font, text) lines; ("", "") is a blank line."""
    lines: list[tuple[str, str]] = [("F2", title), ("F1", subtitle), ("", "")]
    for paragraph in paragraphs:
        lines += [("F1", line) for line in textwrap.wrap(paragraph, WRAP_CHARS)]
        lines.append(("", ""))
    per_page = (PAGE_HEIGHT - 2 * MARGIN) // BODY_LEADING
    return [lines[i : i + per_page] for i in range(0, len(lines), per_page)]


def _content_stream(lines: list[tuple[str, str]]) -> bytes:
    """Return the content stream drawing ``lines`` top-down, one Tj per line."""
    ops = ["BT", f"{BODY_LEADING} TL", f"{MARGIN} {PAGE_HEIGHT - MARGIN} Td"]
    for font, text in lines:
        if font == "F2":
            ops.append(f"/F2 16 Tf ({_escape(text)}) Tj T*")
        elif font:
            ops.append(f"/F1 {BODY_SIZE} Tf ({_escape(text)}) Tj T*")
        else:
            ops.append("T*")
    ops.append("ET")
    return ("\n".join(ops) + "\n").encode("ascii")


def build_pdf(title: str, subtitle: str, paragraphs: list[str]) -> bytes:
    """Return the bytes of a PDF holding the title, subtitle and wrapped paragraphs."""
    pages = _layout(title, subtitle, paragraphs)
    n_pages = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3 Helvetica, 4 Helvetica-Bold, 5 info,
    # then per page i: page object 6 + 2i and its content stream 7 + 2i.
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{6 + 2 * i} 0 R" for i in range(n_pages))
            + f"] /Count {n_pages} >>"
        ).encode("ascii"),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
        b"/Encoding /WinAnsiEncoding >>",
        5: (
            f"<< /Title ({_escape(title)}) /Author (GraphRAG sample corpus) "
            "/Producer (scripts/make_sample_pdf.py) >>"
        ).encode("ascii"),
    }
    for i, page_lines in enumerate(pages):
        stream = _content_stream(page_lines)
        objects[6 + 2 * i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {7 + 2 * i} 0 R >>"
        ).encode("ascii")
        objects[7 + 2 * i] = (
            f"<< /Length {len(stream)} >>\nstream\n".encode("ascii") + stream + b"endstream"
        )

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode("ascii") + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n".encode("ascii") + b"0000000000 65535 f \n"
    for number in range(1, size):
        out += f"{offsets[number]:010d} 00000 n \n".encode("ascii")
    out += (
        f"trailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)


def main(argv: list[str]) -> int:
    """Write the sample PDF to ``argv[0]`` (default: samples/corpus/edda_vale.pdf)."""
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    data = build_pdf(TITLE, SUBTITLE, PARAGRAPHS)
    output.write_bytes(data)
    print(f"wrote {output} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
