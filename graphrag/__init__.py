"""GraphRAG on ArangoDB: build a knowledge graph from documents and answer with citations.

Exported here: the facade :class:`GraphRAG` (the whole product behind one object), the
settings (:class:`Settings`, :func:`load_settings`), the base of the error tree
(:class:`GraphRAGError`) and the version. Models, ports and adapters are imported from their
modules (``graphrag.models``, ``graphrag.ports``, ``graphrag.stores``...).

``GraphRAG`` is imported on first use, so ``import graphrag`` stays light (no models, no
networkx) for the CLI's start-up.
"""

from typing import TYPE_CHECKING, Any

from graphrag.config import Settings, load_settings, version
from graphrag.errors import GraphRAGError

if TYPE_CHECKING:
    from graphrag.facade import GraphRAG

__all__ = ["GraphRAG", "GraphRAGError", "Settings", "__version__", "load_settings"]
__version__ = version()


def __getattr__(name: str) -> Any:
    if name == "GraphRAG":
        from graphrag.facade import GraphRAG

        return GraphRAG
    msg = f"module 'graphrag' has no attribute {name!r}"
    raise AttributeError(msg)
