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
        _check_port(host, port)
        app = create_app(settings)
    explorer = f"; web explorer at http://{host}:{port}/ui" if settings.api.ui else ""
    say(f"starting the API on http://{host}:{port}: ready when /readyz answers 200 (models load "
        f"first); OpenAPI at http://{host}:{port}/docs{explorer}")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=True,
                timeout_graceful_shutdown=25)  # fmt: skip


def _check_port(host: str, port: int) -> None:
    """Refuse a port that is taken before the models load (seconds), not after."""
    import socket

    from graphrag.errors import ConfigError

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            msg = f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            raise ConfigError(msg) from None


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
    import warnings

    from api.security import Role, check_settings, mint_token

    with errors():
        settings = opts.settings()
        check_settings(settings)  # the service would refuse what it refuses
        pem = private_key.read_text(encoding="utf-8") if private_key else None
        with warnings.catch_warnings():  # a short development secret: check_settings said so
            warnings.simplefilter("ignore")
            text = mint_token(
                settings,
                subject=subject,
                role=Role(role.value),
                workspace=workspace or settings.api.default_workspace,
                ttl_minutes=ttl,
                private_key=pem,
            )
    if opts.as_json:
        minutes = ttl or settings.api.token_ttl_minutes
        chosen = workspace or settings.api.default_workspace
        emit_json({"token": text, "subject": subject, "role": role.value, "workspace": chosen,
                   "expires_in_minutes": minutes})  # fmt: skip
    else:
        typer.echo(text)
