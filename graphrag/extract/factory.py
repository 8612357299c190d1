"""Build the configured extractor: ``spacy``, ``llm`` or ``tiered`` (``extraction.tier``).

Nothing is loaded or sent here: spaCy loads on the first extraction, and the chat model
makes no request until it is used (``await extractor.check()`` validates the endpoint).
"""

from __future__ import annotations

from graphrag.config import ExtractionTier, Settings
from graphrag.errors import ConfigError
from graphrag.extract.llm_extractor import ExtractionStats, LLMExtractor
from graphrag.extract.ontology import load_ontology
from graphrag.extract.tiered import TieredExtractor
from graphrag.llm.base import ChatModel
from graphrag.ports import Extractor


def build_extractor(settings: Settings, *, llm: ChatModel | None = None) -> Extractor:
    """Return the extractor of ``extraction.tier``.

    Args:
        settings: The settings (``extraction`` and, for the LLM tiers, ``llm``).
        llm: The chat model to use (default: :func:`graphrag.llm.make_chat_model` on
            ``settings``, with its own usage meter and the configured budget).

    Raises:
        ConfigError: If an LLM tier is chosen without an LLM configured, or its ontology
            (``extraction.ontology_path``) is missing or invalid.
    """
    extraction = settings.extraction
    if extraction.tier is ExtractionTier.SPACY:
        from graphrag.extract.spacy_extractor import SpacyExtractor

        return SpacyExtractor(extraction)
    ontology = load_ontology(extraction.ontology_path)
    if llm is None:
        from graphrag.llm.factory import make_chat_model

        llm = make_chat_model(settings)
    if llm is None:
        msg = (
            f"extraction.tier '{extraction.tier.value}' needs an LLM: set GRAPHRAG_LLM__BASE_URL "
            "and GRAPHRAG_LLM__MODEL (docs/llm.md), or GRAPHRAG_EXTRACTION__TIER=spacy"
        )
        raise ConfigError(msg)
    extractor = LLMExtractor(
        llm,
        ontology,
        extraction,
        temperature=settings.llm.temperature,
        concurrency=settings.llm.max_concurrency,
    )
    if extraction.tier is ExtractionTier.LLM:
        return extractor
    from graphrag.extract.spacy_extractor import SpacyExtractor

    return TieredExtractor(SpacyExtractor(extraction), extractor, extraction)


def llm_part(extractor: object) -> LLMExtractor | None:
    """The LLM extractor inside ``extractor`` (itself, or a tiered one's), else ``None``."""
    if isinstance(extractor, LLMExtractor):
        return extractor
    if isinstance(extractor, TieredExtractor):
        return extractor.llm
    return None


def llm_stats(extractor: object) -> ExtractionStats | None:
    """The LLM extraction statistics of ``extractor``, if it uses the LLM."""
    part = llm_part(extractor)
    return part.stats if part is not None else None
