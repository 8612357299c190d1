"""Checks of the installation: another distribution that also installs ``graphrag``.

Microsoft's ``graphrag`` package installs a top-level ``graphrag`` package and a ``graphrag``
command, like this project does. Installed in the same environment, the two overwrite each
other's files and both break in confusing ways. Entry points call :func:`foreign_graphrag`
first and stop with a clear message; this project's command is also installed as
``arango-graphrag``, a name nothing else uses.
"""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "arango-graphrag-platform"
"""This project's distribution name."""


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def foreign_graphrag() -> str | None:
    """Return a message if another installed distribution provides the ``graphrag`` package.

    Returns:
        ``None`` when only this project provides it; else one line naming the other
        distribution (and its version) and what to do.
    """
    providers = metadata.packages_distributions().get("graphrag", [])
    others = sorted({p for p in providers if _normalise(p) != DISTRIBUTION})
    if not others:
        return None
    found = []
    for name in others:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(name)
    return (
        f"another package that installs `graphrag` is present in this environment "
        f"({', '.join(found)}, e.g. Microsoft GraphRAG); it overwrites this project's files "
        "and command. Install arango-graphrag-platform in its own virtual environment "
        "(bash scripts/setup.sh creates .venv) or `pip uninstall "
        f"{others[0]}` here"
    )
