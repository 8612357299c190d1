"""Where settings come from: the config-file sources, value provenance and error messages.

:mod:`graphrag.config` plugs these into pydantic-settings: the TOML and YAML files are read by
pydantic-settings' own :class:`~pydantic_settings.TomlConfigSettingsSource` and
:class:`~pydantic_settings.YamlConfigSettingsSource` (subclassed here only so that a broken
file becomes a :class:`~graphrag.errors.ConfigError` naming the file).
:func:`value_sources` tells, for every explicitly set value, which source set it (for error
messages and ``graphrag config show``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from graphrag.errors import ConfigError

CONFIG_FILE_VARIABLE = "GRAPHRAG_CONFIG_FILE"
"""The variable naming a config file (not a setting itself; read by ``load_settings``)."""

CONFIG_SUFFIXES = (".toml", ".yaml", ".yml")
ENV_PREFIX = "GRAPHRAG_"

Origin = tuple[str, str]
"""Where a value came from: ``(kind, detail)``. Kinds: ``command line``, ``environment``,
``config file``, ``.env``; the detail is the variable name or the file path."""


def _checked(path: Path, read: Callable[[], Any], kind: str) -> dict[str, Any]:
    """Run ``read``; turn every way a config file can be unreadable into a ConfigError."""
    try:
        data = read()
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        msg = f"config file {path} is not valid {kind}: {exc}; fix the file"
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = (
            f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "re-save it as UTF-8"
        )
        raise ConfigError(msg) from exc
    except OSError as exc:
        msg = f"cannot read config file {path} ({exc.strerror or exc}); check its permissions"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        msg = (
            f"config file {path} must hold a mapping of settings at the top level, not a "
            f"{type(data).__name__}; see docs/configuration.md for an example"
        )
        raise ConfigError(msg)
    return data


class TomlFileSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source; a broken file raises a ConfigError naming it."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        parent = super()._read_file
        return _checked(Path(str(file_path)), lambda: parent(file_path), "TOML")


class YamlFileSource(YamlConfigSettingsSource):
    """pydantic-settings' YAML source; a broken file raises a ConfigError naming it."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        parent = super()._read_file
        return _checked(Path(str(file_path)), lambda: parent(file_path), "YAML")


def config_file_path(config_file: Path | str | None = None) -> Path | None:
    """Return the config file to read: ``config_file``, else ``$GRAPHRAG_CONFIG_FILE``."""
    chosen = config_file or os.environ.get(CONFIG_FILE_VARIABLE)
    return Path(chosen).expanduser() if chosen else None


def check_config_file(path: Path) -> Path:
    """Return ``path`` if it can be a config file.

    Raises:
        ConfigError: If the path does not exist, is not a file or has another extension.
    """
    if not path.exists():
        msg = (
            f"config file {path} does not exist; fix the path (--config) or unset "
            f"{CONFIG_FILE_VARIABLE}"
        )
        raise ConfigError(msg)
    if not path.is_file():
        msg = f"config file {path} is not a file; pass the path of a .toml or .yaml file"
        raise ConfigError(msg)
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        msg = f"config file {path} must end in .toml, .yaml or .yml (TOML or YAML)"
        raise ConfigError(msg)
    return path


def config_file_source(
    settings_cls: type[BaseSettings], path: Path | None
) -> PydanticBaseSettingsSource | None:
    """Return the TOML or YAML source reading ``path`` (``None`` without a file).

    Raises:
        ConfigError: If the file is missing, unreadable, not valid TOML/YAML or not a mapping.
    """
    if path is None:
        return None
    check_config_file(path)
    if path.suffix.lower() == ".toml":
        return TomlFileSource(settings_cls, toml_file=path)
    return YamlFileSource(settings_cls, yaml_file=path)


def variable(key: str) -> str:
    """Return the environment variable of a dotted key (``retrieval.top_k`` -> ``GRAPHRAG_...``)."""
    return ENV_PREFIX + key.replace(".", "__").upper()


def _leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        dotted = f"{prefix}{str(key).lower()}"
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, dotted + ".")
        else:
            yield dotted


def value_sources(
    settings_cls: type[BaseSettings], path: Path | None, overrides: Mapping[str, Any]
) -> dict[str, Origin]:
    """Return where each explicitly set value comes from, by dotted key (defaults absent).

    The sources are asked in priority order; a key takes the origin of the first that sets it.

    Raises:
        ConfigError: If the config file cannot be read.
    """
    layers: list[tuple[str, PydanticBaseSettingsSource | None]] = [
        ("command line", InitSettingsSource(settings_cls, init_kwargs=dict(overrides))),
        ("environment", EnvSettingsSource(settings_cls)),
        ("config file", config_file_source(settings_cls, path)),
        (".env", DotEnvSettingsSource(settings_cls)),
    ]
    found: dict[str, Origin] = {}
    for kind, source in layers:
        if source is None:
            continue
        try:
            data = source()
        except SettingsError:  # an unparsable value: load_settings reports it
            continue
        for key in _leaves(data):
            detail = str(path) if kind == "config file" else ""
            if kind in ("environment", ".env"):
                detail = variable(key)
            found.setdefault(key, (kind, detail))
    return found


def _origin_of(key: str, sources: Mapping[str, Origin]) -> Origin | None:
    if key in sources:
        return sources[key]
    inside = [origin for name, origin in sources.items() if name.startswith(f"{key}.")]
    return inside[0] if inside else None


def _fix(key: str, origin: Origin | None) -> str:
    kind, detail = origin or ("", "")
    if kind == "config file":
        return f"; fix {key or 'it'} in config file {detail}"
    if kind == "environment":
        return f"; fix the environment variable {detail}"
    if kind == ".env":
        return f"; fix {detail} in .env"
    if kind == "command line":
        return f"; fix the command-line option (the variable is {variable(key)})"
    return f"; set {variable(key)}" if key else ""


def _section_keys(settings_cls: type[BaseModel], loc: Sequence[str]) -> list[str]:
    """Return the valid keys of the section that holds ``loc``'s last part."""
    model = settings_cls
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return list(model.model_fields)


def _unknown_key(settings_cls: type[BaseModel], loc: Sequence[str], origin: Origin | None) -> str:
    valid = _section_keys(settings_cls, loc)
    close = difflib.get_close_matches(loc[-1], valid, n=1)
    kind, detail = origin or ("", "")
    where = {
        "config file": f" in config file {detail}",
        "environment": f" from the environment variable {detail}",
        ".env": f" from {detail} in .env",
    }.get(kind, "")
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"  {'.'.join(loc)}: unknown setting{where}; {hint}valid keys: {', '.join(valid)}"


def format_validation_error(
    exc: ValidationError,
    settings_cls: type[BaseModel],
    sources: Mapping[str, Origin] | None = None,
) -> str:
    """Render a validation error: one line per problem, naming where to fix it.

    Args:
        exc: The error.
        settings_cls: The settings class that was validated (for the valid keys).
        sources: Where the explicitly set values came from (:func:`value_sources`).
    """
    lines = ["invalid configuration:"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        origin = _origin_of(key, sources or {})
        if err["type"] == "extra_forbidden" and loc:
            lines.append(_unknown_key(settings_cls, loc, origin))
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"  {key or 'settings'}: {err['msg']}{shown}{_fix(key, origin)}")
    return "\n".join(lines)
