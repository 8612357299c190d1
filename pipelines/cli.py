"""The ``graphrag`` command line (typer): ``graphrag COMMAND [options]``.

Every command takes ``--config``, ``--store``, ``--db`` and ``--log-level`` after its name
(declared once in :mod:`pipelines.cli_common`), and every command that prints a result takes
``--json`` (one JSON object on stdout, nothing else there). Settings are built by the
commands only, with :func:`graphrag.config.load_settings`. Expected errors print one red
message on stderr and exit with code 2 (bad configuration or input) or 1 (runtime failure);
no traceback. Ctrl-C (SIGINT) exits with 130 and SIGTERM with 143 ("interrupted" /
"terminated"), after stopping the spaCy worker processes and closing the store. Text from
documents and users is printed through :func:`pipelines.report.printable`: control
characters never reach the terminal.

The commands live in :mod:`pipelines.cli_graph` (ingest, query, documents, delete, stats,
merges), :mod:`pipelines.cli_ops` (export, eval, migrate, schema, analyze, demo),
:mod:`pipelines.cli_tune` (tune) and :mod:`pipelines.cli_config` (init, config show). Heavy
modules (models, stores) are imported inside the commands, so ``graphrag --help`` is fast.
Tests replace :func:`pipelines.cli_common.open_components` to reuse models loaded once per
session.
Shell completion: ``graphrag --install-completion`` (or ``--show-completion``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Annotated

import typer

from graphrag.config import version
from pipelines import analyst_queries, cli_api, cli_config, cli_graph, cli_ops, cli_tune
from pipelines.cli_common import TerminatedError

app = typer.Typer(
    name="graphrag",
    help="Build a knowledge graph from documents and answer questions with citations.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"graphrag {version()}")
        raise typer.Exit(0)


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Build a knowledge graph from documents and answer questions with citations.

    Usage: graphrag COMMAND [OPTIONS]; `graphrag COMMAND --help` lists a command's options.
    """


for command in (
    cli_graph.ingest,
    cli_graph.query,
    cli_graph.documents,
    cli_graph.delete,
    cli_graph.stats,
    cli_ops.export,
    cli_ops.evaluate,
    cli_tune.tune,
    cli_graph.merges,
    cli_ops.migrate,
    cli_ops.schema,
    cli_ops.analyze,
    cli_config.init,
    cli_ops.demo,
    cli_api.serve,
    cli_api.token,
):
    app.command("eval" if command is cli_ops.evaluate else None)(command)
app.add_typer(cli_config.config_app, name="config")
app.add_typer(analyst_queries.app, name="analyst-queries")


def main() -> None:
    """Entry point of the ``graphrag`` (and ``arango-graphrag``) script."""
    from graphrag.compat import foreign_graphrag

    clash = foreign_graphrag()
    if clash is not None:
        print(f"error: {clash}", file=sys.stderr)  # noqa: T201 - before any console exists
        raise SystemExit(2)
    install_sigterm_handler()
    app()


STOP_GRACE_SECONDS = 3.0
"""After SIGTERM or Ctrl-C, the command has this long to stop cleanly before it exits anyway.

A model call running in a worker thread cannot be interrupted, and the event loop waits for
it; every write is one transaction, so exiting in the middle is as safe as ``kill -9``
(tested), and the next run finishes what is left."""


def install_sigterm_handler() -> None:
    """Make SIGTERM and Ctrl-C stop the command promptly (exit 143 / 130, no orphan workers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        signal.signal(signal.SIGINT, _on_sigint)


def _stop_soon(code: int, message: str) -> None:
    """Kill the spaCy workers now, and exit with ``code`` if still running after the grace."""
    extractor = sys.modules.get("graphrag.extract.spacy_extractor")
    if extractor is not None:  # kill running spaCy workers so nothing waits for them
        extractor.stop_workers()

    def deadline() -> None:
        time.sleep(STOP_GRACE_SECONDS)
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        os._exit(code)

    threading.Thread(target=deadline, name="graphrag-stop", daemon=True).start()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    _stop_soon(143, "terminated (SIGTERM); work already written is kept")
    raise TerminatedError


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
    _stop_soon(130, "interrupted; work already written is kept")
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
