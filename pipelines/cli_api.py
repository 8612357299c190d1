"""Commands of the HTTP API service: ``serve`` (run it) and ``token`` (mint a JWT).

Registered on the app by :mod:`pipelines.cli`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_common import CommonOptions, emit_json, enum_choice, errors, say, shared


class RoleChoice(StrEnum):
    """Roles a token can carry."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


@shared(json_output=False)
def serve(
    opts: CommonOptions,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on (0.0.0.0 for every interface).",
            envvar="GRAPHRAG_SERVE_HOST",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", min=1, max=65535, help="Port to listen on.", envvar="GRAPHRAG_SERVE_PORT"
        ),
    ] = 8000,
) -> None:
    """Run the HTTP API (one process, uvicorn); production runs gunicorn, see docs/operations.md."""
    import uvicorn

    from api.app import create_app

    with errors():
        settings = opts.settings()
        app = create_app(settings)
    say(f"serving the API on http://{host}:{port} (OpenAPI: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=True,
                timeout_graceful_shutdown=25)  # fmt: skip


@shared(json_output=True)
def token(
    opts: CommonOptions,
    subject: Annotated[
        str, typer.Option("--subject", help="Who the token is for (the 'sub' claim).")
    ] = "developer",
    role: Annotated[
        RoleChoice,
        typer.Option("--role", help="Role the token grants.", **enum_choice(RoleChoice, "role")),
    ] = RoleChoice.READER,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", help="Workspace (default: api.default_workspace).", show_default=False
        ),
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl",
            min=1,
            help="Minutes until it expires (default: api.token_ttl_minutes).",
            show_default=False,
        ),
    ] = None,
    private_key: Annotated[
        Path | None,
        typer.Option(
            "--private-key",
            help="PEM private key (RS256/ES256 deployments).",
            show_default=False,
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Mint a development JWT for the API, signed with the configured secret or key."""
    from api.security import Role, mint_token

    with errors():
        settings = opts.settings()
        pem = private_key.read_text(encoding="utf-8") if private_key else None
        text = mint_token(
            settings,
            subject=subject,
            role=Role(role.value),
            workspace=workspace or settings.api.default_workspace,
            ttl_minutes=ttl,
            private_key=pem,
        )
    if opts.as_json:
        emit_json({"token": text, "subject": subject, "role": role.value})
    else:
        typer.echo(text)
