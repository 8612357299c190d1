"""The real LLM endpoint of the opt-in integration suites, read from the environment.

Read at import: the suite's autouse fixture removes ``GRAPHRAG_`` variables before each test.
"""

from __future__ import annotations

import os

import pytest

BASE_URL = os.environ.get("GRAPHRAG_LLM__BASE_URL")
MODEL = os.environ.get("GRAPHRAG_LLM__MODEL", "gemma-3-270m")
API_KEY = os.environ.get("GRAPHRAG_LLM__API_KEY")
FOLD = os.environ.get("GRAPHRAG_LLM__FOLD_SYSTEM_PROMPT", "true")

needs_llm = pytest.mark.skipif(
    not BASE_URL,
    reason="needs an OpenAI-compatible server: set GRAPHRAG_LLM__BASE_URL (and "
    "GRAPHRAG_LLM__MODEL), e.g. after `bash scripts/llama_server.sh 18081` (docs/llm.md)",
)
"""Skips a suite, saying why, when no endpoint is configured."""
