"""The embedded graph store: SQLite (WAL) + FTS5 + numpy vectors in one file."""

from __future__ import annotations

from graphrag.stores.embedded.store import EmbeddedGraphStore

__all__ = ["EmbeddedGraphStore"]
