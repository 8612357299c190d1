"""Graph store adapters and the factory that picks one from the settings."""

from __future__ import annotations

from graphrag.config import Settings, StoreKind
from graphrag.ports import GraphStore
from graphrag.stores.embedded import EmbeddedGraphStore

__all__ = ["EmbeddedGraphStore", "create_store"]


def create_store(settings: Settings) -> GraphStore:
    """Create the configured graph store (no I/O; call ``ensure_schema`` next).

    Args:
        settings: The settings; ``settings.store`` picks the backend.

    Returns:
        An :class:`EmbeddedGraphStore` on ``settings.embedded.path`` or an
        ``ArangoGraphStore`` built from ``settings.arango`` (imported only when chosen).
    """
    if settings.store is StoreKind.ARANGO:
        from graphrag.stores.arango.store import ArangoGraphStore

        store: GraphStore = ArangoGraphStore.from_settings(settings.arango)
        return store
    return EmbeddedGraphStore(
        settings.embedded.path, writer_timeout=settings.embedded.writer_timeout
    )
