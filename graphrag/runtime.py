"""Wiring: build the components an entry point needs from one :class:`Settings`.

Entry points (CLI, API, benchmarks, evaluation) call :func:`open_components` once and share
the result; models load lazily on first use, once per process. Tests pass preloaded models
(``embedder=``, ``extractor=``) so they load once per session.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from graphrag.answer.by_mode import ModeAnswerer
from graphrag.answer.extractive import ExtractiveAnswerer
from graphrag.answer.llm_answerer import LLMAnswerer
from graphrag.build import GraphBuilder
from graphrag.config import Settings
from graphrag.llm import CachedChatModel, ChatModel, UsageMeter, make_chat_model, make_llm_embedder
from graphrag.models import RetrievalMode
from graphrag.ports import Answerer, Chunker, Embedder, Extractor, GraphStore
from graphrag.retrieve.global_answer import GlobalAnswerer
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
    llm: ChatModel | None = None
    usage: UsageMeter | None = None

    async def close(self) -> None:
        """Release the store's connections (and the LLM cache)."""
        await self.store.close()
        if isinstance(self.llm, CachedChatModel):
            self.llm.cache.close()


def make_embedder(settings: Settings) -> Embedder:
    """Return the configured embedder (the model loads on first use).

    The bundled MiniLM unless ``llm.embedding_provider`` is ``openai``.
    """
    remote = make_llm_embedder(settings)
    if remote is not None:
        return remote
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding)


def make_extractor(settings: Settings, *, llm: ChatModel | None = None) -> Extractor:
    """Return the extractor of ``extraction.tier``: spacy, llm or tiered (lazy models).

    Args:
        settings: The configuration.
        llm: The chat model of the LLM tiers (default: one built from ``settings``, with its
            own usage meter; pass the components' model to share its meter).

    Raises:
        ConfigError: If an LLM tier is chosen without an LLM, or with a missing or invalid
            ontology (``extraction.ontology_path``).
    """
    from graphrag.extract.factory import build_extractor

    return build_extractor(settings, llm=llm)


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
    chat_model: ChatModel | None = None,
    check_llm: bool = False,
) -> Components:
    """Build and connect every component; the store schema is ensured.

    Args:
        settings: The configuration.
        embedder: A preloaded embedder to reuse (tests, long-lived processes).
        extractor: A preloaded extractor to reuse.
        analyzer: A preloaded question analyzer to reuse.
        chat_model: A chat model to use instead of the configured one (tests: a scripted
            model wrapped by :func:`graphrag.llm.make_chat_model`).
        check_llm: Make one cheap call to the configured LLM first, so a wrong URL, key or
            model fails at start-up (commands that use the LLM).

    Returns:
        The components; call :meth:`Components.close` when done.

    Raises:
        GraphRAGError: If the store cannot be opened or its schema does not match.
    """
    from graphrag.stores import create_store

    usage = UsageMeter.from_settings(settings.llm)
    llm = chat_model or make_chat_model(settings, meter=usage)
    if llm is not None and check_llm:
        await llm.check()
    embedder = embedder or make_embedder(settings)
    extractor = extractor or make_extractor(settings, llm=llm)  # one meter and budget per run
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
    answerer = make_answerer(settings, llm, embedder)
    return Components(
        settings=settings,
        store=store,
        embedder=embedder,
        extractor=extractor,
        chunker=chunker,
        builder=builder,
        retrieval=retrieval,
        answerer=answerer,
        llm=llm,
        usage=usage,
    )


def make_answerer(settings: Settings, llm: ChatModel | None, embedder: Embedder) -> ModeAnswerer:
    """The answerers: LLM or extractive for chunk modes, global search's for ``global``."""
    default: Answerer
    if llm is not None:
        default = LLMAnswerer(
            llm,
            max_tokens=settings.llm.max_tokens,
            temperature=settings.llm.temperature,
            context_tokens=settings.answer.context_tokens,
        )
    else:
        default = ExtractiveAnswerer(
            embedder,
            min_relevance=settings.answer.min_relevance,
            spacy_model=settings.extraction.spacy_model,
        )
    overview = GlobalAnswerer(
        llm,
        max_communities=settings.answer.global_communities,
        max_tokens=settings.llm.max_tokens,
        temperature=settings.llm.temperature,
        context_tokens=settings.answer.context_tokens,
    )
    return ModeAnswerer(default, {RetrievalMode.GLOBAL: overview})


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
    # httpx2: the fork some openai releases use; its INFO lines would land inside a streamed
    # answer on the terminal
    for noisy in ("httpx", "httpx2", "urllib3", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
