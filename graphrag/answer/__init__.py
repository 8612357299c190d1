"""Answers with citations; the extractive answerer runs when no LLM is configured."""

from __future__ import annotations

from graphrag.answer.extractive import ExtractiveAnswerer

__all__ = ["ExtractiveAnswerer"]
