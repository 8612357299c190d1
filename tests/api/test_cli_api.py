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


def test_token_refuses_a_short_secret_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHRAG_API__JWT_SECRET", "short")
    refused = runner.invoke(app, ["token"])
    assert refused.exit_code == 2, refused.output
    assert "GRAPHRAG_API__JWT_SECRET" in refused.output
    monkeypatch.setenv("GRAPHRAG_ENVIRONMENT", "development")
    allowed = runner.invoke(app, ["token", "--json"])
    assert allowed.exit_code == 0, allowed.output
    assert "InsecureKeyLengthWarning" not in allowed.output
    assert '"expires_in_minutes": 60' in allowed.output


def test_serve_refuses_a_taken_port_before_loading_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    monkeypatch.setenv("GRAPHRAG_API__JWT_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
