"""GraphRAG on ArangoDB: build a knowledge graph from documents and answer with citations.

The public surface: configuration (:func:`load_settings`), the domain models, the ports and
the error tree. Adapters live in subpackages and are imported only when chosen.
"""

from graphrag.config import Settings, load_settings
from graphrag.errors import GraphRAGError

__all__ = ["GraphRAGError", "Settings", "load_settings"]
__version__ = "0.1.0"
