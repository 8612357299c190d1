"""Commands about the settings: ``graphrag init`` and ``graphrag config show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from graphrag.config import config_file_path, value_sources
from pipelines.cli_common import CommonOptions, choice, emit_json, errors, say, shared, stdout
from pipelines.settings_view import FORMATS

config_app = typer.Typer(
    name="config",
    help="Inspect the settings (see docs/configuration.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@shared(settings_options=False)
def init(
    opts: CommonOptions,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="File to write, or a folder to write graphrag.toml/.yaml into "
            "(default ./graphrag.toml).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="File format (default: from the file name, else toml).",
            show_default=False,
            **choice(FORMATS, "settings format"),
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter settings file (the most useful settings, at their defaults)."""
    from pipelines.settings_view import write_starter

    with errors():
        written, chosen = write_starter(path, fmt, force=force)
    if opts.as_json:
        emit_json({"path": written, "format": chosen})
        return
    say(f"wrote {written} ({chosen.upper()} starter settings); use it with --config {written}")


@shared()
def show(opts: CommonOptions) -> None:
    """Print the effective settings and where each value came from (secrets masked).

    Sources: default, config file PATH, environment variable NAME, .env (NAME), command line.
    """
    from pipelines.settings_view import settings_payload, settings_rows, settings_table

    with errors():
        settings = opts.settings()
        origins = value_sources(opts.config, **opts.overrides())
        rows = settings_rows(settings, origins)
    config_file = config_file_path(opts.config)
    if opts.as_json:
        emit_json(settings_payload(rows, config_file))
    else:
        stdout.print(settings_table(rows, config_file))


config_app.command("show")(show)
