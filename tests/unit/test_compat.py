"""Detection of another distribution that installs the ``graphrag`` package."""

from __future__ import annotations

from importlib import metadata

import pytest

from graphrag import compat


def test_only_this_project_provides_graphrag() -> None:
    assert compat.foreign_graphrag() is None


def test_microsoft_graphrag_beside_it_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        metadata,
        "packages_distributions",
        lambda: {"graphrag": ["arango-graphrag-platform", "graphrag"]},
    )
    monkeypatch.setattr(metadata, "version", lambda name: "2.7.0")
    message = compat.foreign_graphrag()
    assert message is not None
    assert "graphrag 2.7.0" in message
    assert "own virtual environment" in message
    assert "pip uninstall graphrag" in message
