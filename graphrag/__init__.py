"""GraphRAG on ArangoDB: build a knowledge graph from documents and answer with citations.

Exported here: the settings (:class:`Settings`, :func:`load_settings`), the base of the
error tree (:class:`GraphRAGError`) and the version. Models, ports and adapters are imported
from their modules (``graphrag.models``, ``graphrag.ports``, ``graphrag.stores``...).
"""

from graphrag.config import Settings, load_settings, version
from graphrag.errors import GraphRAGError

__all__ = ["GraphRAGError", "Settings", "__version__", "load_settings"]
__version__ = version()
