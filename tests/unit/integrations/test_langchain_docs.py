"""The examples of docs/langchain.md run as written, against a store of the sample corpus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the llm extra (langchain-core) is not installed")

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from graphrag.config import Settings
from graphrag.facade import GraphRAG

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[3] / "docs" / "langchain.md"
TESTED = re.compile(r"<!-- tested: [^>]*-->\n```python\n(.*?)\n```", re.DOTALL)


def _tested_blocks() -> list[str]:
    return TESTED.findall(DOC.read_text(encoding="utf-8"))


@pytest.fixture
def docs_env(
    sample_store: Settings, embedder: Any, extractor: Any, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Point the default settings at the sample store; share the session models; record prompts.

    Returns:
        The prompts the scripted chat model received.
    """
    monkeypatch.setenv("GRAPHRAG_EMBEDDED__PATH", str(sample_store.embedded.path))
    original_open = GraphRAG.open.__func__  # type: ignore[attr-defined]

    async def open_with_session_models(cls: type[GraphRAG], settings: Any = None, **kw: Any) -> Any:
        kw["embedder"] = kw.get("embedder") or embedder
        kw["extractor"] = kw.get("extractor") or extractor
        return await original_open(cls, settings, **kw)

    monkeypatch.setattr(GraphRAG, "open", classmethod(open_with_session_models))
    prompts: list[str] = []
    original_call = FakeListChatModel._call

    def recording_call(self: FakeListChatModel, messages: Any, *args: Any, **kwargs: Any) -> str:
        prompts.append("\n".join(str(m.content) for m in messages))
        return original_call(self, messages, *args, **kwargs)

    monkeypatch.setattr(FakeListChatModel, "_call", recording_call)
    return prompts


def test_the_doc_has_the_tested_examples() -> None:
    blocks = _tested_blocks()
    assert len(blocks) == 2
    assert "FakeListChatModel" in blocks[0]
    assert "afrom_settings" in blocks[1]


def test_the_lcel_chain_example_runs(
    docs_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = _tested_blocks()[0]
    exec(compile(code, f"{DOC}:lcel-example", "exec"), {"__name__": "__docs__"})

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Brennick & Vale Engineering built it [1]."
    sources = lines[1:]
    assert len(sources) == 4
    assert any("c_" in line and "Lantern Bridge" in line for line in sources)
    # the model saw the instructions, the numbered context from the graph and the question
    assert len(docs_env) == 1
    prompt = docs_env[0]
    assert "cite it as [n]" in prompt
    assert "[1] " in prompt
    assert "[4] " in prompt
    assert "Brennick & Vale built the Lantern Bridge" in prompt
    assert prompt.rstrip().endswith("Question: Who built the Lantern Bridge?")


async def test_the_async_example_runs(docs_env: list[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(_tested_blocks()[1], f"{DOC}:async-example", "exec"), namespace)
    found = await namespace["sources"]("Who built the Lantern Bridge?")
    assert len(found) == 3
    assert any(source.endswith("brennick_vale.txt") for source in found)
