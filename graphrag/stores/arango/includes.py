"""Whole-line includes of shared AQL fragments: ``// @include <name>`` in a query file.

A query file ``aql/<query>.aql`` may hold marker lines ``// @include <name>``. When the files
are loaded (:class:`graphrag.stores.arango.queries.Queries`), each marker line is replaced by
the text of ``aql/fragments/<name>.aql``, itself expanded the same way, between two comment
lines naming the fragment. The assembled text is what the server gets: plain AQL with bind
parameters only, spliced from the files at whole lines, so no Python code writes AQL.

The rules keep the assembly predictable: a name is ``[a-z0-9_]+`` (no paths); an unknown
fragment, a malformed marker, an include loop and a fragment included twice into one query
(its ``LET`` variables would be declared twice) raise :class:`~graphrag.errors.ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from graphrag.errors import ConfigError

FRAGMENTS = "fragments"
"""Subfolder of the AQL folder holding the fragments (``aql/fragments/<name>.aql``)."""

MARKER = re.compile(r"[ \t]*//[ \t]*@include\b(?P<rest>.*)")
"""A line that asks for an include (checked strictly by :data:`NAME`)."""

NAME = re.compile(r"[ \t]+(?P<name>[a-z0-9_]+)[ \t]*")
"""What must follow ``@include`` on a marker line: one fragment name."""


def marker_name(line: str, where: str) -> str | None:
    """Return the fragment a line includes, or ``None`` if it is no marker line.

    Args:
        line: One line of a query or fragment file.
        where: The file the line is in, for the error message.

    Raises:
        ConfigError: If the line starts with ``// @include`` but does not name one fragment.
    """
    marker = MARKER.fullmatch(line)
    if marker is None:
        return None
    named = NAME.fullmatch(marker.group("rest"))
    if named is None:
        msg = (
            f"malformed include line {line.strip()!r} in {where}: write "
            "'// @include <name>' to include aql/fragments/<name>.aql ([a-z0-9_] names)"
        )
        raise ConfigError(msg)
    return named.group("name")


def assemble(text: str, fragments: Mapping[str, str], origin: str) -> str:
    """Return ``text`` with every include line replaced by its (expanded) fragment.

    Args:
        text: The text of a query file.
        fragments: Fragment name to text (``aql/fragments/<name>.aql``).
        origin: The query file's name, e.g. ``retrieve_candidates.aql`` (for errors).

    Raises:
        ConfigError: On an unknown fragment, a malformed include line, an include loop or a
            fragment included twice into the same query.
    """
    return _expand(text, fragments, (origin,), set())


def _expand(text: str, fragments: Mapping[str, str], chain: tuple[str, ...], used: set[str]) -> str:
    out: list[str] = []
    for line in text.split("\n"):
        name = marker_name(line, f"aql/{chain[-1]}")
        if name is None:
            out.append(line)
            continue
        _check(name, fragments, chain, used)
        used.add(name)
        step = (*chain, f"{FRAGMENTS}/{name}.aql")
        body = _expand(fragments[name].rstrip("\n"), fragments, step, used)
        out += [f"// ---- begin {FRAGMENTS}/{name}.aql ----", body,
                f"// ---- end {FRAGMENTS}/{name}.aql ----"]  # fmt: skip
    return "\n".join(out)


def _check(name: str, fragments: Mapping[str, str], chain: tuple[str, ...], used: set[str]) -> None:
    """Refuse an unknown fragment, an include loop and a second copy of a fragment."""
    path = " -> ".join((*chain, f"{FRAGMENTS}/{name}.aql"))
    if name not in fragments:
        msg = (
            f"aql/{chain[-1]} includes aql/{FRAGMENTS}/{name}.aql, which does not exist "
            f"({path}); restore it from the repository or fix the include line"
        )
        raise ConfigError(msg)
    if f"{FRAGMENTS}/{name}.aql" in chain:
        raise ConfigError(f"AQL include loop: {path}")
    if name in used:
        msg = (
            f"aql/{FRAGMENTS}/{name}.aql is included twice into aql/{chain[0]} ({path}); its "
            "variables would be declared twice"
        )
        raise ConfigError(msg)
