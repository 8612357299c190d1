"""The expected answer type of a question, with the real spaCy pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.answer.answer_types import AnswerType, expected_answer_type, noun_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nlp() -> Any:
    from graphrag.config import ExtractionSettings
    from graphrag.extract.spacy_extractor import load_nlp

    return load_nlp(ExtractionSettings().spacy_model)


@pytest.mark.parametrize(
    ("question", "first", "wh", "noun"),
    [
        # the sample corpus's questions (samples/questions.txt)
        (
            "Which institute did the founder of the company that built the Lantern Bridge "
            "attend?",
            "ORG", "which", "institute",
        ),
        ("When did the museum funded by Edda Vale's foundation open?", "DATE", "when", ""),
        (
            "Which university did the chair of the cooperative that runs the Gannet Point "
            "Tidal Station attend?",
            "ORG", "which", "university",
        ),
        ("What disaster led Velmora to build the Kessel Barrier?", "EVENT", "what", "disaster"),
        (
            "Which ferry company lost its estuary crossing when the Lantern Bridge opened, "
            "and who founded it?",
            "ORG", "which", "company",  # "ferry" modifies "company"
        ),
        ("Who designed the cable system of the Lantern Bridge?", "PERSON", "who", ""),
        # the question words of the issue
        ("Whom did Edda Vale marry?", "PERSON", "whom", ""),
        ("Whose foundation funded the museum?", "PERSON", "whose", ""),
        ("Where was Tomas Brennick born?", "GPE", "where", ""),
        ("In what country is Velmora?", "GPE", "what", "country"),
        ("What city is the firm based in?", "GPE", "what", "city"),
        ("How many gates does the Kessel Barrier have?", "CARDINAL", "how many", ""),
        ("How much did the Lantern Bridge cost?", "MONEY", "how much", ""),
        ("What language do the ferry crews speak?", "LANGUAGE", "what", "language"),
        ("Which band recorded the song?", "ORG", "which", "band"),
        ("Which film was shot in Velmora?", "WORK_OF_ART", "which", "film"),
        ("What is the name of the waterfall in that country?", "LOC", "what", "waterfall"),
        ("The treaty was signed in what year?", "DATE", "what", "year"),
    ],
)  # fmt: skip
def test_the_question_word_and_noun_give_the_type(
    nlp: Any, question: str, first: str, wh: str, noun: str
) -> None:
    kind = expected_answer_type(nlp(question))
    assert kind.labels[0] == first, kind
    assert (kind.wh, kind.noun) == (wh, noun)
    assert kind.accepts(first)
    assert kind.rank(first) == 0
    assert not kind.yes_no


def test_a_year_question_is_flagged(nlp: Any) -> None:
    assert expected_answer_type(nlp("What year did the company dissolve?")).year
    assert not expected_answer_type(nlp("When did the company dissolve?")).year


@pytest.mark.parametrize(
    "question",
    [
        "Are the Lantern Bridge and the Kessel Barrier both in Velmora?",
        "Did Edda Vale design the cables?",
        "Was Tomas Brennick an engineer?",
    ],
)
def test_auxiliary_first_questions_are_yes_no(nlp: Any, question: str) -> None:
    kind = expected_answer_type(nlp(question))
    assert kind.yes_no
    assert kind.labels == ()


@pytest.mark.parametrize(
    "question",
    [
        "Why did the ferry route close?",
        "What is a term for the institution allowing church courts?",  # "term": no type
        "the of and",
        "?!...",
        "Кто основал компанию?",
        "",
    ],
)
def test_questions_without_a_known_type_expect_none(nlp: Any, question: str) -> None:
    kind = expected_answer_type(nlp(question))
    assert kind.labels == ()
    assert not kind.accepts("PERSON")
    assert kind.rank("PERSON") == 0  # absent: the end of an empty list


def test_noun_labels_and_the_default_type() -> None:
    assert noun_labels("City") == ("GPE", "LOC", "FAC")
    assert noun_labels("university")[0] == "ORG"
    assert noun_labels("widget") == ()
    assert AnswerType() == AnswerType(labels=(), wh="", noun="", year=False, yes_no=False)


@pytest.mark.parametrize(
    ("question", "indirect"),
    [
        ("When did the museum funded by Edda Vale's foundation open?", True),
        ("Who is the spouse of the director of Jump for Glory?", True),
        ("Who directed the film that was shot in Leland in 1986?", True),
        ("In what county is the city where Harris W. Fawell was born?", True),
        ("Who did Pierre Curie marry?", False),
        ("When was Tomas Brennick born?", False),
        ("What disaster led Velmora to build the Kessel Barrier?", False),
        ("Photographer Jagdish Mali is father to which actress?", False),
    ],
)
def test_a_question_about_a_described_entity_is_indirect(
    nlp: Any, question: str, indirect: bool
) -> None:
    assert expected_answer_type(nlp(question)).indirect is indirect


def test_a_relative_pronoun_asks_nothing(nlp: Any) -> None:
    kind = expected_answer_type(nlp("The state where Henry Worrall died has how many districts?"))
    assert (kind.wh, kind.labels[0]) == ("how many", "CARDINAL")
