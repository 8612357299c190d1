"""Answers with citations.

- :class:`ExtractiveAnswerer` (no LLM configured): the best supporting sentences, quoted.
- :class:`LLMAnswerer` (an LLM configured): the chat model answers from the context only,
  citing its numbered sources; citations are checked, unknown ones removed and reported.
- :class:`AnswerStream`: an answer streamed as text pieces, then the final answer.
"""

from __future__ import annotations

from graphrag.answer.citations import CheckedText, CitationFilter, check_citations
from graphrag.answer.extractive import NO_PASSAGES_TEXT, ExtractiveAnswerer, abstained
from graphrag.answer.llm_answerer import LLMAnswerer
from graphrag.answer.prompts import NOT_SUPPORTED, build_prompt, is_not_supported
from graphrag.answer.relevance import DEFAULT_MIN_RELEVANCE, Relevance
from graphrag.answer.streaming import AnswerStream, StreamingAnswerer, word_pieces

__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "NOT_SUPPORTED",
    "NO_PASSAGES_TEXT",
    "AnswerStream",
    "CheckedText",
    "CitationFilter",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "Relevance",
    "StreamingAnswerer",
    "abstained",
    "build_prompt",
    "check_citations",
    "is_not_supported",
    "word_pieces",
]
