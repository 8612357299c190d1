"""Answers with citations; the extractive answerer runs when no LLM is configured."""

from __future__ import annotations

from graphrag.answer.extractive import NO_PASSAGES_TEXT, ExtractiveAnswerer, abstained
from graphrag.answer.relevance import DEFAULT_MIN_RELEVANCE, Relevance

__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "NO_PASSAGES_TEXT",
    "ExtractiveAnswerer",
    "Relevance",
    "abstained",
]
