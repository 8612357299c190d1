"""Wiring: build the components an entry point needs from one :class:`Settings`.

Entry points (CLI, API, benchmarks, evaluation) call :func:`open_components` once and share
the result; models load lazily on first use, once per process. Tests pass preloaded models
(``embedder=``, ``extractor=``) so they load once per session.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from graphrag.answer.extractive import ExtractiveAnswerer
from graphrag.build import GraphBuilder
from graphrag.config import ExtractionTier, Settings
from graphrag.errors import ConfigError
from graphrag.ports import Answerer, Chunker, Embedder, Extractor, GraphStore
from graphrag.retrieve.modes import RetrievalService
from graphrag.retrieve.question import QuestionAnalyzer

logger = logging.getLogger(__name__)


@dataclass
class Components:
    """Everything an entry point uses, built from one settings tree."""

    settings: Settings
    store: GraphStore
    embedder: Embedder
    extractor: Extractor
    chunker: Chunker
    builder: GraphBuilder
    retrieval: RetrievalService
    answerer: Answerer

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()


def make_embedder(settings: Settings) -> Embedder:
    """Return the configured embedder (the model loads on first use)."""
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding)


def make_extractor(settings: Settings) -> Extractor:
    """Return the configured extractor (the model loads on first use).

    Raises:
        ConfigError: If the LLM tier is chosen (it arrives with the LLM issue).
    """
    if settings.extraction.tier is ExtractionTier.LLM:
        msg = (
            "extraction.tier 'llm' is not available yet in this version; "
            "set GRAPHRAG_EXTRACTION__TIER=spacy"
        )
        raise ConfigError(msg)
    from graphrag.extract.spacy_extractor import SpacyExtractor

    return SpacyExtractor(settings.extraction)


def make_chunker(settings: Settings) -> Chunker:
    """Return the sentence chunker counting tokens with the embedding model's tokenizer."""
    from graphrag.embed import default_model_path
    from graphrag.ingest.chunking import SentenceChunker
    from graphrag.ingest.tokens import TokenCounter

    counter = TokenCounter(default_model_path(settings.embedding.model_path))
    return SentenceChunker(settings.chunking, counter)


async def open_components(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    extractor: Extractor | None = None,
    analyzer: QuestionAnalyzer | None = None,
) -> Components:
    """Build and connect every component; the store schema is ensured.

    Args:
        settings: The configuration.
        embedder: A preloaded embedder to reuse (tests, long-lived processes).
        extractor: A preloaded extractor to reuse.
        analyzer: A preloaded question analyzer to reuse.

    Returns:
        The components; call :meth:`Components.close` when done.

    Raises:
        GraphRAGError: If the store cannot be opened or its schema does not match.
    """
    from graphrag.stores import create_store

    embedder = embedder or make_embedder(settings)
    extractor = extractor or make_extractor(settings)
    store = create_store(settings)
    await store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
    chunker = make_chunker(settings)
    builder = GraphBuilder(
        store=store,
        embedder=embedder,
        extractor=extractor,
        chunker=chunker,
        resolution=settings.resolution,
        chunk_batch=settings.ingest.chunk_batch,
    )
    analyzer = analyzer or QuestionAnalyzer(settings.extraction)
    retrieval = RetrievalService(store, embedder, settings.retrieval, analyzer)
    answerer = ExtractiveAnswerer(embedder, min_relevance=settings.answer.min_relevance)
    return Components(
        settings=settings,
        store=store,
        embedder=embedder,
        extractor=extractor,
        chunker=chunker,
        builder=builder,
        retrieval=retrieval,
        answerer=answerer,
    )


def configure_logging(level: str) -> None:
    """Configure root logging for an entry point (never called by the library itself)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "\rLoading weights" bars
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "urllib3", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
