"""The answer relevance floor: irrelevant questions abstain, real ones are still answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from graphrag.answer.extractive import (
    ABSTAIN_PREFIX,
    EXTRACTIVE_NOTE,
    NO_PASSAGES_NOTE,
    NO_PASSAGES_TEXT,
    ExtractiveAnswerer,
    abstained,
)
from graphrag.answer.relevance import (
    DEFAULT_MIN_RELEVANCE,
    MIN_SIMILARITY_WORDS,
    Relevance,
    best_similarity,
    content_words,
    word_overlap,
)
from graphrag.config import AnswerSettings, load_settings
from graphrag.errors import ConfigError
from graphrag.models import AnswerKind, RetrievalMode, RetrievedContext, ScoredChunk

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_CORPUS = ROOT / "samples" / "corpus"
SAMPLE_QUESTIONS = [
    q.strip()
    for q in (ROOT / "samples" / "questions.txt").read_text(encoding="utf-8").splitlines()
    if q.strip() and not q.lstrip().startswith("#")
]
IRRELEVANT = [
    "'; DROP TABLE documents; --",
    '" OR 1==1 RETURN doc //',
    "zxqv blorf wug",
    "How do I reset a forgotten Wi-Fi router password?",
]
# ``global`` answers from community summaries, which need ``graphrag analyze`` first
# (tests/unit/retrieve/test_global.py covers it).
MODES = [m for m in RetrievalMode if m is not RetrievalMode.GLOBAL]


def chunk(i: int, text: str) -> ScoredChunk:
    return ScoredChunk(
        id=f"c_{i}",
        document_id=f"d_{i}",
        source=f"/docs/{i}.txt",
        title=f"Doc {i}",
        ordinal=0,
        text=text,
        score=1.0,
        token_count=len(text.split()),
    )


def context(*chunks: ScoredChunk) -> RetrievedContext:
    return RetrievedContext(question="q", mode=RetrievalMode.PPR, chunks=list(chunks))


# ----------------------------------------------------------------------------- the signals


def test_content_words_drop_stopwords_digits_single_characters_and_repeats() -> None:
    assert content_words("Who designed the cable system of the Lantern Bridge's cable?") == [
        "designed",
        "cable",
        "system",
        "lantern",
        "bridge",
    ]
    assert content_words("' OR '1'='1") == []
    assert content_words("{{7*7}}") == []
    assert content_words("In 1930, who won?") == ["won"]


def test_word_overlap_is_the_share_of_question_words_found() -> None:
    texts = ["The Lantern Bridge opened in 1931.", "Its cables were spun on site."]
    assert word_overlap("When did the Lantern Bridge open?", texts) == pytest.approx(2 / 3)
    assert word_overlap("zxqv blorf wug", texts) == 0.0
    assert word_overlap("???", texts) == 0.0
    assert word_overlap("Lantern?", []) == 0.0


def test_best_similarity_skips_short_lines_unless_there_is_nothing_else() -> None:
    long = MIN_SIMILARITY_WORDS
    assert best_similarity([0.9, 0.4, 0.5], [2, long, long + 3]) == 0.5
    assert best_similarity([0.9, 0.4], [2, 3]) == 0.9
    assert best_similarity([], []) == 0.0


def test_relevance_score_weights_similarity_and_overlap() -> None:
    relevance = Relevance(similarity=0.4, overlap=0.6)
    assert relevance.score == pytest.approx(0.75 * 0.4 + 0.25 * 0.6)
    assert relevance.describe() == "relevance 0.45 (similarity 0.40, word overlap 0.60)"


def test_the_floor_is_a_validated_setting() -> None:
    assert AnswerSettings().min_relevance == DEFAULT_MIN_RELEVANCE
    assert 0.0 < DEFAULT_MIN_RELEVANCE < 1.0
    assert load_settings(answer={"min_relevance": 0}).answer.min_relevance == 0.0
    with pytest.raises(ConfigError, match="GRAPHRAG_ANSWER__MIN_RELEVANCE"):
        load_settings(answer={"min_relevance": 1.5})


def test_min_relevance_must_be_a_fraction(hash_embedder: Any) -> None:
    with pytest.raises(ValueError, match="min_relevance"):
        ExtractiveAnswerer(hash_embedder, min_relevance=-0.1)
    assert ExtractiveAnswerer(hash_embedder, min_relevance=0.2).min_relevance == 0.2
    assert ExtractiveAnswerer(hash_embedder).min_relevance == DEFAULT_MIN_RELEVANCE


# ----------------------------------------------------------------------------- the answerer


async def test_below_the_floor_the_answer_abstains_with_a_note(hash_embedder: Any) -> None:
    ctx = context(chunk(0, "Bananas are rich in potassium and grow in tropical climates."))
    answerer = ExtractiveAnswerer(hash_embedder, min_relevance=1.0)
    answer, relevance = await answerer.answer_with_relevance("Who built the bridge?", ctx)
    assert relevance is not None
    assert relevance.overlap == 0.0
    assert answer.text == NO_PASSAGES_TEXT
    assert answer.citations == []
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.mode is RetrievalMode.PPR
    assert answer.context is ctx
    assert answer.notes[0] == EXTRACTIVE_NOTE
    assert answer.notes[1].startswith(ABSTAIN_PREFIX)
    assert relevance.describe() in answer.notes[1]
    assert "answer.min_relevance 1.00" in answer.notes[1]
    assert "GRAPHRAG_ANSWER__MIN_RELEVANCE" in answer.notes[1]
    assert abstained(answer)


async def test_a_zero_floor_never_abstains(hash_embedder: Any) -> None:
    ctx = context(chunk(0, "Bananas are rich in potassium and grow in tropical climates."))
    answer = await ExtractiveAnswerer(hash_embedder, min_relevance=0.0).answer("zxqv blorf", ctx)
    assert len(answer.citations) == 1
    assert answer.notes == [EXTRACTIVE_NOTE]
    assert not abstained(answer)


async def test_an_empty_context_abstains_with_its_own_note(hash_embedder: Any) -> None:
    answer, relevance = await ExtractiveAnswerer(hash_embedder).answer_with_relevance(
        "Who?", context()
    )
    assert relevance is None
    assert answer.text == NO_PASSAGES_TEXT
    assert answer.notes == [EXTRACTIVE_NOTE, NO_PASSAGES_NOTE]
    assert abstained(answer)


# ----------------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
async def sample_components(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, extractor: Any
) -> AsyncIterator[Any]:
    """The bundled sample corpus in an embedded store, with the default answerer."""
    from graphrag.config import ExtractionSettings
    from graphrag.ingest.loaders import load_file
    from graphrag.retrieve.question import QuestionAnalyzer
    from graphrag.runtime import open_components

    db = tmp_path_factory.mktemp("samples") / "graph.db"
    settings = load_settings(embedded={"path": db})
    components = await open_components(
        settings,
        embedder=embedder,
        extractor=extractor,
        analyzer=QuestionAnalyzer(ExtractionSettings(processes=1)),
    )
    documents = [d for p in sorted(SAMPLE_CORPUS.iterdir()) for d in load_file(p, settings.ingest)]
    report = await components.builder.ingest(documents)
    assert not report.failed
    yield components
    await components.close()


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("question", IRRELEVANT)
async def test_irrelevant_questions_abstain_in_every_mode(
    sample_components: Any, question: str
) -> None:
    for mode in MODES:
        context = await sample_components.retrieval.retrieve(question, mode=mode)
        answer = await sample_components.answerer.answer(question, context)
        assert answer.kind is AnswerKind.EXTRACTIVE, mode
        assert answer.text == NO_PASSAGES_TEXT, (mode, answer.text)
        assert answer.citations == [], mode
        assert abstained(answer), (mode, answer.notes)
        if context.chunks:  # passages were retrieved, but none is relevant
            assert "below answer.min_relevance" in answer.notes[-1], mode


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="session")
async def test_sample_questions_are_still_answered_in_every_mode(sample_components: Any) -> None:
    answerer = ExtractiveAnswerer(sample_components.embedder)
    for mode in MODES:
        for question in SAMPLE_QUESTIONS:
            context = await sample_components.retrieval.retrieve(question, mode=mode)
            answer, relevance = await answerer.answer_with_relevance(question, context)
            assert not abstained(answer), (mode, question, answer.notes)
            assert relevance is not None
            assert relevance.score >= DEFAULT_MIN_RELEVANCE + 0.1, (mode, question, relevance)
            assert answer.citations, (mode, question)
            assert answer.notes == [EXTRACTIVE_NOTE]
            for citation in answer.citations:
                assert f"{citation.quote} [{citation.marker}]" in answer.text


def test_eval_counts_abstentions_per_mode() -> None:
    from pipelines.eval_job import QuestionResult, _score

    results = [
        QuestionResult("q1", ["d1"], ["d1", "d2"], 1.0, relevance=0.61),
        QuestionResult("q2", ["d3"], ["d4"], 2.0, relevance=0.2, abstained=True),
    ]
    scores = _score(RetrievalMode.PPR, results, answered=True)
    assert scores.abstained == 1
    assert scores.to_dict()["abstained"] == 1
    assert scores.recall[2] == 0.5
    assert _score(RetrievalMode.PPR, results).to_dict()["abstained"] is None
