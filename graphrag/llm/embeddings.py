"""An optional :class:`~graphrag.ports.Embedder` over an OpenAI-compatible ``/embeddings`` API.

Chosen with ``llm.embedding_provider = "openai"`` (the default stays the bundled MiniLM). It
uses langchain-openai's ``OpenAIEmbeddings`` with ``check_embedding_ctx_length=False``: the
texts are sent as they are (no tiktoken, which would fetch its encodings from the network,
and which only fits OpenAI's own models). The chunker's token limit applies as usual.
Retries are the ``openai`` client's own (``llm.max_retries``: exponential backoff on 429, 5xx
and connection errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import SecretStr

from graphrag.config import LLMSettings
from graphrag.errors import ConfigError, EmbeddingError
from graphrag.llm.chat_openai import NO_KEY, map_openai_error
from graphrag.llm.errors import hide_in_http_logs, url_secrets
from graphrag.models import Vector
from graphrag.ports import EmbedKind

if TYPE_CHECKING:
    from langchain_openai import OpenAIEmbeddings


class OpenAIEmbedder:
    """Embeds texts with an OpenAI-compatible embeddings endpoint (L2-normalised float32).

    Args:
        settings: The ``llm`` settings (``embedding_model``, ``embedding_dim`` and
            ``embedding_base_url`` or ``base_url`` must be set).
        client: A prebuilt ``OpenAIEmbeddings`` to use instead (tests).

    Raises:
        ConfigError: If a required setting is missing.
    """

    def __init__(self, settings: LLMSettings, *, client: OpenAIEmbeddings | None = None) -> None:
        base_url = settings.embedding_base_url or settings.base_url
        if not (settings.embedding_model and settings.embedding_dim and base_url):
            msg = (
                "the openai embeddings provider needs GRAPHRAG_LLM__EMBEDDING_MODEL, "
                "GRAPHRAG_LLM__EMBEDDING_DIM and GRAPHRAG_LLM__EMBEDDING_BASE_URL (or "
                "GRAPHRAG_LLM__BASE_URL)"
            )
            raise ConfigError(msg)
        self._settings = settings
        self._base_url = base_url
        self._model = settings.embedding_model
        self._dim = settings.embedding_dim
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self._secrets = (*((key,) if key else ()), *url_secrets(base_url))
        hide_in_http_logs(url_secrets(base_url))
        self._client = client or self._build()

    def _build(self) -> OpenAIEmbeddings:
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=self._model,
            openai_api_base=self._base_url,
            openai_api_key=self._settings.api_key or SecretStr(NO_KEY),
            request_timeout=self._settings.timeout,
            max_retries=self._settings.max_retries,
            chunk_size=self._settings.embedding_batch_size,
            check_embedding_ctx_length=False,
        )

    @property
    def model_name(self) -> str:
        """The embedding model's name (recorded in the store)."""
        return self._model

    @property
    def dim(self) -> int:
        """The configured vector dimension."""
        return self._dim

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> Vector:
        """Embed ``texts`` (any ``kind``: the endpoint has one mode).

        Returns:
            An array of shape ``(len(texts), dim)``, float32, rows of unit length.

        Raises:
            EmbeddingError: If the endpoint fails or returns vectors of another dimension.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        inputs = [text if text.strip() else " " for text in texts]
        error: EmbeddingError | None = None
        try:
            rows = await self._client.aembed_documents(inputs)
        except Exception as exc:
            mapped = map_openai_error(
                exc, base_url=self._base_url, model=self._model,
                timeout=self._settings.timeout, secret=self._secrets,
                model_setting="EMBEDDING_MODEL", url_setting="EMBEDDING_BASE_URL",
            )  # fmt: skip
            error = EmbeddingError(str(mapped))
        if error is not None:  # outside the except block: the provider's error (may echo
            raise error from None  # the key) is neither __cause__ nor __context__
        matrix = np.asarray(rows, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape != (len(texts), self._dim):
            msg = (
                f"the embeddings endpoint returned vectors of shape {matrix.shape} for "
                f"{len(texts)} texts, expected dimension {self._dim}; set "
                "GRAPHRAG_LLM__EMBEDDING_DIM to the model's dimension"
            )
            raise EmbeddingError(msg)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)
