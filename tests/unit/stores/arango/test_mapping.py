"""Model <-> ArangoDB document mapping, key validation and batch planning (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from graphrag.errors import StoreQueryError
from graphrag.ids import (
    chunk_id,
    content_hash,
    document_id,
    entity_id,
    merge_id,
    normalize_name,
    relation_id,
)
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    MergeRecord,
    Relation,
    RelationKind,
)
from graphrag.stores.arango import mapping as m
from graphrag.stores.arango.batch import (
    MAX_DOCUMENT_BYTES,
    first_unknown,
    plan_batch,
    split_payload,
    validate_in_order,
)
from graphrag.stores.arango.names import PROVENANCE_SAMPLE

DIM = 8


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def person(name: str, *, aliases: list[str] | None = None, embedding: bool = True) -> Entity:
    return Entity(
        id=entity_id(normalize_name(name), "PERSON"),
        name=name,
        type="PERSON",
        aliases=aliases or [],
        embedding=vec(len(name)) if embedding else None,
    )


def graph(source: str, text: str, entities: list[Entity], *, relate: bool = True) -> DocumentGraph:
    doc_id = document_id(source)
    chunk = Chunk(
        id=chunk_id(doc_id, 0),
        document_id=doc_id,
        ordinal=0,
        text=text,
        start=0,
        end=len(text),
        token_count=len(text.split()),
        embedding=vec(7),
    )
    mentions = [
        Mention(chunk_id=chunk.id, entity_id=e.id, surface_forms=[e.name], spans=[(0, len(e.name))])
        for e in entities
    ]
    relations = []
    if relate and len(entities) > 1:
        src, dst = entities[0].id, entities[1].id
        relations.append(
            Relation(
                id=relation_id(src, "know", dst),
                source_id=src,
                target_id=dst,
                predicate="know",
                kind=RelationKind.SVO,
                weight=1.0,
                evidence=[Evidence(chunk_id=chunk.id, sentence=text, weight=1.0)],
            )
        )
    document = Document(
        id=doc_id, source=source, title=source, mime="text/plain", content_hash=content_hash(text)
    )
    return DocumentGraph(
        document=document, chunks=[chunk], entities=entities, mentions=mentions, relations=relations
    )


# --------------------------------------------------------------------------- round trips


def test_document_round_trip_keeps_fields_and_stamps_write_time() -> None:
    doc = Document(
        id="d_1",
        source="/data/a.txt",
        title="A",
        mime="text/plain",
        content_hash="abc",
        metadata={"pages": 3},
        updated_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    stored = m.document_to_doc(doc, status=DocumentStatus.FAILED, chunk_count=4, error="boom")
    assert stored["_key"] == "d_1"
    assert stored["label"] == "A"
    back = m.doc_to_document(stored)
    assert (back.source, back.title, back.metadata) == ("/data/a.txt", "A", {"pages": 3})
    assert back.status is DocumentStatus.FAILED
    assert (back.chunk_count, back.error) == (4, "boom")
    assert back.updated_at > doc.updated_at


def test_chunk_round_trip_keeps_the_embedding_and_omits_a_missing_one() -> None:
    chunk = Chunk(id="c_1", document_id="d_1", ordinal=2, text="hi", start=5, end=7, token_count=1)
    assert "embedding" not in m.chunk_to_doc(chunk)
    chunk.embedding = vec(1)
    back = m.doc_to_chunk(m.chunk_to_doc(chunk))
    assert back.model_dump() == chunk.model_dump()
    assert back.embedding is not None
    assert np.allclose(back.embedding, chunk.embedding, atol=1e-7)
    assert back.embedding.dtype == np.float32
    long = chunk.model_copy(update={"text": "word " * 30})
    assert m.chunk_to_doc(long)["label"] == "#2 word word word word word word word..."


def test_entity_payload_round_trip_normalises_names_and_counts_provenance() -> None:
    entity = person("Marie Curie", aliases=["M. Curie", "Marie Curie", ""])
    entity.description = "physicist"
    payload = m.entity_payload(entity, ["c_2", "c_1", "c_2"])
    doc = payload["doc"]
    assert doc["aliases"] == ["M. Curie"]
    assert doc["name_norm"] == "marie curie"
    assert doc["label"] == "Marie Curie"  # what the Graph Viewer shows
    assert set(doc["aliases_norm"]) == {"marie curie", "m curie"}
    assert payload["merge_aliases"] == ["Marie Curie", "M. Curie"]
    # bounded provenance: a count and a sample on the document, no source_ids array
    assert (doc["mention_count"], doc["source_sample"]) == (2, ["c_1", "c_2"])
    assert "source_ids" not in doc
    many = m.entity_payload(entity, [f"c_{i:03}" for i in range(100)])["doc"]
    assert len(many["source_sample"]) == PROVENANCE_SAMPLE
    # get_entities.aql derives source_ids from the mentions edges
    back = m.doc_to_entity({**doc, "source_ids": ["c_2", "c_1"]})
    assert back.source_chunk_ids == ["c_1", "c_2"]
    assert back.mention_count == 2
    assert (back.name, back.type, back.description) == ("Marie Curie", "PERSON", "physicist")
    assert back.embedding is not None
    assert entity.embedding is not None
    assert np.allclose(back.embedding, entity.embedding, atol=1e-7)
    exported = m.doc_to_entity(doc, with_provenance=False)
    assert (exported.source_chunk_ids, exported.mention_count) == ([], 0)


def test_relation_round_trip_derives_weight_and_provenance_from_evidence() -> None:
    rel = Relation(
        id="r_1",
        source_id="e_1",
        target_id="e_2",
        predicate="found",
        kind=RelationKind.SVO,
        evidence=[
            Evidence(chunk_id="c_1", sentence="s1", weight=1.0),
            Evidence(chunk_id="c_2", sentence="s2", weight=2.0),
        ],
    )
    doc = m.relation_to_doc(rel, m.evidence_docs(rel))
    assert (doc["_from"], doc["_to"]) == ("entities/e_1", "entities/e_2")
    assert (doc["weight"], doc["support_count"]) == (3.0, 2)
    assert doc["evidence_sample"] == m.evidence_docs(rel)
    assert "evidence" not in doc
    assert "source_ids" not in doc
    assert m.evidence_rows("r_1", m.evidence_docs(rel)) == [
        {
            "_key": m.evidence_key("r_1", "c_1", 0),
            "relation": "r_1",
            "chunk": "c_1",
            "sentence": "s1",
            "weight": 1.0,
        },
        {
            "_key": m.evidence_key("r_1", "c_2", 1),
            "relation": "r_1",
            "chunk": "c_2",
            "sentence": "s2",
            "weight": 2.0,
        },
    ]
    # the reads (expansion, export_document.aql) derive the evidence from the collection
    doc = {**doc, "evidence": m.evidence_docs(rel)}
    back = m.doc_to_relation(doc)
    assert back.model_dump() == {
        **rel.model_dump(),
        "weight": 3.0,
        "source_chunk_ids": ["c_1", "c_2"],
    }
    only_c2 = m.doc_to_relation(doc, chunk_filter={"c_2"})
    assert (only_c2.weight, only_c2.source_chunk_ids) == (2.0, ["c_2"])
    without_text = {k: v for k, v in doc.items() if k != "evidence"} | {
        "source_ids": ["c_1", "c_2"]
    }
    listed = m.doc_to_relation(without_text)
    assert (listed.weight, listed.source_chunk_ids, listed.evidence) == (3.0, ["c_1", "c_2"], [])


def test_relation_without_evidence_falls_back_to_its_source_chunks() -> None:
    rel = Relation(
        id="r_1",
        source_id="e_1",
        target_id="e_2",
        predicate="p",
        kind=RelationKind.LLM,
        weight=3.0,
        source_chunk_ids=["c_1", "c_2", "c_3"],
    )
    items = m.evidence_docs(rel)
    assert [e["chunk_id"] for e in items] == ["c_1", "c_2", "c_3"]
    assert sum(e["weight"] for e in items) == pytest.approx(3.0)


def test_mention_and_merge_round_trips() -> None:
    doc = m.mention_to_doc("c_1", "e_1", ["Curie", "Marie"], [(0, 5), (10, 15)])
    assert (doc["_from"], doc["_to"]) == ("chunks/c_1", "entities/e_1")
    back = m.doc_to_mention(doc)
    assert back == Mention(
        chunk_id="c_1", entity_id="e_1", surface_forms=["Curie", "Marie"], spans=[(0, 5), (10, 15)]
    )
    merge = MergeRecord(
        id=merge_id("e_a", "e_b"),
        alias_id="e_a",
        alias_name="Curie",
        alias_type="PERSON",
        canonical_id="e_b",
        score=0.97,
        method="embedding",
    )
    assert m.doc_to_merge(m.merge_to_doc(merge)) == merge
    undone = merge.model_copy(update={"undone_at": datetime(2026, 1, 2, tzinfo=UTC)})
    assert m.doc_to_merge(m.merge_to_doc(undone)).undone_at == undone.undone_at


# --------------------------------------------------------------------------- keys and scalars


@pytest.mark.parametrize("key", ["e_0123abcd", "a-b.c@d(e)+f,g=h;i$j!k*l'm%n", "x" * 254])
def test_valid_keys_pass(key: str) -> None:
    m.check_key("entity", key)


@pytest.mark.parametrize("key", ["", "a/b", "has space", "ümlaut", "a:b", "x" * 255])
def test_invalid_keys_are_rejected_naming_the_key(key: str) -> None:
    with pytest.raises(StoreQueryError, match="not a valid ArangoDB key") as err:
        m.check_key("entity", key)
    assert repr(key)[:30] in str(err.value)
    assert m.valid_keys(["ok_1", key, "ok_1"]) == ["ok_1"]


def test_keyword_text_keeps_search_words_only() -> None:
    assert m.keyword_text("Who founded the Radium Institute, and who founded it?") == (
        "founded radium institute"
    )
    assert m.keyword_text("the of and") == ""


def test_query_vector_is_normalised_and_checked() -> None:
    values = m.query_vector(np.array([[3.0, 4.0]]), 2)
    assert values == pytest.approx([0.6, 0.8])
    with pytest.raises(StoreQueryError, match="store holds 3-d vectors"):
        m.query_vector(np.ones(2), 3)


# --------------------------------------------------------------------------- batch planning


def test_plan_merges_entities_and_relations_shared_by_documents() -> None:
    marie_a = person("Marie Curie", embedding=False)
    marie_b = person("Marie Curie", aliases=["Madame Curie"])
    pierre = person("Pierre Curie")
    ga = graph("a.txt", "Marie Curie knew Pierre Curie.", [marie_a, pierre])
    gb = graph("b.txt", "Madame Curie knew Pierre Curie.", [marie_b, pierre])
    plan = plan_batch([ga, gb], DIM)
    assert plan.doc_keys == [ga.document.id, gb.document.id]
    entities = {p["doc"]["_key"]: p for p in plan.entities}
    marie = entities[marie_a.id]["doc"]
    assert marie["aliases"] == ["Madame Curie"]
    assert "embedding" in marie  # taken from the second document's version
    assert marie["source_sample"] == sorted([ga.chunks[0].id, gb.chunks[0].id])
    assert marie["mention_count"] == 2
    (rel,) = plan.relations
    assert len(rel["evidence_sample"]) == 2
    assert (rel["weight"], rel["support_count"]) == (2.0, 2)
    assert sorted(e["chunk"] for e in plan.evidence) == sorted([ga.chunks[0].id, gb.chunks[0].id])
    assert {e["relation"] for e in plan.evidence} == {rel["_key"]}
    assert len({e["_key"] for e in plan.evidence}) == 2
    assert len(plan.mentions) == 4
    assert len(plan.part_of) == 2
    assert all(d["status"] == "done" and d["chunk_count"] == 1 for d in plan.documents)
    assert plan.external == []


def test_plan_keeps_the_last_version_of_a_repeated_document() -> None:
    old = graph("a.txt", "Marie Curie.", [person("Marie Curie")])
    new = graph("a.txt", "Pierre Curie.", [person("Pierre Curie")])
    plan = plan_batch([old, new], DIM)
    assert plan.doc_keys == [new.document.id]
    assert [c["text"] for c in plan.chunks] == ["Pierre Curie."]
    assert [p["doc"]["name"] for p in plan.entities] == ["Pierre Curie"]


def test_plan_merges_repeated_mentions_and_lists_external_entities() -> None:
    marie = person("Marie Curie")
    g = graph("a.txt", "Marie Curie, Marie.", [marie], relate=False)
    g.mentions.append(
        Mention(
            chunk_id=g.chunks[0].id, entity_id=marie.id, surface_forms=["Marie"], spans=[(13, 18)]
        )
    )
    g.entities = []  # referenced only: it must already be stored
    plan = plan_batch([g], DIM)
    (mention,) = plan.mentions
    assert mention["surface_forms"] == ["Marie Curie", "Marie"]
    assert mention["spans"] == [[0, 11], [13, 18]]
    assert plan.external == [marie.id]
    # the stored entity only gains the mentioning chunk in its sample (no name, no aliases);
    # its exact provenance is the mentions edge, which retraction and orphan removal read
    (ref,) = plan.entities
    assert ref == {
        "doc": {"_key": marie.id, "aliases_norm": [], "source_sample": [g.chunks[0].id]},
        "merge_aliases": [],
    }


def _broken(kind: str) -> DocumentGraph:
    g = graph(
        "bad.txt", "Marie Curie knew Pierre Curie.", [person("Marie Curie"), person("Pierre Curie")]
    )
    if kind == "foreign chunk":
        g.chunks[0].document_id = "d_other"
    elif kind == "duplicate chunk":
        g.chunks.append(g.chunks[0])
    elif kind == "dimension":
        g.chunks[0].embedding = np.ones(DIM + 1, dtype=np.float32)
    elif kind == "no evidence":
        g.relations[0].evidence = []
    elif kind == "evidence elsewhere":
        g.relations[0].evidence[0].chunk_id = "c_elsewhere"
    elif kind == "mention elsewhere":
        g.mentions[0].chunk_id = "c_elsewhere"
    elif kind == "entity dimension":
        g.entities[0].embedding = np.ones(3, dtype=np.float32)
    return g


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("foreign chunk", "belongs to document d_other"),
        ("duplicate chunk", "appears twice"),
        ("dimension", "9-d embedding, the store uses 8"),
        ("no evidence", "has no evidence"),
        ("evidence elsewhere", "cites chunk c_elsewhere of another document"),
        ("mention elsewhere", "cites chunk c_elsewhere of another document"),
        ("entity dimension", "3-d embedding, the store uses 8"),
    ],
)
def test_plan_rejects_invalid_graphs_naming_the_document(kind: str, message: str) -> None:
    with pytest.raises(StoreQueryError, match=message) as err:
        plan_batch([graph("ok.txt", "Fine.", [person("Ann Lee")]), _broken(kind)], DIM)
    assert "'bad.txt'" in str(err.value)
    assert "nothing of this document was written" in str(err.value)


def test_plan_rejects_an_invalid_id_before_any_write() -> None:
    g = graph("a.txt", "Marie.", [person("Marie Curie")])
    g.entities[0].id = "e/bad"
    g.mentions[0].entity_id = "e/bad"
    with pytest.raises(StoreQueryError, match=r"'e/bad' is not a valid ArangoDB key"):
        plan_batch([g], DIM)


def test_split_payload_bounds_items_and_bytes() -> None:
    items = [{"_key": f"k{i}", "text": "x" * 100} for i in range(10)]
    assert [len(p) for p in split_payload("chunk", items, max_items=4)] == [4, 4, 2]
    by_bytes = split_payload("chunk", items, max_items=100, max_bytes=250)
    assert all(len(p) == 2 for p in by_bytes)
    assert sum(len(p) for p in by_bytes) == 10
    huge = [{"_key": "big", "text": "x" * (MAX_DOCUMENT_BYTES + 1)}]
    with pytest.raises(
        StoreQueryError, match=r"chunk big is 16\.0 MiB.*GRAPHRAG_CHUNKING__MAX_TOKENS"
    ):
        split_payload("chunk", huge, max_items=10)


# --------------------------------------------------------------------------- read results


def test_candidates_rows_become_candidates() -> None:
    row = {
        "vector_chunks": [{"id": "c_1", "score": 0.9}],
        "bm25_chunks": [{"id": "c_2", "score": 3.5}],
        "entity_seeds": [{"id": "e_1", "score": 1.0}],
        "expansion": {
            "entities": [
                {"id": "e_1", "score": 1.0, "path": ["e_1"], "seed": "e_1"},
                {"id": "e_2", "score": 0.5, "path": ["e_1", "e_2"], "seed": "e_1"},
            ],
            "relations": [
                {
                    "_key": "r_1",
                    "_from": "entities/e_1",
                    "_to": "entities/e_2",
                    "predicate": "know",
                    "kind": "svo",
                    "weight": 1.0,
                    "evidence": [{"chunk_id": "c_1", "sentence": "s", "weight": 1.0}],
                    "source_ids": ["c_1"],
                }
            ],
        },
        "graph_chunks": [{"id": "c_1", "score": 1.5, "entities": ["e_1", "e_2"]}],
    }
    found = m.candidates_from(row)
    assert [h.id for h in found.vector_chunks] == ["c_1"]
    assert found.bm25_chunks[0].score == 3.5
    assert found.expansion.paths == [["e_1"], ["e_1", "e_2"]]
    assert found.expansion.relations[0].source_id == "e_1"
    assert found.chunk_entities == {"c_1": ["e_1", "e_2"]}
    assert m.expansion_from(None).entities == []


def test_subgraph_rows_become_a_subgraph() -> None:
    row = {
        "chunk_entity": [["c_1", "e_1", 2]],
        "entity_entity": [["e_1", "e_2", 1.5]],
        "counts": [["e_1", 4], ["e_2", None]],
    }
    sub = m.subgraph_from(row)
    assert sub.chunk_entity == [("c_1", "e_1", 2.0)]
    assert sub.entity_entity == [("e_1", "e_2", 1.5)]
    assert sub.entity_chunk_counts == {"e_1": 4, "e_2": 0}


def test_exported_rows_rebuild_the_document_graph() -> None:
    g = graph(
        "a.txt", "Marie Curie knew Pierre Curie.", [person("Marie Curie"), person("Pierre Curie")]
    )
    plan = plan_batch([g], DIM)
    row = {
        "document": plan.documents[0],
        "chunks": plan.chunks,
        "mentions": plan.mentions,
        "relations": [  # export_document.aql: the evidence of the document's chunks
            {
                **r,
                "evidence": [
                    {"chunk_id": e["chunk"], "sentence": e["sentence"], "weight": e["weight"]}
                    for e in plan.evidence
                    if e["relation"] == r["_key"]
                ],
            }
            for r in plan.relations
        ],
        "entities": [p["doc"] for p in reversed(plan.entities)],
    }
    rebuilt = m.graph_from_export(row, [])
    assert rebuilt.document.id == g.document.id
    assert [e.id for e in rebuilt.entities] == [e.id for e in g.entities]
    assert [r.model_dump() for r in rebuilt.relations] == [
        {**r.model_dump(), "source_chunk_ids": [g.chunks[0].id]} for r in g.relations
    ]
    assert rebuilt.mentions == g.mentions
    again = plan_batch([rebuilt], DIM)
    assert again.entities == plan.entities


def test_validation_stops_at_the_first_invalid_graph_keeping_those_before() -> None:
    good = graph("good.txt", "Marie Curie.", [person("Marie Curie")])
    bad = _broken("no evidence")
    later = graph("later.txt", "Ann Lee.", [person("Ann Lee")])
    external, failure = validate_in_order([good, bad, later], DIM)
    assert external == [set()]
    assert failure is not None
    assert failure[0] == 1
    assert "'bad.txt'" in str(failure[1])


def test_unknown_entities_fail_unless_stored_or_given_earlier() -> None:
    marie = person("Marie Curie")
    first = graph("a.txt", "Marie Curie.", [marie], relate=False)
    second = graph("b.txt", "Marie Curie again.", [marie], relate=False)
    second.entities = []  # relies on the first document's version
    external, failure = validate_in_order([first, second], DIM)
    assert failure is None
    assert external == [set(), {marie.id}]
    assert first_unknown([first, second], external, missing={marie.id}) is None
    position, error = first_unknown([second, first], external[::-1], {marie.id}) or (None, None)
    assert position == 0
    assert "unknown entities" in str(error)
    assert "'b.txt'" in str(error)


def test_no_null_attribute_is_written_for_entities_and_relations() -> None:
    bare = person("Edda Vale").model_copy(update={"embedding": None, "description": None})
    doc = m.entity_payload(bare, ["c_1"])["doc"]
    assert None not in doc.values()
    assert "embedding" not in doc  # sparse vector index: absent, never null
    assert "description" not in doc
    assert "rank" not in doc  # ranks live in entity_ranks (the analysis writes them)
    rel = Relation(
        id="r_2",
        source_id="e_1",
        target_id="e_2",
        predicate="meet",
        kind=RelationKind.SVO,
        evidence=[Evidence(chunk_id="c_1", sentence="s", weight=1.0)],
    )
    edge = m.relation_to_doc(rel, m.evidence_docs(rel))
    assert None not in edge.values()
    assert "description" not in edge
    described = rel.model_copy(update={"description": "met in Paris"})
    assert m.relation_to_doc(described, m.evidence_docs(described))["description"] == (
        "met in Paris"
    )
