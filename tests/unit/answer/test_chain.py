"""The evidence chain of the extractive answerer, with real spaCy on the sample corpus.

"Which institute did the founder of Brennick Structural Works attend?" (the sample corpus's
first question, one hop shorter) needs two documents: the firm's profile names its founder,
Tomas Brennick, and his biography names the institute. These tests build the candidate
sentences from those documents' real text and run the chain on them, then the whole
answerer with MiniLM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphrag.answer.answer_types import AnswerType
from graphrag.answer.chain import ChainSentence, QuestionFacts, plan_evidence
from graphrag.answer.extractive import ExtractiveAnswerer, abstained, split_sentences
from graphrag.answer.mentions import (
    ChunkParser,
    Mention,
    clean_title,
    has_run,
    mention_key,
    topic_mention,
)
from graphrag.models import RetrievalMode, RetrievedContext, ScoredChunk, ScoredEntity

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "corpus"

MUSEUM_QUESTION = "When did the museum funded by Edda Vale's foundation open?"
FOUNDER_QUESTION = "Which institute did the founder of Brennick Structural Works attend?"
CABLES_QUESTION = "Who designed the cable system of the Lantern Bridge?"


def sample_text(name: str) -> str:
    from graphrag.config import load_settings
    from graphrag.ingest.loaders import load_file

    (document,) = load_file(SAMPLES / name, load_settings().ingest)
    return document.text


def edda_vale_text() -> str:
    return sample_text("edda_vale.pdf")


def founder_chunks() -> list[ScoredChunk]:
    """The firm's profile, the founder's biography and an unrelated museum record."""
    return [
        chunk(0, "brennick_vale", sample_text("brennick_vale.txt")),
        chunk(1, "Velmora Maritime Museum", museum_text()),
        chunk(2, "Tomas Brennick (1931–2009)", sample_text("tomas_brennick.html")),
    ]


def museum_text(record: str = "museum-overview") -> str:
    records = json.loads((SAMPLES / "museum.json").read_text(encoding="utf-8"))
    return next(r["text"] for r in records if r["id"] == record)


@pytest.fixture(scope="module")
def parser() -> ChunkParser:
    from graphrag.config import ExtractionSettings

    return ChunkParser(ExtractionSettings().spacy_model)


def chunk(rank: int, title: str, text: str) -> ScoredChunk:
    return ScoredChunk(
        id=f"c_{rank}",
        document_id=f"d_{rank}",
        source=f"/samples/{rank}",
        title=title,
        ordinal=0,
        text=text,
        score=1.0 - rank / 10,
        token_count=len(text.split()),
    )


def sentences_of(parser: ChunkParser, chunks: list[ScoredChunk]) -> list[ChainSentence]:
    """The chain's view of the chunks, as the answerer builds it."""
    found: list[ChainSentence] = []
    for rank, c in enumerate(chunks):
        (mentions,) = parser.mentions([c.text])
        for sentence in split_sentences(c.text):
            inside = [m for m in mentions if sentence.start <= m.start < sentence.end]
            topic = topic_mention(sentence.text, sentence.start, c.title, mentions)
            found.append(
                ChainSentence(
                    sentence.text, rank, c.title, tuple([topic] if topic else []) + tuple(inside)
                )
            )
    return found


def test_the_parser_finds_entities_with_offsets_and_caches_them(parser: ChunkParser) -> None:
    text = edda_vale_text()
    (mentions,) = parser.mentions([text])
    assert all(text[m.start : m.end] == m.text for m in mentions)
    labelled = {(m.text, m.label) for m in mentions}
    assert ("1936", "DATE") in labelled  # dates stay (the graph drops them)
    assert ("the University of Saltmere", "ORG") in labelled
    assert any(m.text == "Velmora" for m in mentions)
    again, other = parser.mentions([text, "Gullwing Ferries sailed."])
    assert again is mentions  # cached by text
    assert other[0].text == "Gullwing Ferries"


def test_the_question_gives_its_type_and_entities(parser: ChunkParser) -> None:
    kind, mentions = parser.question(MUSEUM_QUESTION)
    assert kind.labels[0] == "DATE"
    assert [m.text for m in mentions] == ["Edda Vale's"]
    kind, _ = parser.question(CABLES_QUESTION)
    assert kind.labels[0] == "PERSON"


def test_keys_and_titles() -> None:
    assert mention_key("The APA's  journal") == ("apa", "journal")  # articles and possessives go
    assert clean_title("Decade (Neil Young album)") == "Decade"
    assert clean_title("Edda Vale (1936-2017)") == "Edda Vale"
    assert has_run(("a", "b", "c"), ("b", "c"))
    assert not has_run(("a", "b"), ("b", "c"))
    assert not has_run(("a",), ())


def test_a_sentence_opening_with_a_pronoun_mentions_its_chunks_topic() -> None:
    person = [Mention("Edda Vale", "PERSON", 0, 9)]
    topic = topic_mention("Her best known work is the cables.", 40, "Edda Vale (1936-2017)", person)
    assert topic == Mention("Edda Vale", "PERSON", 40, 40, implicit=True)
    assert topic_mention("Vale designed the fan.", 0, "Edda Vale (1936-2017)", person) is None
    unlabelled = [Mention("Edda Vale", "PROPN", 0, 9)]
    assert topic_mention("She designed it.", 0, "Edda Vale", unlabelled) is None


def test_question_facts_keep_the_longest_names_and_drop_concepts(parser: ChunkParser) -> None:
    question = "What body of water is near the location where the Siege of Cassel took place?"
    kind, mentions = parser.question(question)
    facts = QuestionFacts.build(
        question,
        kind,
        mentions,
        context_entities=[("Siege of Cassel", "EVENT"), ("location", "CONCEPT")],
        paths=[["Siege of Cassel", "Kassel"], ["Siege of Cassel", "location"]],
        titles=["Siege of Cassel (1761)", "Fulda"],
    )
    # spaCy's "Cassel" is inside the linked "Siege of Cassel"; "location" is a concept
    assert facts.entities == [("siege", "of", "cassel")]
    assert facts.path_ends == [("kassel",)]
    assert facts.names(("cassel",))
    assert not facts.names(("fulda",))
    assert (
        facts.relation_text(question)
        == "What body of water is near the location where the took place"
    )
    only_names = QuestionFacts.build(
        "Siege of Cassel?", AnswerType(), [Mention("Siege of Cassel", "EVENT", 0, 15)]
    )
    assert only_names.relation_text("Siege of Cassel?") == ""


def test_the_chain_goes_through_the_bridge_to_the_typed_answer(parser: ChunkParser) -> None:
    chunks = founder_chunks()
    sentences = sentences_of(parser, chunks)
    kind, mentions = parser.question(FOUNDER_QUESTION)
    assert kind.labels[0] == "ORG"
    facts = QuestionFacts.build(FOUNDER_QUESTION, kind, mentions, titles=[c.title for c in chunks])
    assert facts.entities == [("brennick", "structural", "works")]
    # the answer sentence is the most similar (as with MiniLM, below): the chain adds the
    # sentence linking the question's entity to the bridge it names, first
    base = [0.5 if "enrolled at the Calder" in s.text else 0.0 for s in sentences]
    plan = plan_evidence(facts, sentences, base, max_sentences=3)
    quoted = [sentences[i] for i in plan.chosen]
    assert plan.short_answer == "the Calder Institute of Technology"
    assert "Brennick Structural Works" in quoted[0].text  # the link names the question's
    assert quoted[1].text.startswith("At seventeen he moved to Northvale and enrolled at")
    assert quoted[1].rank == 2  # the biography, whose title names the bridge, Tomas Brennick
    assert len(quoted) == 3


def test_a_comparison_quotes_both_options(parser: ChunkParser) -> None:
    question = "Which opened first, the Velmora Maritime Museum or the Lantern Bridge?"
    chunks = [
        chunk(0, "Velmora Maritime Museum", museum_text()),
        chunk(1, "Cables and Lanterns: the Bridge Gallery", museum_text("exhibit-bridge-gallery")),
    ]
    kind, mentions = parser.question(question)
    facts = QuestionFacts.build(question, kind, mentions, titles=[c.title for c in chunks])
    assert facts.options == [("velmora", "maritime", "museum"), ("lantern", "bridge")]
    sentences = sentences_of(parser, chunks)
    plan = plan_evidence(facts, sentences, [0.0] * len(sentences), max_sentences=2)
    quoted = " ".join(sentences[i].text for i in plan.chosen)
    assert "Velmora Maritime Museum" in quoted
    assert "Lantern Bridge" in quoted
    assert plan.short_answer is None  # which one: the reader decides from the dates


def test_a_plan_without_sentences_is_empty() -> None:
    plan = plan_evidence(QuestionFacts(answer_type=AnswerType()), [], [], max_sentences=3)
    assert (plan.chosen, plan.short_answer) == ([], None)


def context_of(question: str, chunks: list[ScoredChunk], **extra: Any) -> RetrievedContext:
    return RetrievedContext(question=question, mode=RetrievalMode.PPR, chunks=chunks, **extra)


async def test_the_answerer_quotes_the_chain_and_reports_the_short_answer(embedder: Any) -> None:
    chunks = founder_chunks()
    context = context_of(
        FOUNDER_QUESTION,
        chunks,
        entities=[ScoredEntity(id="e_1", name="Tomas Brennick", type="PERSON", score=0.3)],
        paths=[["Brennick Structural Works", "Tomas Brennick"]],
    )
    answer = await ExtractiveAnswerer(embedder).answer(FOUNDER_QUESTION, context)
    assert not abstained(answer)
    assert answer.short_answer == "the Calder Institute of Technology"
    assert "Calder Institute of Technology" in answer.text
    assert len(answer.citations) == 3  # the cap: max_sentences
    by_id = {c.id: c for c in chunks}
    for citation in answer.citations:  # verbatim quotes, each cited
        assert citation.quote in by_id[citation.chunk_id].text
        assert f"{citation.quote} [{citation.marker}]" in answer.text
    assert {"c_0", "c_2"} <= {c.chunk_id for c in answer.citations}


async def test_a_pronoun_answer_quotes_who_the_pronoun_is(embedder: Any) -> None:
    chunks = [
        chunk(0, "Cables and Lanterns: the Bridge Gallery", museum_text("exhibit-bridge-gallery")),
        chunk(1, "Edda Vale (1936-2017)", edda_vale_text()),
    ]
    answer = await ExtractiveAnswerer(embedder).answer(
        CABLES_QUESTION, context_of(CABLES_QUESTION, chunks)
    )
    assert answer.short_answer in ("Edda Vale", "Vale")
    assert answer.short_answer in answer.text  # a pronoun's answer comes with its name


async def test_without_a_spacy_model_the_answer_has_no_short_answer(embedder: Any) -> None:
    chunks = [chunk(0, "Velmora Maritime Museum", museum_text())]
    answerer = ExtractiveAnswerer(embedder, spacy_model=None)
    answer = await answerer.answer(MUSEUM_QUESTION, context_of(MUSEUM_QUESTION, chunks))
    assert answer.short_answer is None
    assert answer.citations


def test_the_cli_prints_the_short_answer_apart() -> None:
    import io

    from rich.console import Console

    from graphrag.models import Answer, AnswerKind
    from pipelines.report import print_answer

    answer = Answer(
        question=FOUNDER_QUESTION,
        text="He enrolled at the Calder Institute of Technology. [1]",
        kind=AnswerKind.EXTRACTIVE,
        mode=RetrievalMode.PPR,
        citations=[],
        short_answer="the Calder Institute of Technology\x1b[31m",
    )
    out = io.StringIO()
    print_answer(Console(file=out, width=200, color_system=None), answer, show_context=False)
    lines = out.getvalue().splitlines()
    assert lines[2] == "short answer: the Calder Institute of Technology\\x1b[31m"  # escaped
    assert '"short_answer":"the Calder' in answer.model_dump_json()
    answer.short_answer = None
    out = io.StringIO()
    print_answer(Console(file=out, width=200, color_system=None), answer, show_context=False)
    assert "short answer" not in out.getvalue()
