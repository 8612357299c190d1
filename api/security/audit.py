"""The audit log: one JSON line per security-relevant event.

Who did what to which workspace, when, and how it ended: uploads, deletions, merge undos,
workspace and key changes, and every failed authentication. The target is a file (JSON
lines, opened in append mode, created with permissions ``0o600``) or ``-`` for stdout (for
container log collectors). Each line is written with one ``write`` call and flushed, under a
lock, so lines of threads never mix (and lines of several worker processes appending to one
file stay whole: ``O_APPEND`` writes of one line do not interleave on a local file system).

Secrets are never logged: callers pass no credentials, and as a second line of defence any
text that looks like an API key (``grk_...``), a JSON Web Token (``eyJ...``) or the value of an
``Authorization`` header is replaced by ``[redacted]`` before the line is written.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphrag.models import utcnow

STDOUT = "-"
REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"grk_[A-Za-z0-9_-]+"  # API keys
    r"|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"  # JWTs (and JWS parts)
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # credentials of an Authorization header
)


def redact(text: str) -> str:
    """Replace API keys, JWTs and Authorization credentials in ``text`` with ``[redacted]``."""
    return _SECRETS.sub(REDACTED, text)


class AuditEvent(BaseModel):
    """One audit line.

    Attributes:
        time: When it happened (UTC).
        request_id: The request's id (``X-Request-ID``), ``-`` outside a request.
        subject: Who: token subject, ``key:<id>``, or ``unknown`` before authentication.
        workspace: Which workspace (``-`` when unknown).
        action: What: ``document.upload``, ``document.delete``, ``merge.undo``,
            ``workspace.create``, ``key.create``, ``key.revoke``, ``auth.failure``...
        target: What it was done to (document id, key id, route path...).
        result: ``ok``, ``denied``, or an error code / short reason.
        detail: Anything else worth keeping (counts, names); never a secret.
    """

    model_config = ConfigDict(extra="forbid")

    time: datetime = Field(default_factory=utcnow)
    request_id: str = "-"
    subject: str = "unknown"
    workspace: str = "-"
    action: str
    target: str = ""
    result: str = "ok"
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    """A naive datetime is taken as UTC; an aware one is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class AuditLog:
    """Append audit events to a file or stdout, and read them back from a file.

    Args:
        target: A file path, or ``-`` for stdout. The file's folder is created if missing;
            a new file gets permissions ``0o600``.
    """

    def __init__(self, target: str | Path) -> None:
        self._target = str(target)
        self._lock = threading.Lock()
        self._fd: int | None = None
        if self._target != STDOUT:
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
            self._fd = self._open()

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        return os.open(self._target, flags, 0o600)

    @property
    def target(self) -> str:
        """The file path, or ``-`` for stdout."""
        return self._target

    @property
    def queryable(self) -> bool:
        """Whether :meth:`query` can read events back (only a file target can)."""
        return self._target != STDOUT

    def write(self, event: AuditEvent) -> None:
        """Append one event as one JSON line, flushed at once.

        Values that JSON cannot hold are written as their ``str``; anything that looks
        like a credential is replaced by ``[redacted]`` (the line stays valid JSON: the
        patterns never span a quote, comma or backslash).
        """
        line = redact(event.model_dump_json(fallback=str)) + "\n"
        with self._lock:
            if self._target == STDOUT:
                sys.stdout.write(line)
                sys.stdout.flush()
                return
            if self._fd is None:
                self._fd = self._open()
            data = line.encode("utf-8")
            while data:
                written = os.write(self._fd, data)
                data = data[written:]

    def close(self) -> None:
        """Close the file; the next :meth:`write` opens it again (use after log rotation)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def query(
        self,
        start: datetime,
        end: datetime,
        *,
        action: str | None = None,
        workspace: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Events with ``start <= time < end``, oldest first, at most ``limit``.

        To page, ask again with ``start`` set to the last event's time (events of that
        exact instant may repeat). Lines that are not valid events are skipped; only the
        current file is read (not rotated copies).

        Args:
            start: First instant (a naive datetime is taken as UTC).
            end: Instant after the last one.
            action: Only events of this action (``auth.failure``...).
            workspace: Only events of this workspace.
            limit: Most events returned.

        Returns:
            The events; always ``[]`` when the target is stdout (nothing to read back; the
            API answers that with a message pointing at the log collector), or when the file
            does not exist.
        """
        if not self.queryable or limit <= 0:
            return []
        low, high = _as_utc(start), _as_utc(end)
        found: list[AuditEvent] = []
        try:
            with open(self._target, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    event = _parse(line)
                    if event is None or not low <= event.time < high:
                        continue
                    if action is not None and event.action != action:
                        continue
                    if workspace is not None and event.workspace != workspace:
                        continue
                    found.append(event)
                    if len(found) >= limit:
                        break
        except FileNotFoundError:
            return []
        return found


def _parse(line: str) -> AuditEvent | None:
    try:
        return AuditEvent.model_validate_json(line)
    except ValueError:
        return None
