"""Plumbing shared by the ``graphrag`` commands: options, settings, errors, output.

The four options every command takes (``--config``, ``--store``, ``--db``, ``--log-level``)
and ``--json`` are declared once, here, and appended to each command's signature by
:func:`shared`; the command receives them as one :class:`CommonOptions`.

Options that mirror a setting show its environment variable in ``--help``. The CLI never
applies such a variable itself: a value typer took from the environment is dropped, and the
settings read the variable in their own order (command line > environment > config file >
.env > defaults), so it is neither applied twice nor raised above the config file.

Closed sets of values (modes, formats, levels, stores) are :func:`choice` options: ``--help``
lists them, shell completion offers them, and a wrong value exits with 2 naming the valid
ones. Expected errors print one red line on stderr (:func:`errors`); tests replace
:func:`open_components` to reuse models loaded once per session.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from graphrag.config import CONFIG_FILE_VARIABLE, LOG_LEVELS, Settings, StoreKind, load_settings
from graphrag.errors import (
    ConfigError,
    EvaluationError,
    GraphRAGError,
    InvalidQueryError,
    NotFoundError,
)
from pipelines.report import escape_log_output, printable, safe_json

if TYPE_CHECKING:
    from graphrag.facade import GraphRAG
    from graphrag.runtime import Components

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

BAD_INPUT = 2
FAILURE = 1
INTERRUPTED = 130  # 128 + SIGINT
TERMINATED = 143  # 128 + SIGTERM


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread when the CLI receives SIGTERM (handled like Ctrl-C)."""


async def open_components(settings: Settings) -> Components:
    """Build the components of a command (the hook tests replace)."""
    from graphrag.runtime import open_components as open_runtime

    return await open_runtime(settings)


# --- choices -----------------------------------------------------------------------------------


def choice(values: Sequence[str], what: str, convert: Callable[[str], Any] = str) -> dict[str, Any]:
    """Return ``typer.Option`` keywords for a closed set of values (case-insensitive).

    Args:
        values: The valid values, in the order ``--help`` lists them.
        what: What a value is, for the error message (``"retrieval mode"``).
        convert: Turns the matching value into the parameter's type.

    Example:
        ```python
        Mode = Annotated[str, typer.Option("--mode", **choice(["naive", "bm25"], "retrieval mode"))]


        @app.command()
        def search(mode: Mode = "naive") -> None:
            ...  # "--mode BM25" gives "bm25"; "--mode x" exits 2: unknown retrieval mode 'x'
        ```
    """
    by_folded = {v.casefold(): v for v in values}

    def parse(value: object) -> Any:
        text = str(value.value if isinstance(value, Enum) else value).strip()
        if text.casefold() not in by_folded:
            msg = f"unknown {what} {text!r}; use one of: {', '.join(values)}"
            raise typer.BadParameter(msg)
        return convert(by_folded[text.casefold()])

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.casefold().startswith(incomplete.casefold())]

    return {"parser": parse, "metavar": f"[{'|'.join(values)}]", "autocompletion": complete}


def enum_choice(enum: type[E], what: str) -> dict[str, Any]:
    """Return :func:`choice` keywords for the values of a string enum."""
    return choice([str(member.value) for member in enum], what, enum)


# --- the shared options ------------------------------------------------------------------------


@dataclass(frozen=True)
class CommonOptions:
    """The options every command takes, and ``--json`` where the command has it."""

    config: Path | None = None
    store: StoreKind | None = None
    db: Path | None = None
    log_level: str | None = None
    as_json: bool = False

    def overrides(self) -> dict[str, Any]:
        """Return the settings the options set (only those given)."""
        overrides: dict[str, Any] = {}
        if self.store is not None:
            overrides["store"] = self.store
        if self.db is not None:
            overrides["embedded"] = {"path": self.db}
        if self.log_level is not None:
            overrides["log_level"] = self.log_level
        return overrides

    def settings(self, *, existing: bool = False, **overrides: Any) -> Settings:
        """Build the settings and configure logging (see :func:`make_settings`)."""
        return make_settings(self, existing=existing, **overrides)


_KW = inspect.Parameter.KEYWORD_ONLY
_SHARED = (
    inspect.Parameter(
        "config",
        _KW,
        default=None,
        annotation=Annotated[
            Path | None,
            typer.Option(
                "--config",
                help="TOML or YAML settings file.",
                envvar=CONFIG_FILE_VARIABLE,
                show_default=False,
            ),
        ],
    ),
    inspect.Parameter(
        "store",
        _KW,
        default=None,
        annotation=Annotated[
            StoreKind | None,
            typer.Option(
                "--store",
                help="Graph store (default embedded).",
                envvar="GRAPHRAG_STORE",
                show_default=False,
                **enum_choice(StoreKind, "store"),
            ),
        ],
    ),
    inspect.Parameter(
        "db",
        _KW,
        default=None,
        annotation=Annotated[
            Path | None,
            typer.Option(
                "--db",
                help="SQLite file of the embedded store (default .graphrag/graph.db).",
                envvar="GRAPHRAG_EMBEDDED__PATH",
                show_default=False,
            ),
        ],
    ),
    inspect.Parameter(
        "log_level",
        _KW,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--log-level",
                help="Logging level on stderr (default INFO).",
                envvar="GRAPHRAG_LOG_LEVEL",
                show_default=False,
                **choice(LOG_LEVELS, "log level"),
            ),
        ],
    ),
)
_JSON = inspect.Parameter(
    "as_json",
    _KW,
    default=False,
    annotation=Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")
    ],
)
_CTX = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)


def shared(
    *, json_output: bool = True, settings_options: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options (and ``--json``) as its ``opts`` parameter.

    The command's own parameters keep their order; the shared ones follow. A value that
    typer read from an option's environment variable is replaced by the option's default,
    so that the settings apply the variable in their own precedence.

    Args:
        json_output: Add ``--json``.
        settings_options: Add ``--config``, ``--store``, ``--db`` and ``--log-level``.
    """
    extra = (*(_SHARED if settings_options else ()), *((_JSON,) if json_output else ()))
    names = [p.name for p in extra]

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        params = inspect.signature(func, eval_str=True).parameters.values()
        own = [p for p in params if p.name != "opts"]
        defaults = {p.name: p.default for p in (*own, *extra)}

        def command(ctx: typer.Context, **kwargs: Any) -> None:
            for name in kwargs:
                source = ctx.get_parameter_source(name)
                if getattr(source, "name", "") == "ENVIRONMENT":
                    kwargs[name] = defaults[name]
            opts = CommonOptions(**{n: kwargs.pop(n) for n in names})
            func(**kwargs, opts=opts)

        signature = inspect.Signature([_CTX, *own, *extra])
        command.__signature__ = signature  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        command.__name__ = func.__name__
        command.__qualname__ = func.__qualname__
        command.__doc__ = func.__doc__
        command.__module__ = func.__module__
        return command

    return decorate


# --- settings, errors, running -----------------------------------------------------------------


def make_settings(opts: CommonOptions, *, existing: bool = False, **overrides: Any) -> Settings:
    """Build the settings from the shared options and configure logging.

    Args:
        opts: The shared options.
        existing: The command reads a graph: an embedded store file that does not exist is
            an error (a mistyped ``--db`` must not silently create an empty store).
        **overrides: Further settings from the command's own options.

    Raises:
        ConfigError: If the file or a value is invalid, or the store file is missing.
    """
    settings = load_settings(opts.config, **{**overrides, **opts.overrides()})
    path = settings.embedded.path
    if settings.store is StoreKind.EMBEDDED and path.is_dir():
        msg = (
            f"the embedded store path {path} is a folder; pass the store's SQLite file "
            f"(e.g. --db {path / 'graph.db'}) in --db or GRAPHRAG_EMBEDDED__PATH"
        )
        raise ConfigError(msg)
    if existing and settings.store is StoreKind.EMBEDDED and not path.exists():
        msg = (
            f"no graph store at {path}; ingest documents first (graphrag ingest PATH --db "
            f"{path}) or point --db / GRAPHRAG_EMBEDDED__PATH at an existing store"
        )
        raise ConfigError(msg)
    if existing and settings.store is StoreKind.EMBEDDED and path.stat().st_size == 0:
        msg = (
            f"{path} is an empty file (0 bytes), not a graph store (a store truncated to 0 "
            "bytes is lost: restore it from a backup); ingest documents into it to start a new "
            "store, or point --db / GRAPHRAG_EMBEDDED__PATH at an existing store"
        )
        raise ConfigError(msg)
    from graphrag.runtime import configure_logging

    configure_logging(settings.log_level)
    escape_log_output()
    return settings


def fail(message: str, code: int) -> typer.Exit:
    """Print ``message`` in red on stderr and return the exit to raise."""
    stderr.print(Text(f"error: {printable(message)}", style="red"), soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn expected errors into one red line and an exit code (2 bad input, 1 failure)."""
    try:
        yield
    except (ConfigError, InvalidQueryError, EvaluationError) as exc:
        raise fail(str(exc), BAD_INPUT) from None
    except NotFoundError as exc:
        raise fail(f"not found: {exc}", FAILURE) from None
    except GraphRAGError as exc:
        raise fail(str(exc), FAILURE) from None
    except TerminatedError:
        raise fail("terminated (SIGTERM); work already written is kept", TERMINATED) from None
    except KeyboardInterrupt:
        raise fail("interrupted", INTERRUPTED) from None


def run_with(
    settings: Settings,
    body: Callable[[Components], Coroutine[Any, Any, T]],
    *,
    llm: bool = False,
) -> T:
    """Open the components, run ``body`` on them, close them; all in one event loop.

    ``llm``: the command uses the LLM when one is configured, so check it first (a wrong
    URL, key or model fails here, before any work).
    """
    return asyncio.run(with_components(settings, body, llm=llm))


async def with_components(
    settings: Settings,
    body: Callable[[Components], Coroutine[Any, Any, T]],
    *,
    llm: bool = False,
) -> T:
    """Open the components (through :func:`open_components`), run ``body``, close them."""
    components = await open_components(settings)
    try:
        if llm and components.llm is not None:
            await components.llm.check()
        return await body(components)
    finally:
        await components.close()


def run_rag(
    settings: Settings, body: Callable[[GraphRAG], Coroutine[Any, Any, T]], *, llm: bool = False
) -> T:
    """Open the :class:`~graphrag.facade.GraphRAG` facade, run ``body`` on it, close it."""
    return asyncio.run(with_rag(settings, body, llm=llm))


async def with_rag(
    settings: Settings, body: Callable[[GraphRAG], Coroutine[Any, Any, T]], *, llm: bool = False
) -> T:
    """Open the facade over :func:`open_components` (the hook tests replace), run ``body``."""
    from graphrag.facade import GraphRAG

    rag = GraphRAG(await open_components(settings))
    try:
        if llm and rag.components.llm is not None:
            await rag.components.llm.check()
        return await body(rag)
    finally:
        await rag.close()


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON object on stdout (control characters escaped)."""
    from pipelines.payloads import jsonable

    text = json.dumps(jsonable(data), indent=2, ensure_ascii=False)
    typer.echo(safe_json(text))


def say(text: str) -> None:
    """Print one line of plain text (no markup) on stdout, control characters escaped."""
    stdout.print(printable(text), markup=False, soft_wrap=True)
