"""Hostile-input fixtures: the CLI runs with the session's preloaded models (as in e2e)."""

from __future__ import annotations

from tests.e2e.conftest import _preloaded_components, analyzer, runner

__all__ = ["_preloaded_components", "analyzer", "runner"]
