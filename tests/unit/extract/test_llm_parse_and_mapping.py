"""Parsing an LLM reply (both shapes, repairs, malformed) and mapping it onto a chunk."""

from __future__ import annotations

import json

import pytest

from graphrag.extract.llm_mapping import find_spans, sentence_spans, to_extraction
from graphrag.extract.llm_parse import MalformedOutputError, parse_graph, properties_of
from graphrag.extract.ontology import Ontology
from graphrag.models import RelationKind
from tests.unit.extract.conftest import BRIDGE, BRIDGE_REPLY, graph_reply

TRIPLES = json.dumps(
    [
        {"head": "Tomas Brennick", "head_type": "Person", "relation": "FOUNDED",
         "tail": "Brennick Structural Works", "tail_type": "Organization"},
    ]
)  # fmt: skip


def test_the_object_shape_and_the_triple_shape_parse_alike() -> None:
    objects = parse_graph(BRIDGE_REPLY)
    triples = parse_graph(TRIPLES)
    assert [(n.name, n.type) for n in triples.nodes] == [
        ("Tomas Brennick", "Person"),
        ("Brennick Structural Works", "Organization"),
    ]
    assert (objects.relationships[0].source, objects.relationships[0].type) == (
        "Tomas Brennick",
        "FOUNDED",
    )
    assert not objects.repaired


@pytest.mark.parametrize(
    "reply",
    [
        "```json\n" + BRIDGE_REPLY + "\n```",
        "Here is the graph: " + BRIDGE_REPLY + " Hope it helps!",
        BRIDGE_REPLY[:-40],  # cut at the length limit
    ],
)
def test_slightly_broken_json_is_repaired(reply: str) -> None:
    graph = parse_graph(reply)
    assert graph.repaired
    assert graph.nodes[0].name == "Tomas Brennick"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("I am sorry, I cannot help with that.", "no JSON"),
        ('"Tomas Brennick"', "found a string"),
        ('["Tomas Brennick", "Velmora"]', "list of JSON objects"),
        ('{"nodes": "Tomas Brennick"}', "'nodes' must be a list"),
        ('{"answer": 42}', "expected 'nodes' and 'relationships'"),
        ('[{"who": "Tomas"}, {"what": "bridge"}]', "no item has the required keys"),
    ],
)
def test_malformed_replies_raise_with_a_reason(reply: str, reason: str) -> None:
    with pytest.raises(MalformedOutputError, match=reason) as caught:
        parse_graph(reply)
    assert caught.value.reply == reply


def test_an_empty_graph_is_valid() -> None:
    assert parse_graph('{"nodes": [], "relationships": []}').nodes == []
    assert parse_graph("[]").relationships == []


def test_unusable_items_among_good_ones_are_skipped() -> None:
    reply = '{"nodes": [{"id": "Velmora", "type": "Place"}, {"type": "Place"}, {"id": ["x"]}]}'
    graph = parse_graph(reply)
    assert [n.name for n in graph.nodes] == ["Velmora"]
    assert graph.skipped == 2


def test_mapping_gives_spans_types_evidence_and_provenance(ontology: Ontology) -> None:
    mapped = to_extraction("c1", BRIDGE, parse_graph(BRIDGE_REPLY), ontology)
    mentions = mapped.extraction.mentions
    assert [(m.surface, m.type) for m in mentions] == [
        ("Tomas Brennick", "PERSON"),
        ("Brennick Structural Works", "ORG"),
        ("Northvale", "GPE"),
        ("Lantern Bridge", "FAC"),
    ]
    for mention in mentions:
        assert BRIDGE[mention.start : mention.end] == mention.surface
        assert mention.extractor == "llm"
    assert mentions[3].sentence == 1
    triples = {
        (mentions[r.subject].surface, r.predicate, mentions[r.object].surface, r.sentence)
        for r in mapped.extraction.relations
    }
    first, both = BRIDGE.split(". ")[0] + ".", BRIDGE
    assert triples == {
        ("Tomas Brennick", "founded", "Brennick Structural Works", first),
        ("Brennick Structural Works", "built", "Lantern Bridge", both),
        ("Brennick Structural Works", "located in", "Northvale", first),
    }
    assert all(
        r.kind is RelationKind.LLM and r.extractor == "llm" for r in mapped.extraction.relations
    )


def test_strict_mode_drops_off_schema_types_and_their_relations(ontology: Ontology) -> None:
    reply = graph_reply(
        [("Tomas Brennick", "Person"), ("Lantern Bridge", "Bridge"), ("Northvale", "Place")],
        [
            ("Tomas Brennick", "DESIGNED", "Lantern Bridge"),  # unknown type, endpoint dropped
            ("Tomas Brennick", "LOCATED_IN", "Northvale"),  # Person may not be LOCATED_IN
            ("Tomas Brennick", "BORN_IN", "Northvale"),  # allowed
        ],
    )
    mapped = to_extraction("c1", BRIDGE, parse_graph(reply), ontology, strict=True)
    assert [m.surface for m in mapped.extraction.mentions] == ["Tomas Brennick", "Northvale"]
    assert [r.predicate for r in mapped.extraction.relations] == ["born in"]
    assert (mapped.dropped_nodes, mapped.dropped_relations) == (1, 2)

    loose = to_extraction("c1", BRIDGE, parse_graph(reply), ontology, strict=False)
    assert ("Lantern Bridge", "BRIDGE") in {(m.surface, m.type) for m in loose.extraction.mentions}
    assert {r.predicate for r in loose.extraction.relations} == {
        "designed",
        "located in",
        "born in",
    }


def test_properties_are_kept_when_the_ontology_declares_them(ontology: Ontology) -> None:
    reply = graph_reply(
        [("Tomas Brennick", "Person"), ("Northvale", "Place")],
        **{"Tomas Brennick": {"role": "engineer", "shoe_size": 44}},
    )
    mapped = to_extraction("c1", BRIDGE, parse_graph(reply), ontology)
    assert mapped.extraction.mentions[0].properties == {"role": "engineer"}
    loose = to_extraction("c1", BRIDGE, parse_graph(reply), ontology, strict=False)
    assert loose.extraction.mentions[0].properties == {"role": "engineer", "shoe_size": "44"}


def test_names_not_in_the_chunk_are_dropped_as_ungrounded(ontology: Ontology) -> None:
    reply = graph_reply(
        [
            ("Tomas Brennick", "Person"),
            ("Edda Vale", "Person"),
            ("Brennick Structural Works", "Organization"),
        ],
        [("Edda Vale", "FOUNDED", "Brennick Structural Works")],
    )
    mapped = to_extraction("c1", BRIDGE, parse_graph(reply), ontology)
    assert [m.surface for m in mapped.extraction.mentions] == [
        "Tomas Brennick",
        "Brennick Structural Works",
    ]
    assert mapped.ungrounded == 1
    assert mapped.extraction.relations == []
    assert mapped.dropped_relations == 1


def test_names_are_found_ignoring_case_accents_spacing_and_an_article() -> None:
    text = "In 1961 Tomás\nBrennick built the LANTERN bridge near Valentine."
    assert [text[s:e] for s, e in find_spans(text, "tomas brennick")] == ["Tomás\nBrennick"]
    assert [text[s:e] for s, e in find_spans(text, "The Lantern Bridge")] == ["the LANTERN bridge"]
    assert find_spans(text, "Vale") == []  # not inside a word
    assert find_spans(text, "  ") == []


def test_sentences_split_at_stops_and_line_breaks() -> None:
    text = 'He said "Go." Then he left!\n# Heading\nLast one'
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        'He said "Go."', "Then he left!", "# Heading", "Last one",
    ]  # fmt: skip


def test_properties_as_a_mapping_or_as_langchain_key_value_pairs() -> None:
    assert properties_of([{"key": "year", "value": 1961}, {"key": "x"}]) == {"year": "1961"}
    assert properties_of({"role": "CEO", "": "x", "n": None, "ok": True}) == {"role": "CEO"}
    assert properties_of("nonsense") == {}
