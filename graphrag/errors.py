"""One error tree for the whole library.

Every error the library raises on purpose derives from :class:`GraphRAGError` and carries a
message that names what was wrong and what to do about it. Bad input (settings, files,
questions, document graphs, dataset files) always raises one of these, never a bare
``ValueError``::

    GraphRAGError
    ├── ConfigError                 invalid or missing configuration
    ├── InvalidArgumentError        an argument out of range (also a ``ValueError``)
    ├── IngestError                 a file could not be loaded (carries ``path`` and ``reason``)
    ├── ExtractionError             entity/relation extraction failed
    ├── EmbeddingError              the embedding model could not load or run
    ├── StoreError                  anything the graph store reports
    │   ├── StoreUnavailableError   the store cannot be reached / opened
    │   ├── StoreAuthError          wrong credentials or missing permission
    │   ├── SchemaError             schema missing, outdated or incompatible
    │   ├── NotFoundError           a document/entity/merge id that does not exist
    │   └── StoreQueryError         a query or write failed on the server side
    │       └── InvalidGraphError   a document graph to write is invalid (nothing written)
    ├── RetrievalError
    │   └── InvalidQueryError       an empty or too long question, an unknown mode
    ├── LLMError                    the configured chat model failed
    └── EvaluationError             a dataset file has the wrong format
"""

from __future__ import annotations


class GraphRAGError(Exception):
    """Base class of every error raised by the library on purpose."""


class ConfigError(GraphRAGError):
    """The configuration is invalid or incomplete."""


class InvalidArgumentError(GraphRAGError, ValueError):
    """An argument passed to a library function or class is out of range.

    Also a :class:`ValueError`, so callers that catch ``ValueError`` keep working.
    """


class IngestError(GraphRAGError):
    """A single input file could not be loaded.

    Attributes:
        path: The file that failed.
        reason: A one-line explanation of what was wrong and what to do.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ExtractionError(GraphRAGError):
    """Entity or relation extraction failed."""


class EmbeddingError(GraphRAGError):
    """The embedding model could not be loaded or run."""


class StoreError(GraphRAGError):
    """Base class of graph store errors."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or opened."""


class StoreAuthError(StoreError):
    """The store rejected the credentials or the user lacks a permission."""


class SchemaError(StoreError):
    """The store schema is missing, outdated or incompatible with this version."""


class NotFoundError(StoreError):
    """A requested object does not exist in the store."""


class StoreQueryError(StoreError):
    """A query or write failed inside the store."""


class InvalidGraphError(StoreQueryError):
    """A document graph handed to a store is invalid; nothing of that document was written.

    For example a chunk of another document, a vector of the wrong dimension, a mention of an
    entity the graph does not hold. A subclass of :class:`StoreQueryError`, so callers that
    catch write failures keep working.
    """


class RetrievalError(GraphRAGError):
    """Retrieval failed."""


class InvalidQueryError(RetrievalError):
    """The question or the retrieval request is invalid (empty, too long, unknown mode)."""


class LLMError(GraphRAGError):
    """The configured chat model failed or returned unusable output."""


class EvaluationError(GraphRAGError):
    """An evaluation dataset could not be read."""
