"""Extractive community summaries: supporting chunks, key sentences, format, parsing back."""

from __future__ import annotations

from graphrag.analyze.summaries import (
    EMBED_CHARS,
    MAX_SENTENCE_CHARS,
    SUMMARY_PREFIX,
    KeySentence,
    embedding_text,
    key_sentences,
    parse_key_sentences,
    split_sentences,
    summarize,
    support_chunks,
)
from graphrag.models import Chunk, Entity, Relation, RelationKind


def entity(eid: str, name: str, kind: str = "PERSON", aliases: list[str] | None = None) -> Entity:
    return Entity(id=eid, name=name, type=kind, aliases=aliases or [])


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(
        id=cid, document_id="d", ordinal=0, text=text, start=0, end=len(text), token_count=1
    )


def rel(source: str, target: str, chunks: list[str], predicate: str = "meet") -> Relation:
    return Relation(
        id=f"r_{source}_{target}",
        source_id=source,
        target_id=target,
        predicate=predicate,
        kind=RelationKind.SVO,
        weight=1.0,
        source_chunk_ids=chunks,
    )


CURIE = entity("e_mc", "Marie Curie", aliases=["Madame Curie"])
PIERRE = entity("e_pc", "Pierre Curie")
PARIS = entity("e_pa", "Paris", "GPE")
CITY = entity("e_ci", "city", "CONCEPT")
RANKS = {"e_mc": 0.5, "e_pc": 0.3, "e_pa": 0.2, "e_ci": 0.9}


def test_support_chunks_prefer_chunks_connecting_more_members() -> None:
    relations = [
        rel("e_mc", "e_pc", ["c_1", "c_2"]),
        rel("e_pc", "e_pa", ["c_2"]),
        rel("e_mc", "e_x", ["c_3"]),  # e_x is in another group: not inside
        rel("e_mc", "e_mc", ["c_4"]),  # a self-loop connects nothing
    ]

    found = support_chunks(relations, [["e_mc", "e_pc", "e_pa"], ["e_x", "e_y"]], RANKS)

    assert found == [["c_2", "c_1"], []]
    assert support_chunks(relations, [["e_mc", "e_pc", "e_pa"]], RANKS, limit=1) == [["c_2"]]


def test_support_chunk_ties_go_to_higher_ranked_members_then_id() -> None:
    relations = [rel("e_pc", "e_pa", ["c_b"]), rel("e_mc", "e_pa", ["c_a"])]

    assert support_chunks(relations, [["e_mc", "e_pc", "e_pa"]], RANKS) == [["c_a", "c_b"]]
    equal = {"e_mc": 0.1, "e_pc": 0.1, "e_pa": 0.1}
    relations = [rel("e_mc", "e_pa", ["c_z"]), rel("e_pc", "e_pa", ["c_y"])]
    assert support_chunks(relations, [["e_mc", "e_pc", "e_pa"]], equal) == [["c_y", "c_z"]]


def test_sentences_split_at_line_breaks_and_end_punctuation_only() -> None:
    text = (
        "Lantern Bridge\nIt opened in 1931. Its cables, e.g. the main ones, were spun.\n"
        '"Wow!" he said.'
    )

    assert split_sentences(text) == [
        "Lantern Bridge",
        "It opened in 1931.",
        "Its cables, e.g. the main ones, were spun.",
        '"Wow!" he said.',
    ]
    assert split_sentences("  \n\n") == []


def test_key_sentences_name_the_most_members_first_and_cite_their_chunk() -> None:
    chunks = [
        chunk("c_1", "Marie Curie lived in Paris. The weather was fine that year."),
        chunk("c_2", "Pierre Curie married Marie Curie in Paris. Pierre Curie taught."),
    ]

    found = key_sentences(chunks, [CURIE, PIERRE, PARIS], RANKS)

    assert found == [
        KeySentence("c_2", "Pierre Curie married Marie Curie in Paris.", 3),
        KeySentence("c_1", "Marie Curie lived in Paris.", 2),
        KeySentence("c_2", "Pierre Curie taught.", 1),
    ]


def test_key_sentences_match_aliases_in_any_case_as_whole_words() -> None:
    chunks = [chunk("c_1", "MADAME CURIE met Pierre Curie. Parisians loved Curiepierre.")]

    found = key_sentences(chunks, [CURIE, PIERRE, PARIS], RANKS)

    assert [(s.text, s.members) for s in found] == [("MADAME CURIE met Pierre Curie.", 2)]


def test_generic_concepts_match_only_when_nothing_else_is_left() -> None:
    chunks = [chunk("c_1", "The city grew fast. Marie Curie arrived in Paris by train.")]

    with_names = key_sentences(chunks, [CITY, CURIE, PARIS], RANKS)
    only_concepts = key_sentences(chunks, [CITY], RANKS)

    assert [s.text for s in with_names] == ["Marie Curie arrived in Paris by train."]
    assert [s.text for s in only_concepts] == ["The city grew fast."]


def test_titles_short_lines_repeats_and_the_per_chunk_cap() -> None:
    text = "Marie Curie\nMarie Curie met Pierre Curie. " * 2 + "Marie Curie saw Paris. Curie."
    chunks = [chunk("c_1", text), chunk("c_2", "Marie Curie met Pierre Curie.")]

    found = key_sentences(chunks, [CURIE, PIERRE, PARIS], RANKS, limit=5)

    assert [(s.chunk_id, s.text) for s in found] == [
        ("c_1", "Marie Curie met Pierre Curie."),  # once, though it occurs three times
        ("c_1", "Marie Curie saw Paris."),  # the title line and "Curie." are not quoted
    ]


def test_long_sentences_are_cut_and_no_members_means_no_sentences() -> None:
    long = "Marie Curie " + "worked hard and " * 40 + "won."
    [found] = key_sentences([chunk("c_1", long)], [CURIE], RANKS)

    assert len(found.text) == MAX_SENTENCE_CHARS
    assert found.text.endswith("…")
    assert key_sentences([chunk("c_1", long)], [], RANKS) == []


def test_summary_format_round_trips_its_cited_sentences() -> None:
    entities = {e.id: e for e in (CURIE, PIERRE, PARIS)}
    members = ["e_mc", "e_pc", "e_pa", "e_unknown"]
    sentences = [KeySentence("c_2", "Pierre Curie married Marie Curie in Paris.", 3)]

    summary = summarize(members, [rel("e_pc", "e_mc", [], "marry")], entities, sentences)

    assert summary == (
        f"{SUMMARY_PREFIX} 4 entities: Marie Curie (PERSON), Pierre Curie (PERSON), "
        "Paris (GPE), e_unknown. Key relations: Pierre Curie –marry→ Marie Curie. "
        "Key sentences: “Pierre Curie married Marie Curie in Paris.” [c_2]."
    )
    assert parse_key_sentences(summary) == [("Pierre Curie married Marie Curie in Paris.", "c_2")]
    assert summarize(["e_mc"], [], entities, []).endswith(
        "1 entity: Marie Curie (PERSON). Key relations: none found. Key sentences: none found."
    )
    many = summarize([f"e_{i}" for i in range(1200)], [], {}, [])
    assert "1,200 entities" in many
    assert "(+1,192 more)" in many
    assert parse_key_sentences(None) == parse_key_sentences("no quotes") == []


def test_embedding_text_has_title_names_and_sentences_without_ids() -> None:
    entities = {e.id: e for e in (CURIE, PIERRE)}
    sentences = [KeySentence("c_2", "Pierre Curie married Marie Curie.", 2)]

    text = embedding_text("Marie Curie, Pierre Curie", ["e_mc", "e_pc"], entities, sentences)

    assert text == (
        "Marie Curie, Pierre Curie. Marie Curie, Pierre Curie. Pierre Curie married Marie Curie."
    )
    assert "c_2" not in text
    assert len(embedding_text("t", [], {}, [KeySentence("c", "x" * 5000, 1)])) == EMBED_CHARS
