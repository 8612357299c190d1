from __future__ import annotations

import pytest

from graphrag.config import ExtractionSettings
from graphrag.errors import InvalidQueryError
from graphrag.retrieve.question import QuestionAnalyzer, validate_question


def test_validate_question_strips() -> None:
    assert validate_question("  Who wrote Hamlet?\n", 100) == "Who wrote Hamlet?"


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_rejected(question: str) -> None:
    with pytest.raises(InvalidQueryError, match="question is empty"):
        validate_question(question, 100)


def test_too_long_question_names_length_limit_and_setting() -> None:
    with pytest.raises(InvalidQueryError) as info:
        validate_question("x" * 25, 20)
    message = str(info.value)
    assert "25" in message
    assert "20" in message
    assert "GRAPHRAG_RETRIEVAL__MAX_QUESTION_CHARS" in message


def test_length_limit_applies_after_stripping() -> None:
    assert validate_question("  " + "y" * 20 + "  ", 20) == "y" * 20


@pytest.fixture(scope="module")
def analyzer() -> QuestionAnalyzer:
    # load_nlp caches the pipeline per process, so this shares the extractor's model
    return QuestionAnalyzer(ExtractionSettings(processes=1))


@pytest.mark.slow
def test_analyzer_finds_named_entities_and_proper_nouns(analyzer: QuestionAnalyzer) -> None:
    surfaces = analyzer.entities(
        "Which university did Barack Obama attend before Harvard Law School?"
    )
    lowered = [s.lower() for s in surfaces]
    assert "barack obama" in lowered
    assert any("harvard" in s for s in lowered)


@pytest.mark.slow
def test_analyzer_drops_numeric_and_date_types(analyzer: QuestionAnalyzer) -> None:
    surfaces = analyzer.entities("What did Marie Curie discover in 1898 with two colleagues?")
    assert "Marie Curie" in surfaces
    assert not any("1898" in s or "two" in s.split() for s in surfaces)


@pytest.mark.slow
def test_analyzer_keeps_quoted_titles_and_dedupes(analyzer: QuestionAnalyzer) -> None:
    surfaces = analyzer.entities('Who sang "bad romance" and was Lady Gaga\'s "bad romance" a hit?')
    assert "bad romance" in surfaces
    assert len([s for s in surfaces if s.lower() == "bad romance"]) == 1


@pytest.mark.slow
def test_analyzer_lazy_load_and_empty_question() -> None:
    lazy = QuestionAnalyzer(ExtractionSettings(processes=1))
    assert lazy.entities("   ") == []
    assert lazy._nlp is None  # nothing loaded for an empty question
    assert "Paris" in lazy.entities("How many people live in Paris?")


QUESTIONS = [
    "Who founded the Warsaw Radium Institute, and in which country is it?",
    "The Lion King was released by which studio? Who directed it?",
    "When did the director of Jaws win his first Academy Award?",
    'Which band recorded "Hey Jude" at Trident Studios in London?',
    "what county is the city of Springfield in",
]


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS)
def test_skipping_the_parser_finds_the_same_surfaces(
    analyzer: QuestionAnalyzer, question: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Questions skip the parser and lemmatizer (speed); the surfaces stay what the full
    pipeline finds, multi-sentence questions included."""
    from graphrag.retrieve import question as module

    assert set(module._SKIPPED_PIPES) == {"parser", "lemmatizer"}
    assert {"parser", "lemmatizer"} <= set(analyzer._pipeline().pipe_names)
    found = analyzer.entities(question)
    monkeypatch.setattr(module, "_SKIPPED_PIPES", ())
    whole = analyzer.entities(question)

    assert found == whole
    assert found  # every one of these questions names something
    assert "parser" in analyzer._pipeline().pipe_names  # the shared pipeline stays whole
