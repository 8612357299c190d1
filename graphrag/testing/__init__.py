"""Test doubles that implement the ports (importable by tests, demos and offline runs)."""

from __future__ import annotations

from graphrag.testing.fakes import HashEmbedder, ScriptedChatModel

__all__ = ["HashEmbedder", "ScriptedChatModel"]
