"""``GraphRAG.answer_stream`` and ``graphrag query`` with and without an LLM.

The facade runs over stand-in components (a fixed context, the real answerers), so these
tests need no store and no model.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrag.answer import LLMAnswerer, word_pieces
from graphrag.answer.extractive import ExtractiveAnswerer
from graphrag.answer.streaming import AnswerStream
from graphrag.config import load_settings
from graphrag.errors import InvalidQueryError
from graphrag.facade import GraphRAG
from graphrag.models import AnswerKind, RetrievalMode, RetrievedContext
from tests.unit.answer.llm_helpers import context, scripted_stack

QUESTION = "Where did Tomas Brennick study?"
REPLY = "Tomas Brennick studied at the Velmora Polytechnic Institute [2][8]."


class FixedRetrieval:
    """Returns the same context for every question, recording the calls."""

    def __init__(self, found: RetrievedContext) -> None:
        self.found = found
        self.calls: list[tuple[str, RetrievalMode, int]] = []

    async def retrieve(self, question: str, *, mode: RetrievalMode, top_k: int) -> Any:
        self.calls.append((question, mode, top_k))
        return self.found.model_copy(update={"question": question, "mode": mode})


def components(answerer: Any, llm: Any = None) -> Any:
    async def close() -> None:
        return None

    return SimpleNamespace(
        settings=load_settings(),
        retrieval=FixedRetrieval(context()),
        answerer=answerer,
        llm=llm,
        close=close,
    )


async def test_with_an_llm_the_pieces_are_the_models_tokens() -> None:
    model, inner = scripted_stack([REPLY])
    rag = GraphRAG(components(LLMAnswerer(model), model))
    stream = await rag.answer_stream(QUESTION, mode="bm25", top_k=3)

    assert isinstance(stream, AnswerStream)
    assert stream.live is True
    assert stream.context.mode is RetrievalMode.BM25
    assert len(stream.context.chunks) == 3
    assert inner.calls == []  # nothing is asked before the stream is read
    pieces = [piece async for piece in stream]
    answer = stream.answer
    assert "".join(pieces) == answer.text
    assert answer.text == "Tomas Brennick studied at the Velmora Polytechnic Institute [2]."
    assert answer.kind is AnswerKind.GENERATED
    assert answer.context == stream.context
    assert any("[8]" in note for note in answer.notes)
    assert rag.components.retrieval.calls == [(QUESTION, RetrievalMode.BM25, 3)]


async def test_without_an_llm_the_extractive_answer_streams_in_word_pieces(
    hash_embedder: Any,
) -> None:
    rag = GraphRAG(components(ExtractiveAnswerer(hash_embedder, min_relevance=0.0)))
    stream = await rag.answer_stream(QUESTION)

    assert stream.live is False
    assert not stream.done
    pieces = [piece async for piece in stream]
    answer = stream.answer
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert pieces == word_pieces(answer.text)
    assert answer.citations
    assert answer.context is not None
    assert await stream.collect() is answer
    plain = await rag.answer(QUESTION)
    assert plain.text == answer.text


async def test_a_bad_question_is_refused_before_streaming(hash_embedder: Any) -> None:
    rag = GraphRAG(components(ExtractiveAnswerer(hash_embedder)))
    with pytest.raises(InvalidQueryError):
        await rag.answer_stream("   ")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_embedder: Any) -> Any:
    """Run ``graphrag query`` over stand-in components (with a scripted LLM when asked)."""
    import pipelines.cli_common as cli_common
    from pipelines.cli import app

    db = tmp_path / "graph.db"
    db.write_bytes(b"not empty")  # the command checks that the store file exists
    chosen: dict[str, Any] = {}

    async def opener(settings: Any) -> Any:
        return chosen["components"]

    monkeypatch.setattr(cli_common, "open_components", opener)

    def run(*args: str, llm: bool) -> Any:
        if llm:
            model, _ = scripted_stack([REPLY])
            chosen["components"] = components(LLMAnswerer(model), model)
        else:
            chosen["components"] = components(ExtractiveAnswerer(hash_embedder, min_relevance=0))
        return CliRunner().invoke(app, ["query", QUESTION, "--db", str(db), *args])

    return run


def test_query_shows_the_llm_answer_then_its_checked_citations(cli: Any) -> None:
    result = cli(llm=True)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Q: {QUESTION}" in out
    assert (
        "A (LLM, mode ppr): Tomas Brennick studied at the Velmora Polytechnic Institute [2].\n"
        in out
    )
    assert "note: Removed citation(s) [8]" in out
    assert "[2] Doc 2 (/docs/2.txt) chunk c_2" in out
    assert "“He studied at the Velmora Polytechnic Institute.”" in out
    assert "usage: " in out
    assert "answer timings: prompt" in out
    assert out.index("A (LLM") < out.index("[2] Doc 2") < out.index("Context (3 chunks")


def test_query_json_with_an_llm_prints_the_generated_answer(cli: Any) -> None:
    import json

    result = cli("--json", llm=True)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["kind"] == "generated"
    assert answer["usage"]["model"] == "scripted"
    assert [c["marker"] for c in answer["citations"]] == [2]


def test_query_without_an_llm_prints_as_before(cli: Any) -> None:
    result = cli(llm=False)
    assert result.exit_code == 0, result.output
    assert "(extractive, mode ppr)" in result.output
    assert "usage: " not in result.output


def test_query_with_an_unusable_llm_fails_at_start_up_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.cli_common as cli_common
    from graphrag.llm import LLMConfigError, ScriptedChatModel
    from pipelines.cli import app

    db = tmp_path / "graph.db"
    db.write_bytes(b"not empty")
    wrong = LLMConfigError("the endpoint refused the API key (401): set GRAPHRAG_LLM__API_KEY")
    model = ScriptedChatModel([REPLY], check_error=wrong)

    async def opener(settings: Any) -> Any:
        return components(LLMAnswerer(model), model)

    monkeypatch.setattr(cli_common, "open_components", opener)
    result = CliRunner().invoke(app, ["query", QUESTION, "--db", str(db)])

    assert result.exit_code != 0
    assert "GRAPHRAG_LLM__API_KEY" in result.output
    assert "Traceback" not in result.output
    assert model.calls == []  # nothing was retrieved or asked: the check failed first
