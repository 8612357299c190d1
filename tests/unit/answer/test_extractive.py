from __future__ import annotations

from typing import Any

import pytest

from graphrag.answer.extractive import (
    EXTRACTIVE_NOTE,
    NO_PASSAGES_TEXT,
    ExtractiveAnswerer,
    split_sentences,
)
from graphrag.models import AnswerKind, RetrievalMode, RetrievedContext, ScoredChunk


def scored(i: int, text: str) -> ScoredChunk:
    return ScoredChunk(
        id=f"c_{i}",
        document_id=f"d_{i}",
        source=f"/docs/{i}.txt",
        title=f"Doc {i}",
        ordinal=0,
        text=text,
        score=1.0 - i / 10,
        token_count=len(text.split()),
    )


def context(*chunks: ScoredChunk) -> RetrievedContext:
    return RetrievedContext(question="q", mode=RetrievalMode.HYBRID, chunks=list(chunks))


def test_split_sentences_keeps_offsets_and_abbreviations() -> None:
    text = (
        "Dr. J. Smith lived in St. Louis. He moved in 1990! Did he stay?\nTitle line\n\n  Last one."
    )
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Dr. J. Smith lived in St. Louis.",
        "He moved in 1990!",
        "Did he stay?",
        "Title line",
        "Last one.",
    ]
    for s in sentences:
        assert text[s.start : s.end] == s.text


def test_split_sentences_does_not_break_before_lower_case() -> None:
    assert [s.text for s in split_sentences("It cost approx. ten dollars. Fine.")] == [
        "It cost approx. ten dollars.",
        "Fine.",
    ]
    assert split_sentences("   ") == []


async def test_no_chunks_gives_no_passages_answer(hash_embedder: Any) -> None:
    answer = await ExtractiveAnswerer(hash_embedder).answer("Who?", context())
    assert answer.text == NO_PASSAGES_TEXT
    assert answer.citations == []
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.mode is RetrievalMode.HYBRID


def test_max_sentences_must_be_positive(hash_embedder: Any) -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        ExtractiveAnswerer(hash_embedder, max_sentences=0)


@pytest.mark.slow
async def test_answer_quotes_the_most_relevant_sentences(embedder: Any) -> None:
    chunks = [
        scored(
            0,
            "Tickets for the tower can be bought online. The Eiffel Tower was designed by the "
            "engineering company of Gustave Eiffel. It opened in 1889.",
        ),
        scored(1, "Paris is the capital of France. The city hosts many museums and galleries."),
        scored(2, "Bananas are rich in potassium and grow in tropical climates."),
    ]
    ctx = context(*chunks)
    answer = await ExtractiveAnswerer(embedder, max_sentences=2).answer(
        "Who designed the Eiffel Tower?", ctx
    )
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.notes == [EXTRACTIVE_NOTE]
    assert len(answer.citations) == 2
    first = answer.citations[0]
    assert "Gustave Eiffel" in first.quote
    assert (first.marker, first.chunk_id, first.document_id) == (1, "c_0", "d_0")
    assert (first.source, first.title) == ("/docs/0.txt", "Doc 0")
    by_id = {c.id: c for c in chunks}
    for citation in answer.citations:
        assert citation.quote in by_id[citation.chunk_id].text
        assert f"{citation.quote} [{citation.marker}]" in answer.text
    # distinct chunks are preferred over a second sentence of the same chunk
    assert len({c.chunk_id for c in answer.citations}) == 2
    assert all(c.chunk_id != "c_2" for c in answer.citations)
    assert answer.context is ctx


async def test_repeated_sentences_from_overlapping_chunks_are_quoted_once(
    hash_embedder: Any,
) -> None:
    shared = "Ada Lovelace wrote the first published algorithm."
    ctx = context(scored(0, shared + " She was born in London."), scored(1, shared))
    answer = await ExtractiveAnswerer(hash_embedder, max_sentences=3).answer("Ada?", ctx)
    quotes = [c.quote for c in answer.citations]
    assert quotes.count(shared) == 1
    assert len(quotes) == 2
    assert [c.marker for c in answer.citations] == [1, 2]


def test_hard_wrapped_lines_stay_one_sentence() -> None:
    from graphrag.answer.extractive import split_sentences

    text = (
        "Edda Vale\nEdda Vale was born in Velmora and studied\nat the Harbor Institute. "
        "She founded the\nVale Works in 1921.\n\nLater life\nShe retired."
    )
    assert [s.text for s in split_sentences(text)] == [
        "Edda Vale",
        "Edda Vale was born in Velmora and studied\nat the Harbor Institute.",
        "She founded the\nVale Works in 1921.",
        "Later life",
        "She retired.",
    ]
