"""``graphrag ingest --dry-run``: what LLM extraction would cost, before anything runs.

:func:`dry_run` discovers, loads and chunks the inputs exactly as an ingest would, picks the
chunks the configured tier sends to the LLM (all of them for ``llm``; for ``tiered`` spaCy
runs locally to apply the rule; none for ``spacy``), builds each chunk's first prompt and
estimates the calls, prompt tokens, completion tokens and cost with
:func:`graphrag.llm.estimate_run`. Prompts whose reply is already in the LLM cache count as
free. No model is called, no store is opened, nothing is written.

Not counted: retries of malformed replies (each is one more call), and documents an ingest
would skip as unchanged (with the cache on, their prompts are usually cached: free anyway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrag.config import ExtractionTier, Settings
from graphrag.errors import IngestError
from graphrag.extract.llm_engines import Request, make_engine
from graphrag.extract.ontology import load_ontology
from graphrag.extract.tiered import select_chunks
from graphrag.llm.base import ChatMessage
from graphrag.llm.estimate import Estimate, Pricing, estimate_run, estimate_tokens
from graphrag.models import Chunk, Document
from graphrag.ports import Chunker, Extractor


@dataclass
class DryRunReport:
    """The expected work of an ingest.

    Attributes:
        tier: ``extraction.tier``.
        engine: ``extraction.llm_engine`` (``None`` for the spacy tier).
        model: ``llm.model`` (``None`` if no LLM is configured).
        files: Files found.
        documents: Documents loaded.
        chunks: Chunks.
        llm_chunks: Chunks the LLM would read.
        estimate: Calls, cached calls, tokens and cost of those chunks' first prompts.
        cache_checked: Whether the LLM cache was consulted (on, model set, file exists).
        failures: ``(input or file, reason)`` of what could not be found or loaded.
        seconds: Time the dry run took.
    """

    tier: str
    engine: str | None
    model: str | None
    files: int = 0
    documents: int = 0
    chunks: int = 0
    llm_chunks: int = 0
    estimate: Estimate = field(default_factory=lambda: Estimate(0, 0, 0, 0.0))
    cache_checked: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


async def dry_run(
    settings: Settings,
    inputs: Sequence[str | Path],
    *,
    recursive: bool = True,
    chunker: Chunker | None = None,
    spacy: Extractor | None = None,
    count: Callable[[str], int] = estimate_tokens,
) -> DryRunReport:
    """Estimate an ingest of ``inputs`` under ``settings`` without calling any model.

    Args:
        settings: The configuration (tier, ontology, engine, prices, cache).
        inputs: Files, folders or glob patterns, as for an ingest.
        recursive: Descend into sub-folders.
        chunker: The chunker (default: the configured one).
        spacy: The spaCy extractor for the ``tiered`` rule (default: a new one).
        count: Token estimator of one text (default: characters / 4).

    Raises:
        ConfigError: If the ontology of an LLM tier is missing or invalid.
    """
    start = time.perf_counter()
    extraction = settings.extraction
    tier = extraction.tier
    report = DryRunReport(
        tier=tier.value,
        engine=None if tier is ExtractionTier.SPACY else extraction.llm_engine,
        model=settings.llm.model,
    )
    documents = await asyncio.to_thread(_load, settings, inputs, recursive, report)
    chunks = await asyncio.to_thread(_chunk, settings, documents, chunker)
    report.documents, report.chunks = len(documents), len(chunks)
    if tier is not ExtractionTier.SPACY:
        picked = chunks if tier is ExtractionTier.LLM else await _picked(settings, chunks, spacy)
        _estimate(settings, picked, count, report)
    report.seconds = time.perf_counter() - start
    return report


def _estimate(
    settings: Settings, picked: list[Chunk], count: Callable[[str], int], report: DryRunReport
) -> None:
    """Estimate the first prompts of the ``picked`` chunks into ``report``."""
    extraction = settings.extraction
    ontology = load_ontology(extraction.ontology_path)
    request = Request(extraction.llm_max_tokens, settings.llm.temperature, extraction.llm_json_mode)
    engine = make_engine(extraction.llm_engine, ontology, request, strict=extraction.strict_mode)
    is_cached, close = _cache_check(settings, engine.request)
    report.cache_checked = is_cached is not None
    report.llm_chunks = len(picked)
    try:
        report.estimate = estimate_run(
            [engine.messages(chunk.text) for chunk in picked],
            pricing=Pricing(settings.llm.price_per_1k_prompt, settings.llm.price_per_1k_completion),
            completion_tokens_per_call=extraction.llm_completion_tokens,
            is_cached=is_cached,
            count=count,
        )
    finally:
        close()


def _load(
    settings: Settings, inputs: Sequence[str | Path], recursive: bool, report: DryRunReport
) -> list[Document]:
    from graphrag.ingest.loaders import load_file
    from graphrag.operations.ingest import discover_inputs

    paths, errors = discover_inputs(
        inputs, recursive=recursive, follow_external_links=settings.ingest.follow_external_links
    )
    report.files = len(paths)
    report.failures.extend(errors)
    documents: dict[str, Document] = {}
    for path in paths:
        try:
            loaded = load_file(path, settings.ingest)
        except IngestError as exc:
            report.failures.append((exc.path, exc.reason))
            continue
        except Exception as exc:  # as an ingest does: one bad file does not stop the others
            report.failures.append((str(path), f"unexpected {type(exc).__name__} while loading"))
            continue
        documents.update((d.id, d) for d in loaded)  # a repeated source: the last one wins
    return list(documents.values())


def _chunk(settings: Settings, documents: list[Document], chunker: Chunker | None) -> list[Chunk]:
    if chunker is None:
        from graphrag.runtime import make_chunker

        chunker = make_chunker(settings)
    return [c for doc in documents for c in chunker.chunk(doc.id, doc.text)]


async def _picked(settings: Settings, chunks: list[Chunk], spacy: Extractor | None) -> list[Chunk]:
    """The chunks the ``tiered`` rule sends to the LLM (spaCy runs locally to decide)."""
    if spacy is None:
        from graphrag.extract.spacy_extractor import SpacyExtractor

        spacy = SpacyExtractor(settings.extraction)
    found = await spacy.extract(chunks)
    extraction = settings.extraction
    indexes = select_chunks(
        chunks, found, min_entities=extraction.llm_min_entities, top_share=extraction.llm_top_share
    )
    return [chunks[i] for i in indexes]


def _cache_check(
    settings: Settings, request: Request
) -> tuple[Callable[[Sequence[ChatMessage]], bool] | None, Callable[[], None]]:
    """A test for "this prompt's reply is cached" (``None``: no cache to read), and a close."""
    llm = settings.llm
    if not llm.cache or not llm.model or not llm.cache_path.is_file():
        return None, lambda: None
    from graphrag.llm.cache import LLMCache, cache_key

    cache, model = LLMCache(llm.cache_path), llm.model

    def is_cached(messages: Sequence[ChatMessage]) -> bool:
        key = cache_key(
            model,
            messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            json_mode=request.json_mode,
        )
        return key in cache

    return is_cached, cache.close
