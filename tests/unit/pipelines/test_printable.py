"""What the CLI prints of documents, answers and names cannot drive the terminal."""

from __future__ import annotations

import pytest

from pipelines.report import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("red \x1b[31m text", "red \\x1b[31m text"),
        ("csi \x9b1m", "csi \\x9b1m"),
        ("admin\u202e txt.exe", "admin\\u202e txt.exe"),  # right-to-left override
        ("a\u2066b\u2069c", "a\\u2066b\\u2069c"),  # isolates
        ("keep\ttabs\nand lines", "keep\ttabs\nand lines"),
        ("Zoë — naïve ✓", "Zoë — naïve ✓"),  # ordinary text is untouched
    ],
)
def test_controls_and_bidi_overrides_are_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_one_line_escapes_newlines_too() -> None:
    assert printable("a\nb\u202ec", one_line=True) == "a\\x0ab\\u202ec"
