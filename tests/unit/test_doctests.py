"""The ``>>>`` examples in docstrings run, and every module that has them is listed here.

Examples that need a model, a store or an event loop are plain ```python blocks instead
(illustrations, not doctests); what is listed here runs offline in milliseconds.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOCTESTED = [
    "api.views",
    "graphrag.evaluation.answers",
    "graphrag.extract.types",
    "graphrag.ids",
    "graphrag.ingest.chunking",
    "graphrag.ingest.common",
    "graphrag.ingest.tokens",
    "graphrag.llm.cache",
    "graphrag.llm.chat_openai",
    "graphrag.llm.errors",
    "graphrag.llm.replies",
    "graphrag.llm.estimate",
    "graphrag.llm.retry",
    "graphrag.llm.scripted",
    "graphrag.resolution.keys",
    "graphrag.retrieve.fusion",
    "graphrag.retrieve.ppr",
    "graphrag.retrieve.seeds",
    "graphrag.stores.arango.generations",
    "graphrag.stores.arango.mapping",
    "graphrag.stores.embedded.index",
    "graphrag.testing.fakes",
    "pipelines.report",
    "pipelines.tune_space",
]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, report=False)
    assert result.attempted > 0, f"{name} has no >>> example; remove it from DOCTESTED"
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed (output above)"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_with_examples_is_doctested() -> None:
    with_examples = {
        _module_name(path)
        for package in ("graphrag", "pipelines", "api")
        for path in sorted((ROOT / package).rglob("*.py"))
        if ">>> " in path.read_text(encoding="utf-8")
    }
    assert with_examples == set(DOCTESTED)
