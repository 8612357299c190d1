"""Loaders: every format, every bad-input case, with files generated in tmp_path."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from graphrag.config import IngestSettings
from graphrag.errors import IngestError
from graphrag.ids import content_hash, document_id
from graphrag.ingest.loaders import SUPPORTED_EXTENSIONS, load_file, normalize_text
from graphrag.models import DocumentStatus


def make_pdf(text: str | None) -> bytes:
    """A minimal valid one-page PDF; ``text=None`` gives a page with no text at all."""
    content = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode() if text is not None else b""
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


@pytest.fixture
def ingest() -> IngestSettings:
    return IngestSettings()


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_error(path: Path, settings: IngestSettings) -> IngestError:
    with pytest.raises(IngestError) as info:
        load_file(path, settings)
    err = info.value
    assert err.path == str(path.resolve())
    assert path.name in str(err)
    assert "\n" not in err.reason
    return err


# --- text, markdown, normalisation ---------------------------------------------------------


def test_txt_document_fields(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "notes.txt", "Ada Lovelace wrote the first program.\n")
    [doc] = load_file(path, ingest)
    source = str(path.resolve())
    assert doc.source == source
    assert doc.id == document_id(source)
    assert doc.text == "Ada Lovelace wrote the first program."
    assert doc.content_hash == content_hash(doc.text)
    assert doc.mime == "text/plain"
    assert doc.title == "notes"
    assert doc.status is DocumentStatus.PENDING
    assert doc.metadata["file_name"] == "notes.txt"


def test_relative_path_gives_absolute_source(
    tmp_path: Path, ingest: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "a.txt", "Text.")
    monkeypatch.chdir(tmp_path)
    [doc] = load_file(Path("a.txt"), ingest)
    assert doc.source == str((tmp_path / "a.txt").resolve())


def test_normalisation(tmp_path: Path, ingest: IngestSettings) -> None:
    raw = "\n\nCafe\u0301  \r\nline two\t\r\n\n\n\n\n\nafter gap   \n\n"
    [doc] = load_file(write(tmp_path, "n.txt", raw.encode("utf-8")), ingest)
    assert doc.text == "Caf\u00e9\nline two\n\n\nafter gap"
    assert normalize_text("a\n\n\nb") == "a\n\n\nb"  # two blank lines are kept
    assert normalize_text("a\rb") == "a\nb"


def test_utf8_bom_is_dropped(tmp_path: Path, ingest: IngestSettings) -> None:
    [doc] = load_file(write(tmp_path, "bom.txt", b"\xef\xbb\xbfHello."), ingest)
    assert doc.text == "Hello."


def test_markdown_title_and_text_kept(tmp_path: Path, ingest: IngestSettings) -> None:
    md = "Intro line\n\n```bash\n# not a title\n```\n\n## Sub\n\n# Real Title #\n\n*Body* text.\n"
    [doc] = load_file(write(tmp_path, "guide.md", md), ingest)
    assert doc.title == "Real Title"
    assert doc.mime == "text/markdown"
    assert doc.text == md.rstrip("\n")


def test_markdown_without_heading_uses_stem(tmp_path: Path, ingest: IngestSettings) -> None:
    [doc] = load_file(write(tmp_path, "README.markdown", "Just text.\n## Minor\n"), ingest)
    assert doc.title == "README"
    assert doc.mime == "text/markdown"


# --- HTML ------------------------------------------------------------------------------------


def test_html_extraction(tmp_path: Path, ingest: IngestSettings) -> None:
    html = (
        "<html><head><title>Rock &amp; Roll</title><style>p {color: red}</style>"
        "<script>var s = '</div><p>hidden</p>';</script></head><body>"
        "<h1>Main heading</h1><p>First   paragraph\n is &lt;here&gt; &eacute;.</p>"
        "<div>Line one<br>Line two</div><ul><li>alpha</li><li>beta</li></ul>"
        "<noscript>Enable JavaScript</noscript><table><tr><td>a</td> <td>b</td></tr></table>"
        "</body></html>"
    )
    [doc] = load_file(write(tmp_path, "page.html", html), ingest)
    assert doc.title == "Rock & Roll"
    assert doc.mime == "text/html"
    assert doc.text == (
        "Main heading\n\nFirst paragraph is <here> \u00e9.\n\nLine one\nLine two\n\n"
        "alpha\nbeta\n\na b"
    )
    for hidden in ("color", "hidden", "var s", "JavaScript"):
        assert hidden not in doc.text


def test_html_title_falls_back_to_h1_then_stem(tmp_path: Path, ingest: IngestSettings) -> None:
    [doc] = load_file(write(tmp_path, "a.htm", "<h1>The <b>Big</b> One</h1><p>x</p>"), ingest)
    assert doc.title == "The Big One"
    [doc] = load_file(write(tmp_path, "plain.html", "<p>Only text.</p>"), ingest)
    assert doc.title == "plain"


def test_html_with_only_script_is_empty(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "s.html", "<script>alert(1)</script><style>x{}</style>")
    assert "empty" in load_error(path, ingest).reason


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_text_and_metadata(tmp_path: Path, ingest: IngestSettings) -> None:
    [doc] = load_file(write(tmp_path, "paper.pdf", make_pdf("Hello PDF world")), ingest)
    assert doc.text == "Hello PDF world"
    assert doc.mime == "application/pdf"
    assert doc.title == "paper"
    assert doc.metadata["pages"] == 1
    assert doc.source == str((tmp_path / "paper.pdf").resolve())


def test_pdf_pages_joined_and_title_from_metadata(tmp_path: Path, ingest: IngestSettings) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for text in ("Page one text", "Page two text"):
        path = write(tmp_path, "p.pdf", make_pdf(text))
        writer.add_page(PdfReader(path).pages[0])
    writer.add_metadata({"/Title": "A Study"})
    target = tmp_path / "two.pdf"
    writer.write(target)
    [doc] = load_file(target, ingest)
    assert doc.text == "Page one text\n\nPage two text"
    assert doc.title == "A Study"
    assert doc.metadata["pages"] == 2


def test_encrypted_pdf_is_refused(tmp_path: Path, ingest: IngestSettings) -> None:
    from pypdf import PdfWriter

    plain = write(tmp_path, "plain.pdf", make_pdf("Secret text"))
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="x", algorithm="RC4-128")
    target = tmp_path / "locked.pdf"
    writer.write(target)
    err = load_error(target, ingest)
    assert "encrypted PDF; decrypt it first" in err.reason


def test_pdf_with_empty_user_password_loads(tmp_path: Path, ingest: IngestSettings) -> None:
    from pypdf import PdfWriter

    plain = write(tmp_path, "plain.pdf", make_pdf("Open text"))
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    target = tmp_path / "owner_only.pdf"
    writer.write(target)
    [doc] = load_file(target, ingest)
    assert doc.text == "Open text"


def test_truncated_pdf_is_broken(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "broken.pdf", make_pdf("Hello")[:150])
    err = load_error(path, ingest)
    assert err.reason.startswith("cannot parse PDF (")
    assert "valid PDF" in err.reason


def test_pdf_without_text(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "scan.pdf", make_pdf(None)), ingest)
    assert "no extractable text (scanned PDF?)" in err.reason


# --- JSON and JSONL --------------------------------------------------------------------------


def test_json_records_with_ids(tmp_path: Path, ingest: IngestSettings) -> None:
    records = [
        {"id": "q1", "title": "First", "text": "Alpha text.", "lang": "en", "tags": ["x"]},
        {"id": 7, "text": "Beta text."},
    ]
    path = write(tmp_path, "data.json", json.dumps(records))
    first, second = load_file(path, ingest)
    base = str(path.resolve())
    assert (first.source, second.source) == (f"{base}#q1", f"{base}#7")
    assert first.id == document_id(f"{base}#q1")
    assert (first.title, second.title) == ("First", "data #7")
    assert first.text == "Alpha text."
    assert first.mime == "application/json"
    assert first.metadata["record"] == 0
    assert first.metadata["fields"] == {"id": "q1", "lang": "en"}


def test_json_records_without_ids_use_index(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "d.json", json.dumps([{"text": "A."}, {"text": "  "}, {"text": "C."}]))
    docs = load_file(path, ingest)
    base = str(path.resolve())
    assert [d.source for d in docs] == [f"{base}#0", f"{base}#2"]  # empty record skipped


def test_json_single_object_and_custom_fields(tmp_path: Path) -> None:
    settings = IngestSettings(json_text_field="body", json_title_field="name")
    path = write(tmp_path, "one.json", json.dumps({"body": "Only body.", "name": "Named"}))
    [doc] = load_file(path, settings)
    assert doc.text == "Only body."
    assert doc.title == "Named"
    assert doc.source == f"{path.resolve()}#0"


def test_json_missing_text_field(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "bad.json", json.dumps([{"text": "ok"}, {"body": "no text"}]))
    err = load_error(path, ingest)
    assert "record 1" in err.reason
    assert "'text'" in err.reason
    assert "'body'" in err.reason
    assert "GRAPHRAG_INGEST__JSON_TEXT_FIELD" in err.reason


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"text": "a",', "invalid JSON at line 1"),
        ("42", "expected a list of record objects"),
        ('["just a string"]', "record 0 is a string, not an object"),
        ('[{"text": 5}]', "field 'text' must be a string"),
        ('[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]', "repeats id 'a'"),
        ('[{"id": [1], "text": "x"}]', "field 'id' must be a string or an integer"),
        ("[]", "empty"),
    ],
)
def test_json_bad_content(
    tmp_path: Path, ingest: IngestSettings, content: str, expected: str
) -> None:
    assert expected in load_error(write(tmp_path, "x.json", content), ingest).reason


def test_jsonl_records(tmp_path: Path, ingest: IngestSettings) -> None:
    lines = [json.dumps({"text": "One."}), "", json.dumps({"id": "b", "text": "Two."})]
    path = write(tmp_path, "rows.jsonl", "\n".join(lines) + "\n")
    first, second = load_file(path, ingest)
    base = str(path.resolve())
    assert (first.source, second.source) == (f"{base}#0", f"{base}#b")
    assert (first.metadata["line"], second.metadata["line"]) == (1, 3)
    assert first.mime == "application/x-ndjson"


def test_jsonl_malformed_line_names_line(tmp_path: Path, ingest: IngestSettings) -> None:
    content = json.dumps({"text": "ok"}) + "\n\n{not json}\n"
    err = load_error(write(tmp_path, "bad.jsonl", content), ingest)
    assert "line 3 is not valid JSON" in err.reason


def test_jsonl_missing_field_names_record_and_line(tmp_path: Path, ingest: IngestSettings) -> None:
    content = json.dumps({"text": "ok"}) + "\n" + json.dumps({"content": "x"}) + "\n"
    err = load_error(write(tmp_path, "bad.jsonl", content), ingest)
    assert "record 1 (line 2)" in err.reason
    assert "GRAPHRAG_INGEST__JSON_TEXT_FIELD" in err.reason


# --- CSV -------------------------------------------------------------------------------------


def test_csv_rows(tmp_path: Path, ingest: IngestSettings) -> None:
    content = 'title,text,year\nFirst,"Alpha, with comma.",1999\n,"Multi\nline cell.",2000\nX,,1\n'
    path = write(tmp_path, "table.csv", content)
    first, second = load_file(path, ingest)  # the row with an empty text is skipped
    base = str(path.resolve())
    assert (first.source, second.source) == (f"{base}#row1", f"{base}#row2")
    assert first.text == "Alpha, with comma."
    assert second.text == "Multi\nline cell."
    assert (first.title, second.title) == ("First", "table row 2")
    assert first.metadata["fields"] == {"year": "1999"}
    assert first.mime == "text/csv"


def test_csv_custom_column(tmp_path: Path) -> None:
    settings = IngestSettings(csv_text_column="body")
    path = write(tmp_path, "t.csv", "body\nHello there.\n")
    [doc] = load_file(path, settings)
    assert doc.text == "Hello there."
    assert doc.title == "t row 1"


def test_csv_missing_column_lists_columns(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "t.csv", "name,body\na,b\n"), ingest)
    assert "no column 'text'" in err.reason
    assert "'name', 'body'" in err.reason
    assert "GRAPHRAG_INGEST__CSV_TEXT_COLUMN" in err.reason


def test_csv_header_only_is_empty(tmp_path: Path, ingest: IngestSettings) -> None:
    assert "empty" in load_error(write(tmp_path, "t.csv", "text,title\n"), ingest).reason


# --- checks for every file -------------------------------------------------------------------


def test_supported_extensions() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl", ".csv"} == (
        SUPPORTED_EXTENSIONS
    )


def test_missing_file(tmp_path: Path, ingest: IngestSettings) -> None:
    assert "file not found" in load_error(tmp_path / "nope.txt", ingest).reason


def test_directory(tmp_path: Path, ingest: IngestSettings) -> None:
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert "is a directory" in load_error(folder, ingest).reason


def test_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 100)
    err = load_error(path, IngestSettings(max_file_bytes=50))
    assert "100 bytes" in err.reason
    assert "limit of 50" in err.reason
    assert "GRAPHRAG_INGEST__MAX_FILE_BYTES" in err.reason


@pytest.mark.parametrize("name", ["zero.txt", "zero.pdf", "zero.json"])
def test_zero_bytes(tmp_path: Path, ingest: IngestSettings, name: str) -> None:
    assert "empty file (0 bytes)" in load_error(write(tmp_path, name, b""), ingest).reason


def test_whitespace_only(tmp_path: Path, ingest: IngestSettings) -> None:
    assert "empty" in load_error(write(tmp_path, "ws.md", " \n\t\n  "), ingest).reason


def test_binary_content(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "bin.txt", b"abc\x00def"), ingest)
    assert "binary file" in err.reason
    assert "offset 3" in err.reason


def test_utf16_is_binary(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "u16.txt", "Hello".encode("utf-16"))
    assert "binary file" in load_error(path, ingest).reason


def test_invalid_utf8_names_offset(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "latin.txt", "caf\u00e9 ok".encode("latin-1")), ingest)
    assert "invalid UTF-8 at byte offset 3" in err.reason
    err = load_error(write(tmp_path, "bom.txt", b"\xef\xbb\xbfab\xff"), ingest)
    assert "byte offset 5" in err.reason


def test_unsupported_extension_lists_supported(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "doc.docx", b"PK\x03\x04"), ingest)
    assert "unsupported extension '.docx'" in err.reason
    for ext in SUPPORTED_EXTENSIONS:
        assert ext in err.reason
    err = load_error(write(tmp_path, "Makefile", "all:"), ingest)
    assert "unsupported extension (none)" in err.reason


def test_extension_is_case_insensitive(tmp_path: Path, ingest: IngestSettings) -> None:
    [doc] = load_file(write(tmp_path, "UPPER.TXT", "Shouting text."), ingest)
    assert doc.mime == "text/plain"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "secret.txt", "text")
    path.chmod(0)
    try:
        assert "cannot read file" in load_error(path, ingest).reason
    finally:
        path.chmod(0o600)


def test_path_through_a_file(tmp_path: Path, ingest: IngestSettings) -> None:
    blocker = write(tmp_path, "plain.txt", "a file, not a folder")
    err = load_error(blocker / "inner.txt", ingest)
    assert "cannot access file" in err.reason


# --- hostile input (audit) -------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path, ingest: IngestSettings) -> None:
    err = load_error(write(tmp_path, "deep.json", DEEP), ingest)
    assert "JSON nested deeper than about" in err.reason
    assert "flatten the file" in err.reason


def test_deeply_nested_jsonl_line_names_the_line(tmp_path: Path, ingest: IngestSettings) -> None:
    content = json.dumps({"text": "ok"}) + "\n" + DEEP + "\n"
    err = load_error(write(tmp_path, "deep.jsonl", content), ingest)
    assert "line 2 is nested deeper than about" in err.reason


def test_csv_unterminated_quote_fails_with_its_line(tmp_path: Path, ingest: IngestSettings) -> None:
    path = write(tmp_path, "q.csv", 'id,text\n1,"unterminated quote\n2,fine\n')
    err = load_error(path, ingest)
    assert "unterminated quoted field starting on line 2" in err.reason
    assert "closing quote" in err.reason


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id,text\n1,fine\n2,one,two\n", "line 3 (row 2) has 3 fields but the header has 2"),
        (
            "id,title,text\n1,t,fine\n\n2,short\n",
            "line 4 (row 2) has 2 fields but the header has 3",
        ),
        ('id,text\n1,"closed"then more\n', "invalid CSV on line 2"),
    ],
)
def test_csv_malformed_rows_fail(
    tmp_path: Path, ingest: IngestSettings, content: str, expected: str
) -> None:
    assert expected in load_error(write(tmp_path, "m.csv", content), ingest).reason


def test_control_characters_are_dropped_by_normalisation(
    tmp_path: Path, ingest: IngestSettings
) -> None:
    assert normalize_text("a\x1b[31mred\x1b[0m\x07\x00\x7f\x9b2J b\tc") == "a[31mred[0m2J b\tc"
    assert normalize_text("page one\x0cpage two\x0bthree\x85four") == (
        "page one\npage two\nthree\nfour"
    )
    raw = "The \x1b[31mRed Harbour\x1b[0m is old.\x07"
    [doc] = load_file(write(tmp_path, "esc.txt", raw), ingest)
    assert doc.text == "The [31mRed Harbour[0m is old."
    html = "<title>Evil\x1b]0;owned\x07 title</title><p>Body\x1b[2J text.</p>"
    [page] = load_file(write(tmp_path, "esc.html", html), ingest)
    assert page.title == "Evil]0;owned title"
    assert page.text == "Body[2J text."
    records = [{"title": "T\x1b[1m", "text": "x\x1b", "note": "n\x1b"}]
    [record] = load_file(write(tmp_path, "esc.json", json.dumps(records)), ingest)
    assert (record.title, record.text, record.metadata["fields"]) == ("T[1m", "x", {"note": "n"})
    [row] = load_file(write(tmp_path, "esc.csv", "title,text,x\n\x1bT,\x1bbody,\x1bv\n"), ingest)
    assert (row.title, row.text, row.metadata["fields"]) == ("T", "body", {"x": "v"})


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_named_as_a_pipe(tmp_path: Path, ingest: IngestSettings) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    err = load_error(fifo, ingest)  # never blocks: opened non-blocking
    assert "is a named pipe (FIFO), not a regular file" in err.reason


def test_symlink_loop_and_dangling_link_say_what_they_are(
    tmp_path: Path, ingest: IngestSettings
) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to("loop.txt")
    with pytest.raises(IngestError) as info:
        load_file(loop, ingest)
    assert info.value.path == str(loop)  # the link's own path
    assert "symbolic link loop" in info.value.reason
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to("gone.md")
    with pytest.raises(IngestError) as info:
        load_file(dangling, ingest)
    assert info.value.path == str(dangling)
    assert "dangling symbolic link to gone.md" in info.value.reason


def test_a_link_is_loaded_under_its_own_path(tmp_path: Path, ingest: IngestSettings) -> None:
    target = write(tmp_path, "target.txt", "Linked text.")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    [doc] = load_file(link, ingest)
    assert doc.source == str(link)
    assert doc.text == "Linked text."


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_pypdf_warnings_name_the_file(tmp_path: Path, ingest: IngestSettings) -> None:
    damaged = make_pdf("Repaired text").replace(b"0000000009 00000 n", b"0000000001 00000 n")
    path = write(tmp_path, "damaged.pdf", damaged)
    root, seen = logging.getLogger(), _Collect()
    root.addHandler(seen)
    try:
        [doc] = load_file(path, ingest)
    finally:
        root.removeHandler(seen)
    assert doc.text == "Repaired text"
    assert doc.metadata["pdf_warnings"]
    ours = [r.getMessage() for r in seen.records if r.name == "graphrag.ingest.pdf"]
    assert ours
    assert all(m.startswith(f"{path.resolve()}: pypdf: ") for m in ours)
    assert not [r for r in seen.records if r.name.startswith("pypdf")]  # once, with the name
