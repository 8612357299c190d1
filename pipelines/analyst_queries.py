"""Saved AQL queries for analysts in the ArangoDB web UI (``aql/analyst/*.aql``).

Each file documents its bind parameters in its header::

    // @params: entity, depth
    // @param entity (default "entities/e_replace_me"): _id of the start entity
    // @param depth (default 2): hops to walk

The web UI keeps a user's saved queries in the user's ``extra.queries`` as
``{"name", "value", "parameter"}`` objects, and its *Import* button (Queries tab, saved
queries) reads a JSON file holding a list of such objects. This module builds that list and
either writes the JSON file or stores the queries for a user directly.

CLI::

    python -m pipelines.analyst_queries export --out analyst-queries.json
    python -m pipelines.analyst_queries install --user kg_analyst   # GRAPHRAG_ARANGO__* env

The ``graphrag`` CLI can mount the same commands with ``app.add_typer(analyst_app,
name="analyst-queries")``.
"""

from __future__ import annotations

import asyncio
import json
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import typer

from graphrag.config import load_settings
from graphrag.errors import ConfigError, GraphRAGError

NAME_PREFIX = "KG: "

_PARAMS = re.compile(r"^//\s*@params:\s*(.*)$", re.MULTILINE)
_PARAM = re.compile(r"^//\s*@param\s+(\w+)\s+\(default\s+(.+?)\):\s*(.*)$", re.MULTILINE)


def analyst_folder() -> Traversable:
    """The analyst queries: ``aql/analyst`` of the installed package, else of the checkout."""
    from graphrag.stores.arango.queries import aql_folder

    return aql_folder().joinpath("analyst")


def query_name(path: Traversable) -> str:
    """Return the saved-query name of a file (``top_entities`` -> ``KG: top entities``)."""
    return NAME_PREFIX + path.name.removesuffix(".aql").replace("_", " ")


def parse_query(path: Traversable) -> dict[str, Any]:
    """Return the saved query of one ``.aql`` file.

    Raises:
        ConfigError: If a declared bind parameter has no ``@param ... (default ...)`` line or
            a default is not JSON.
    """
    text = path.read_text(encoding="utf-8")
    declared_line = _PARAMS.search(text)
    declared = [p.strip() for p in declared_line.group(1).split(",")] if declared_line else []
    defaults: dict[str, Any] = {}
    for name, raw, _ in _PARAM.findall(text):
        try:
            defaults[name] = json.loads(raw)
        except json.JSONDecodeError as exc:
            msg = f"{path}: the default of @{name} is not JSON ({raw!r}); write it as JSON"
            raise ConfigError(msg) from exc
    missing = [p for p in declared if p and p not in defaults]
    if missing:
        msg = f"{path}: bind parameters {missing} have no '// @param NAME (default JSON): ...' line"
        raise ConfigError(msg)
    return {
        "name": query_name(path),
        "value": text,
        "parameter": {p: defaults[p] for p in declared if p},
    }


def load_analyst_queries(folder: Traversable | None = None) -> list[dict[str, Any]]:
    """Return the saved queries of every ``*.aql`` in ``folder``, sorted by file name.

    Args:
        folder: The folder (default :func:`analyst_folder`).

    Raises:
        ConfigError: If the folder holds no query or a header is incomplete.
    """
    folder = analyst_folder() if folder is None else folder
    found = folder.iterdir() if folder.is_dir() else iter(())
    files = sorted((f for f in found if f.name.endswith(".aql")), key=lambda f: f.name)
    if not files:
        msg = f"no analyst queries in {folder}; reinstall the package (its aql files are missing)"
        raise ConfigError(msg)
    return [parse_query(f) for f in files]


def export_queries(path: Path, folder: Traversable | None = None) -> int:
    """Write the saved queries as a JSON file for the web UI's Import button.

    Returns:
        The number of queries written.

    Raises:
        ConfigError: If the queries cannot be read.
        GraphRAGError: If the file cannot be written.
    """
    queries = load_analyst_queries(folder)
    try:
        path.write_text(json.dumps(queries, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        msg = f"cannot write {path} ({exc.strerror or exc}); check the path"
        raise GraphRAGError(msg) from exc
    return len(queries)


async def install_queries(
    username: str, *, config_file: Path | None = None, folder: Traversable | None = None
) -> int:
    """Store the saved queries in ``username``'s web-UI profile (``extra.queries``).

    Uses ``GRAPHRAG_ARANGO__*`` settings (the admin, or the user itself); queries with the
    same name are replaced, the user's other saved queries are kept.

    Returns:
        The number of saved queries the user has afterwards.
    """
    from graphrag.stores.arango.users import install_saved_queries

    settings = load_settings(config_file)
    if not settings.arango.url:
        msg = "arango.url is not set; set GRAPHRAG_ARANGO__URL (e.g. http://127.0.0.1:8529)"
        raise ConfigError(msg)
    queries = load_analyst_queries(folder)
    return await install_saved_queries(settings.arango, username=username, queries=queries)


app = typer.Typer(
    name="analyst-queries",
    help="Saved AQL queries for analysts in the ArangoDB web UI.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="JSON file to write.")] = Path(
        "analyst-queries.json"
    ),
) -> None:
    """Write the queries as JSON for the web UI (Queries -> Saved queries -> Import)."""
    try:
        count = export_queries(out)
    except ConfigError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(2) from exc
    except GraphRAGError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {count} queries to {out}")


@app.command("install")
def install_command(
    user: Annotated[str, typer.Option("--user", help="User who gets the queries.")],
    config: Annotated[Path | None, typer.Option("--config", help="Settings file.")] = None,
) -> None:
    """Store the queries in a user's saved queries (needs GRAPHRAG_ARANGO__* settings)."""
    try:
        count = asyncio.run(install_queries(user, config_file=config))
    except ConfigError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(2) from exc
    except GraphRAGError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    typer.echo(f"{user} now has {count} saved queries")


def main() -> None:
    """Entry point of ``python -m pipelines.analyst_queries``."""
    app()


if __name__ == "__main__":
    main()
