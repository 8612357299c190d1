"""`graphrag token` and `graphrag serve` argument handling (no server started here)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.api.conftest import SECRET

runner = CliRunner()


def test_token_mints_a_token_the_service_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.security import Role, verify_token
    from graphrag.config import load_settings

    monkeypatch.setenv("GRAPHRAG_API__JWT_SECRET", SECRET)
    result = runner.invoke(app, ["token", "--subject", "ana", "--role", "writer", "--ttl", "5"])
    assert result.exit_code == 0, result.output
    principal = verify_token(load_settings(), result.output.strip())
    assert (principal.subject, principal.role, principal.workspace) == (
        "ana",
        Role.WRITER,
        "default",
    )
    assert SECRET not in result.output


def test_token_without_a_secret_says_what_to_set() -> None:
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 2, result.output
    assert "GRAPHRAG_API__JWT_SECRET" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_API__JWT_SECRET", "change-me-change-me-change-me-change-me")
    result = runner.invoke(app, ["serve", "--port", "8999"])
    assert result.exit_code == 2, result.output
    assert "GRAPHRAG_API__JWT_SECRET" in result.output
    assert "change-me" not in result.output
