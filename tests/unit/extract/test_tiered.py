"""The tiered mode: the rule that picks chunks for the LLM, and merging with provenance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from graphrag.config import Settings
from graphrag.extract.llm_extractor import LLMExtractor
from graphrag.extract.ontology import Ontology
from graphrag.extract.tiered import (
    TieredExtractor,
    merge_extractions,
    named_entities,
    select_chunks,
)
from graphrag.llm import ScriptedChatModel
from graphrag.models import Chunk, ChunkExtraction, RawMention, RawRelation, RelationKind
from tests.unit.extract.conftest import BRIDGE, BRIDGE_REPLY, make_chunk, stack


def mention(surface: str, kind: str, start: int = 0, extractor: str = "spacy") -> RawMention:
    return RawMention(
        surface=surface, type=kind, start=start, end=start + len(surface), extractor=extractor
    )


def found(n: int, chunk: Chunk) -> ChunkExtraction:
    """A spaCy-like extraction with ``n`` distinct named entities and two concepts."""
    mentions = [mention(f"Name{i}", "ORG") for i in range(n)]
    mentions += [mention("the firm", "CONCEPT"), mention("Report", "TITLE")]
    return ChunkExtraction(chunk_id=chunk.id, mentions=mentions)


class FakeSpacy:
    """An extractor returning preset extractions (no model)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    @property
    def name(self) -> str:
        return "spacy"

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        return [found(self.counts.get(c.id, 0), c) for c in chunks]


def test_named_entities_leave_out_concepts_titles_and_repeats() -> None:
    chunk = make_chunk("x")
    extraction = found(3, chunk)
    extraction.mentions.append(mention("name0", "ORG", start=5))  # same name again
    assert named_entities(extraction) == 3


def test_the_rule_by_minimum_by_top_share_per_document_and_both() -> None:
    chunks = [make_chunk("a", 0, "d1", tokens=100), make_chunk("b", 1, "d1", tokens=50)]
    chunks += [make_chunk("c", 0, "d2", tokens=100), make_chunk("d", 1, "d2", tokens=100)]
    extractions = [found(n, c) for n, c in zip([3, 2, 0, 1], chunks, strict=True)]
    assert select_chunks(chunks, extractions, min_entities=2, top_share=None) == [0, 1]
    # densities: d1 -> 3.0 and 4.0 per 100 tokens; d2 -> 0 and 1: the top chunk of each
    assert select_chunks(chunks, extractions, min_entities=None, top_share=0.5) == [1, 3]
    assert select_chunks(chunks, extractions, min_entities=2, top_share=0.5) == [1]
    assert select_chunks(chunks, extractions, min_entities=None, top_share=None) == [0, 1, 2, 3]
    assert select_chunks(chunks, extractions, min_entities=None, top_share=0.01) == [1, 3]


def test_merge_dedupes_names_keeps_provenance_and_adopts_the_llm_type() -> None:
    base = ChunkExtraction(
        chunk_id="c",
        mentions=[
            mention("Lantern Bridge", "ORG", start=30),  # spaCy's guess
            mention("Velmora", "GPE", start=60),
            mention("Report", "TITLE", start=0),
        ],
        relations=[
            RawRelation(subject=0, object=1, predicate="co_occurs_with",
                        kind=RelationKind.COOCCURRENCE, sentence="s"),
        ],
    )  # fmt: skip
    extra = ChunkExtraction(
        chunk_id="c",
        mentions=[
            mention("the Lantern Bridge", "FAC", start=26, extractor="llm"),
            mention("Brennick & Vale", "ORG", start=80, extractor="llm"),
            mention("Report", "WORK_OF_ART", start=0, extractor="llm"),
        ],
        relations=[
            RawRelation(subject=1, object=0, predicate="built", kind=RelationKind.LLM,
                        sentence="s", extractor="llm"),
        ],
        error=None,
    )  # fmt: skip
    merged = merge_extractions(base, extra)
    assert [(m.surface, m.type, m.extractor) for m in merged.mentions] == [
        ("Lantern Bridge", "FAC", "spacy"),
        ("Velmora", "GPE", "spacy"),
        ("Report", "TITLE", "spacy"),
        ("Brennick & Vale", "ORG", "llm"),
        ("Report", "WORK_OF_ART", "llm"),
    ]
    assert [(r.subject, r.predicate, r.object, r.extractor) for r in merged.relations] == [
        (0, "co_occurs_with", 1, "spacy"),
        (3, "built", 0, "llm"),
    ]
    failed = merge_extractions(base, ChunkExtraction(chunk_id="c", error="unusable"))
    assert failed.error == "unusable"
    assert failed.mentions == base.mentions


async def test_the_llm_reads_only_the_picked_chunks(
    llm_settings: Settings, ontology: Ontology
) -> None:
    chunks = [
        make_chunk(BRIDGE, 0),
        make_chunk("Quiet text.", 1),
        make_chunk(BRIDGE + " Again.", 2),
    ]
    inner = ScriptedChatModel([BRIDGE_REPLY, BRIDGE_REPLY])
    llm = LLMExtractor(stack(llm_settings, inner), ontology, llm_settings.extraction, concurrency=1)
    tiered = TieredExtractor(
        FakeSpacy({"d1_c0": 2, "d1_c1": 1, "d1_c2": 3}), llm, llm_settings.extraction
    )
    results = await tiered.extract(chunks)

    assert tiered.name == "tiered"
    assert tiered.considered == 3
    assert tiered.stats.chunks == 2
    assert [c.messages[1].content for c in inner.calls] == [
        f"Text:\n{chunks[0].text}",
        f"Text:\n{chunks[2].text}",
    ]
    assert {m.extractor for m in results[0].mentions} == {"spacy", "llm"}
    assert {m.extractor for m in results[1].mentions} == {"spacy"}


@pytest.mark.slow
async def test_tiered_with_real_spacy_merges_one_entity_per_name(
    llm_settings: Settings, ontology: Ontology, extractor: Any
) -> None:
    inner = ScriptedChatModel([BRIDGE_REPLY])
    llm = LLMExtractor(stack(llm_settings, inner), ontology, llm_settings.extraction)
    tiered = TieredExtractor(extractor, llm, llm_settings.extraction)
    [result] = await tiered.extract([make_chunk(BRIDGE)])
    by_name: dict[str, set[str]] = {}
    for m in result.mentions:
        by_name.setdefault(m.surface, set()).add(m.type)
    assert by_name["Tomas Brennick"] == {"PERSON"}
    assert by_name["Lantern Bridge"] == {"FAC"}
    assert any(r.extractor == "llm" for r in result.relations)
    assert len(inner.calls) == 1
