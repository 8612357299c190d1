"""Ingestion: discover input files, load them into documents, chunk and count tokens.

Example:
    ```python
    from graphrag.config import Settings
    from graphrag.ingest import SentenceChunker, TokenCounter, discover, load_file

    settings = Settings()
    paths, errors = discover(["docs/"])
    documents = [d for p in paths for d in load_file(p, settings.ingest)]
    chunker = SentenceChunker(settings.chunking, TokenCounter())
    chunks = chunker.chunk(documents[0].id, documents[0].text)
    ```
"""

from __future__ import annotations

from graphrag.ingest.chunking import SentenceChunker
from graphrag.ingest.discover import discover
from graphrag.ingest.loaders import SUPPORTED_EXTENSIONS, load_file, normalize_text
from graphrag.ingest.tokens import RegexTokenCounter, TokenCounter, TokenCounterLike

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "RegexTokenCounter",
    "SentenceChunker",
    "TokenCounter",
    "TokenCounterLike",
    "discover",
    "load_file",
    "normalize_text",
]
