"""The real ``graphrag ingest`` process: each failure printed once, no control characters.

Runs ``python -m pipelines.cli`` (real logging configuration, unlike CliRunner) on a folder
holding only bad files, so no model is loaded and the run takes a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.corpus import make_pdf

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_each_failure_is_printed_once_and_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.json").write_text('{"text": ', encoding="utf-8")
    (folder / "\x1b[2Jwiped.csv").write_text('id,text\n1,"open\n', encoding="utf-8")
    damaged = make_pdf("x").replace(b"0000000009 00000 n", b"0000000001 00000 n")
    (folder / "\x1b]0;title\x07.pdf").write_bytes(damaged[:-300])  # pypdf warns, then fails
    os.mkfifo(folder / "pipe.txt")
    (folder / "dangling.md").symlink_to("gone.md")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GRAPHRAG_")},
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "GRAPHRAG_LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "pipelines.cli", "ingest", str(folder)]
    command += ["--db", str(tmp_path / "graph.db")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert b"\x1b" not in done.stdout + done.stderr
    assert b"\x07" not in done.stdout + done.stderr
    base = str(folder.resolve())
    expected = {
        f"{base}/broken.json": "invalid JSON",
        f"{base}/\\x1b[2Jwiped.csv": "unterminated quoted field starting on line 2",
        f"{base}/\\x1b]0;title\\x07.pdf": "cannot parse PDF",
        f"{base}/pipe.txt": "is a named pipe (FIFO)",
        f"{base}/dangling.md": "dangling symbolic link to gone.md",
    }
    for path, reason in expected.items():
        lines = [line for line in stderr.splitlines() if f"{path}: " in line and reason in line]
        assert len(lines) == 1, (path, stderr)
    assert "Traceback" not in stderr
