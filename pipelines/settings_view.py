"""The settings as people read them: ``graphrag config show`` and ``graphrag init``.

:func:`settings_rows` lists every effective value with where it came from (default, config
file, environment variable, ``.env``, command line); secrets are masked: every ``SecretStr``
and every key named like a password, key, token or secret. :func:`starter_text` renders a
commented starter settings file (TOML or YAML) from the field descriptions, every value at
its default, which :func:`write_starter` writes.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from rich.table import Table

from graphrag.config import CONFIG_FILE_VARIABLE, Origin, Settings
from graphrag.config_sources import variable
from graphrag.errors import ConfigError, GraphRAGError
from pipelines.report import printable

MASK = "********"
SECRET_WORDS = frozenset({"password", "passwd", "key", "token", "secret"})
OPTION_OF = {"store": "--store", "embedded.path": "--db", "log_level": "--log-level"}
FORMATS = ("toml", "yaml")

# The settings a starter file shows, per section ("" is the top level).
STARTER: dict[str, tuple[str, ...]] = {
    "": ("store", "log_level"),
    "embedded": ("path", "writer_timeout"),
    "arango": ("url", "database", "username", "password", "graph_name", "verify_tls"),
    "ingest": ("max_file_bytes", "json_text_field", "csv_text_column", "follow_external_links"),
    "chunking": ("max_tokens", "overlap_tokens"),
    "extraction": ("processes", "drop_types", "noun_phrases"),
    "resolution": ("enabled", "similarity_threshold", "acronyms"),
    "embedding": ("model_path", "batch_size", "precision"),
    "retrieval": ("mode", "top_k", "token_budget", "hops"),
    "answer": ("min_relevance",),
    "llm": ("base_url", "model", "api_key"),
}
# Values shown (commented out) for settings that have no default.
EXAMPLES = {
    "arango.url": "http://127.0.0.1:8529",
    "embedding.model_path": "models/all-MiniLM-L6-v2",
    "llm.base_url": "http://localhost:11434/v1",
    "llm.model": "llama3.1",
}


@dataclass(frozen=True)
class SettingRow:
    """One effective setting: dotted key, value (secrets masked), where it came from."""

    key: str
    value: Any
    source: str


def is_secret(key: str, value: object) -> bool:
    """Whether a value must not be shown (a SecretStr, or a password/key/token/secret)."""
    last = key.rsplit(".", 1)[-1].lower()
    return isinstance(value, SecretStr) or last.rsplit("_", 1)[-1] in SECRET_WORDS


def shown(key: str, value: Any) -> Any:
    """Return ``value`` as JSON data, with secrets masked (unset ones stay null/empty)."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if is_secret(key, value) and raw not in (None, ""):
        return MASK
    if isinstance(raw, Enum):
        return raw.value
    if isinstance(raw, Path):
        return str(raw)
    if isinstance(raw, list | tuple):
        return [shown(key, v) for v in raw]
    return raw


def describe(origin: Origin | None, key: str) -> str:
    """Return a value's source as people read it."""
    if origin is None:
        return "default"
    kind, detail = origin
    if kind == "command line":
        option = OPTION_OF.get(key)
        return f"command line ({option})" if option else "command line"
    if kind == "environment":
        return f"environment variable {detail}"
    if kind == ".env":
        return f".env ({detail})"
    return f"{kind} {detail}"


def _walk(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _walk(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def settings_rows(settings: Settings, origins: Mapping[str, Origin]) -> list[SettingRow]:
    """Return every effective value in section order, with its source."""
    return [
        SettingRow(key, shown(key, value), describe(origins.get(key), key))
        for key, value in _walk(settings)
    ]


def settings_payload(rows: list[SettingRow], config_file: Path | None) -> dict[str, Any]:
    """Return ``config show --json``: nested values, and the source of each dotted key."""
    nested: dict[str, Any] = {}
    for row in rows:
        *sections, last = row.key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[last] = row.value
    return {
        "config_file": None if config_file is None else str(config_file),
        "settings": nested,
        "sources": {row.key: row.source for row in rows},
    }


def settings_table(rows: list[SettingRow], config_file: Path | None) -> Table:
    """Return the effective settings as a table (setting, value, source)."""
    title = "Effective settings" + (f" (config file {config_file})" if config_file else "")
    table = Table(title=printable(title, one_line=True))
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    for row in rows:
        value = json.dumps(row.value, ensure_ascii=False)
        style = "dim" if row.source == "default" else ""
        table.add_row(row.key, printable(value, one_line=True), row.source, style=style)
    return table


# --- the starter file --------------------------------------------------------------------------


def _section_info(section: str) -> tuple[type[BaseModel], str]:
    if not section:
        return Settings, ""
    annotation = Settings.model_fields[section].annotation
    assert isinstance(annotation, type)
    assert issubclass(annotation, BaseModel)
    return annotation, (annotation.__doc__ or "").strip().splitlines()[0]


def _value_text(key: str, field: FieldInfo) -> tuple[str, bool]:
    """Return the rendered default of a field and whether the line is commented out."""
    default = field.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        return json.dumps(default.get_secret_value()), True
    if default is None:
        return json.dumps(EXAMPLES.get(key, "")), True
    value = shown(key, default)
    return json.dumps(value, ensure_ascii=False), is_secret(key, default)


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, 96 - len(indent))]


def _lines(section: str, keys: tuple[str, ...], fmt: str) -> list[str]:
    model, doc = _section_info(section)
    indent = "  " if section and fmt == "yaml" else ""
    body: list[str] = []
    live = False
    for name in keys:
        key = f"{section}.{name}" if section else name
        field = model.model_fields[name]
        text, commented = _value_text(key, field)
        live = live or not commented
        body += _comment(f"{field.description or name} [{variable(key)}]", indent)
        assign = f"{name}: {text}" if fmt == "yaml" else f"{name} = {text}"
        body.append(f"{indent}{'# ' if commented else ''}{assign}")
    if not section:
        return body
    if fmt == "toml":  # an empty table is valid: keep the header so uncommented keys land here
        return ["", *_comment(doc, ""), f"[{section}]", *body]
    # in YAML a section without keys would be null, so it stays commented out until one is set
    return ["", *_comment(doc, ""), ("" if live else "# ") + f"{section}:", *body]


def starter_text(fmt: str, name: str = "") -> str:
    """Return a commented starter settings file (``toml`` or ``yaml``), values at defaults.

    Args:
        fmt: ``toml`` or ``yaml``.
        name: The file's path, for the usage line (default ``graphrag.<fmt>``).
    """
    name = name or f"graphrag.{fmt}"
    lines = [
        f"# graphrag settings ({fmt.upper()}), written by `graphrag init`.",
        "# Every value below is the default: change what you need, delete the rest.",
        "# Commented-out settings have no default (or are secrets, which belong in the",
        "# environment). Precedence: command-line options > GRAPHRAG_* environment variables",
        "# > this file > .env > defaults. Every setting: docs/configuration.md.",
        f"# Use it: graphrag COMMAND --config {name}",
        f"#     or: export {CONFIG_FILE_VARIABLE}={name}",
        "",
    ]
    for section, keys in STARTER.items():
        lines += _lines(section, keys, fmt)
    return "\n".join(lines) + "\n"


def starter_path(path: Path | None, fmt: str | None) -> tuple[Path, str]:
    """Return the file ``graphrag init`` writes and its format.

    Raises:
        ConfigError: If the extension is not .toml/.yaml/.yml or contradicts ``fmt``.
    """
    if path is None or path.is_dir():
        chosen = fmt or "toml"
        return (path or Path()) / f"graphrag.{chosen}", chosen
    by_suffix = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix.lower())
    if by_suffix is None:
        msg = f"{path} must end in .toml, .yaml or .yml so that --config can read it"
        raise ConfigError(msg)
    if fmt is not None and fmt != by_suffix:
        msg = f"{path} ends in {path.suffix} but --format is {fmt}; make them agree"
        raise ConfigError(msg)
    return path, by_suffix


def write_starter(path: Path | None, fmt: str | None, *, force: bool = False) -> tuple[Path, str]:
    """Write the starter file; return its path and format.

    Raises:
        ConfigError: On a bad file name.
        GraphRAGError: If the file exists (without ``force``) or cannot be written.
    """
    target, chosen = starter_path(path, fmt)
    if target.exists() and not force:
        msg = f"{target} already exists; pass --force to overwrite it, or choose another path"
        raise GraphRAGError(msg)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(starter_text(chosen, str(target)), encoding="utf-8")
    except OSError as exc:
        msg = f"cannot write {target} ({exc.strerror or exc}); check the path"
        raise GraphRAGError(msg) from exc
    return target, chosen
