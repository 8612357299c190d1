"""The audit log (api.security.audit): JSON lines, permissions, redaction, threads, queries."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.security import AuditEvent, AuditLog, redact

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9."
    "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
KEY = "grk_team_0123456789ab_" + "S3cr3t-_" * 5 + "abc"


def event(minutes: int, action: str = "document.upload", **kw: object) -> AuditEvent:
    return AuditEvent(time=T0 + timedelta(minutes=minutes), action=action, **kw)  # type: ignore[arg-type]


def test_one_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.log"
    log = AuditLog(str(path))
    log.write(
        AuditEvent(
            time=T0,
            request_id="r1",
            subject="alice",
            workspace="default",
            action="document.delete",
            target="doc-1",
            detail={"chunks": 3},
        )
    )
    log.write(event(1, "merge.undo", result="not_found"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "time": "2025-03-01T12:00:00Z",
        "request_id": "r1",
        "subject": "alice",
        "workspace": "default",
        "action": "document.delete",
        "target": "doc-1",
        "result": "ok",
        "detail": {"chunks": 3},
    }
    assert json.loads(lines[1])["result"] == "not_found"


def test_new_file_is_private_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    AuditLog(path).write(event(0))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    AuditLog(path).write(event(1))  # a restart appends
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write(
        AuditEvent(
            action="auth.failure",
            target=f"/v1/query?token={TOKEN}",
            result=f"bad key {KEY}",
            detail={"header": f"Bearer {TOKEN}", "nested": [KEY, {"k": f"Basic {KEY[4:]}"}]},
        )
    )
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert KEY not in text
    assert KEY[4:] not in text
    assert "[redacted]" in text


def test_redact_leaves_ordinary_text() -> None:
    text = "missing credentials: send Authorization: Bearer <token> or X-API-Key"
    assert redact(text) == text
    assert redact("document.upload of doc-42") == "document.upload of doc-42"


def test_stdout_target(capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog("-")
    assert not log.queryable
    log.write(event(0, subject="bob", detail={"key": KEY}))
    out = capsys.readouterr().out
    assert json.loads(out)["subject"] == "bob"
    assert KEY not in out
    assert log.query(T0 - timedelta(days=1), T0 + timedelta(days=1)) == []


def test_query_filters(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.write(event(0, "document.upload", workspace="a"))
    log.write(event(1, "auth.failure", workspace="-"))
    log.write(event(2, "document.upload", workspace="b"))
    log.write(event(3, "key.create", workspace="a"))
    log.write(event(4, "document.upload", workspace="a"))
    everything = log.query(T0, T0 + timedelta(hours=1))
    assert [e.time for e in everything] == [T0 + timedelta(minutes=m) for m in range(5)]
    uploads = log.query(T0, T0 + timedelta(hours=1), action="document.upload")
    assert [e.workspace for e in uploads] == ["a", "b", "a"]
    in_a = log.query(T0, T0 + timedelta(hours=1), workspace="a")
    assert [e.action for e in in_a] == ["document.upload", "key.create", "document.upload"]
    window = log.query(T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    assert [e.action for e in window] == ["auth.failure", "document.upload"]
    assert len(log.query(T0, T0 + timedelta(hours=1), limit=2)) == 2
    assert log.query(T0, T0 + timedelta(hours=1), limit=0) == []


def test_query_takes_naive_times_as_utc_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write(event(0))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("not json\n{}\n")
    log.write(event(1))
    found = log.query(datetime(2025, 3, 1, 11, 0), datetime(2025, 3, 1, 13, 0))
    assert len(found) == 2


def test_query_of_a_deleted_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    path.unlink()
    assert log.query(T0, T0 + timedelta(days=1)) == []


def test_close_and_reopen_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write(event(0))
    path.rename(tmp_path / "audit.log.1")
    log.close()
    log.write(event(1))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_threads_never_mix_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    detail = {"padding": "x" * 2000}

    def work(n: int) -> None:
        for i in range(50):
            log.write(event(i, subject=f"thread-{n}", detail=detail))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 400
    assert all(json.loads(line)["detail"] == detail for line in lines)


def test_odd_detail_values_are_written_as_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    AuditLog(path).write(event(0, detail={"file": Path("/srv/in.pdf"), "token": TOKEN}))
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["detail"] == {"file": "/srv/in.pdf", "token": "[redacted]"}
