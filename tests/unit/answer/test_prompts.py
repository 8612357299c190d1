"""The answer prompt: numbered sources, compact graph facts, the token budget."""

from __future__ import annotations

from graphrag.answer.prompts import NOT_SUPPORTED, build_prompt, is_not_supported
from graphrag.models import (
    Evidence,
    Relation,
    RelationKind,
    RetrievalMode,
    ScoredCommunity,
    ScoredEntity,
)
from tests.unit.answer.llm_helpers import TEXTS, context


def user_text(prompt: object) -> str:
    messages = prompt.messages  # type: ignore[attr-defined]
    assert [m.role for m in messages] == ["system", "user"]
    return str(messages[1].content)


def test_chunks_become_numbered_sources_and_the_rules_are_stated() -> None:
    prompt = build_prompt("Who built the Lantern Bridge?", context())
    assert sorted(prompt.sources) == [1, 2, 3]
    assert prompt.sources[2].id == "c_2"
    text = user_text(prompt)
    assert "[1] Doc 1 (/docs/1.txt)\n" + TEXTS[0] in text
    assert text.index("[1] Doc 1") < text.index("[2] Doc 2") < text.index("[3] Doc 3")
    assert text.rstrip().endswith("Question: Who built the Lantern Bridge?\n\nAnswer:")
    system = prompt.messages[0].content
    assert NOT_SUPPORTED in system
    assert "only" in system
    assert "[1]" in system
    assert prompt.left_out == 0


def test_graph_facts_are_compact_lines_citing_their_sources() -> None:
    entities = [
        ScoredEntity(id="e_b", name="Lantern Bridge", type="FAC", score=1.0),
        ScoredEntity(id="e_k", name="Brennick & Vale", type="ORG", score=0.5),
    ]
    relation = Relation(
        id="r_1",
        source_id="e_k",
        target_id="e_b",
        predicate="build",
        kind=RelationKind.SVO,
        evidence=[Evidence(chunk_id="c_1", sentence=TEXTS[0])],
        source_chunk_ids=["c_1", "c_unknown"],
    )
    unnamed = relation.model_copy(update={"id": "r_2", "source_id": "e_x"})
    ctx = context(
        entities=entities,
        relations=[relation, unnamed],
        paths=[["Brennick & Vale", "Lantern Bridge"], ["alone"]],
    )
    text = user_text(build_prompt("q", ctx))
    assert "Graph facts:" in text
    assert "- Brennick & Vale -build-> Lantern Bridge [1]" in text
    assert "e_x" not in text  # relations between unnamed entities are left out
    assert "- path: Brennick & Vale -> Lantern Bridge" in text
    assert "alone" not in text
    assert "- entities: Lantern Bridge (FAC), Brennick & Vale (ORG)" in text


def test_community_summaries_cite_source_numbers_instead_of_chunk_ids() -> None:
    community = ScoredCommunity(
        id="k_1",
        level=0,
        title="Brennick, Lantern Bridge",
        summary="Extractive summary: Key sentences: “Brennick built it.” [c_2]; “Other.” [c_99].",
        size=4,
        score=0.9,
        similarity=0.9,
        chunk_ids=["c_2"],
    )
    ctx = context(communities=[community], mode=RetrievalMode.GLOBAL)
    text = user_text(build_prompt("q", ctx))
    assert "- community Brennick, Lantern Bridge:" in text
    assert "“Brennick built it.” [2];" in text
    assert "c_99" not in text
    assert "c_2" not in text


def test_the_budget_leaves_out_chunks_that_do_not_fit() -> None:
    long = "word " * 400
    ctx = context([TEXTS[0], long, TEXTS[1]])
    prompt = build_prompt("q", ctx, budget=100)
    assert [c.id for c in prompt.sources.values()] == ["c_1", "c_3"]
    assert sorted(prompt.sources) == [1, 2]  # renumbered: no gaps the model could cite
    assert prompt.left_out == 1
    assert prompt.tokens <= 100


def test_a_first_chunk_larger_than_the_budget_is_cut_to_fit() -> None:
    prompt = build_prompt("q", context(["lorem ipsum " * 500]), budget=64)
    assert list(prompt.sources) == [1]
    assert prompt.tokens <= 64
    assert user_text(prompt).count("lorem") < 100


def test_an_empty_context_has_no_sources() -> None:
    prompt = build_prompt("q", context([]))
    assert prompt.sources == {}
    assert "Sources: (none)" in user_text(prompt)


def test_the_not_supported_reply_is_detected() -> None:
    assert is_not_supported(NOT_SUPPORTED)
    assert is_not_supported("  the context   does not say who built it [1]")
    assert not is_not_supported("Paris [1].")
    assert not is_not_supported("")
