"""The ``global`` retrieval mode: community summaries ranked against the question.

Runs against the real embedded store with the hand-built corpus of ``test_modes`` (Curies,
Warsaw, Poland, Einstein, bananas). Communities are either computed by ``analyze_graph`` or
saved by hand with chosen embeddings, so that rankings are known exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from graphrag.analyze import analyze_graph, parse_key_sentences
from graphrag.answer.extractive import NO_PASSAGES_TEXT
from graphrag.config import RetrievalSettings, load_settings
from graphrag.errors import LLMError
from graphrag.ids import chunk_id, document_id, entity_id, normalize_name
from graphrag.models import AnswerKind, Community, RetrievalMode, ScoredCommunity
from graphrag.retrieve.global_answer import GLOBAL_EXTRACTIVE_NOTE, GlobalAnswerer
from graphrag.retrieve.global_search import (
    NOTE_NO_ANALYSIS,
    NOTE_NO_COMMUNITIES,
    NOTE_NO_EMBEDDINGS,
    community_chunks,
    member_shares,
    score_communities,
    stale_note,
)
from graphrag.retrieve.modes import RetrievalService, parse_mode
from graphrag.stores.embedded import EmbeddedGraphStore
from tests.unit.retrieve.test_modes import build_graphs, open_store

QUESTION = "Which themes connect the physicists of this corpus?"


def cid(title: str) -> str:
    """The chunk id of a corpus document (one chunk each)."""
    return chunk_id(document_id(f"/corpus/{title.lower().replace(' ', '_')}.txt"), 0)


def eid(name: str, kind: str) -> str:
    return entity_id(normalize_name(name), kind)


class Analyzer:
    """Stands in for the spaCy question analyzer: returns fixed surfaces."""

    def __init__(self, *surfaces: str) -> None:
        self.surfaces = list(surfaces)

    def entities(self, question: str) -> list[str]:
        return list(self.surfaces)


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> AsyncIterator[EmbeddedGraphStore]:
    store = await open_store(tmp_path / "graph.db", hash_embedder)
    yield store
    await store.close()


@pytest.fixture
async def empty(tmp_path: Path, hash_embedder: Any) -> AsyncIterator[EmbeddedGraphStore]:
    store = await open_store(tmp_path / "empty.db", hash_embedder, fill=False)
    yield store
    await store.close()


def service(store: Any, embedder: Any, analyzer: Any = None, **options: Any) -> RetrievalService:
    return RetrievalService(store, embedder, RetrievalSettings(**options), analyzer)


async def hand_made(store: Any, embedder: Any, texts: Sequence[str]) -> list[Community]:
    """Save three communities whose summary embeddings are the embeddings of ``texts``."""
    people, poland, einstein = await embedder.embed(list(texts))
    saved = [
        Community(
            id="k_curie",
            level=0,
            ordinal=0,
            member_ids=[eid("Marie Curie", "PERSON"), eid("Pierre Curie", "PERSON")],
            title="Marie Curie, Pierre Curie",
            summary=f"Extractive summary: Curies. Key sentences: “Pierre Curie was a French "
            f"physicist.” [{cid('Pierre Curie')}].",
            chunk_ids=[cid("Pierre Curie"), cid("Marie Curie")],
            embedding=people,
        ),
        Community(
            id="k_poland",
            level=0,
            ordinal=1,
            member_ids=[eid("Poland", "GPE"), eid("Polish", "LANGUAGE")],
            title="Poland, Polish",
            summary="Extractive summary: Poland.",
            chunk_ids=[cid("Poland"), cid("Warsaw")],
            embedding=poland,
        ),
        Community(
            id="k_einstein",
            level=0,
            ordinal=2,
            member_ids=[eid("Albert Einstein", "PERSON"), eid("Bern", "GPE")],
            title="Albert Einstein, Bern",
            summary="Extractive summary: Einstein.",
            chunk_ids=[cid("Albert Einstein")],
            embedding=einstein,
        ),
    ]
    await store.save_analysis({}, saved)
    return saved


TEXTS = ("Curie physicists married in Paris", "Poland country language", "Einstein relativity")


# ----------------------------------------------------------------------------- scoring


def test_member_shares_weight_each_linked_entity_by_its_link_score() -> None:
    links = {"e_a": 1.0, "e_b": 0.6, "e_c": 0.4, "e_zero": 0.0}
    membership = {"e_a": ["k_1"], "e_b": ["k_2"], "e_c": ["k_2", "k_2"], "e_zero": ["k_3"]}

    shares = member_shares(links, membership)

    assert shares == pytest.approx({"k_1": 0.5, "k_2": 0.5})
    assert member_shares({}, membership) == {}
    assert member_shares({"e_x": 1.0}, {}) == {}


def test_scores_blend_cosine_and_membership() -> None:
    similarity = {"k_close": 0.6, "k_named": 0.3, "k_far": 0.1}
    shares = {"k_named": 1.0, "k_member_only": 0.5}

    best = score_communities(similarity, shares, member_weight=0.3, limit=3)

    assert [h.id for h in best] == ["k_named", "k_close", "k_member_only"]
    assert best[0].score == pytest.approx(0.7 * 0.3 + 0.3)
    assert best[1].score == pytest.approx(0.7 * 0.6)
    assert best[2].score == pytest.approx(0.3 * 0.5)  # no cosine known: counts 0
    assert [h.id for h in score_communities(similarity, shares, member_weight=0.0)][:2] == [
        "k_close",
        "k_named",
    ]
    tie = score_communities({"k_b": 0.2, "k_a": 0.2}, {})
    assert [h.id for h in tie] == ["k_a", "k_b"]
    assert [h.score for h in tie] == pytest.approx([0.14, 0.14])


def test_chunks_interleave_communities_and_keep_their_best_score() -> None:
    def scored(cid: str, score: float, chunks: list[str]) -> ScoredCommunity:
        return ScoredCommunity(
            id=cid, level=0, title=cid, summary="", size=2, score=score, similarity=score,
            chunk_ids=chunks,
        )  # fmt: skip

    hits = community_chunks(
        [scored("k_1", 0.8, ["c_a", "c_b", "c_c"]), scored("k_2", 0.6, ["c_d", "c_a"])]
    )

    assert [h.id for h in hits] == ["c_a", "c_d", "c_b", "c_c"]
    assert [h.score for h in hits] == pytest.approx([0.8, 0.6, 0.4, 0.8 / 3])


def test_global_is_a_retrieval_mode() -> None:
    assert parse_mode("GLOBAL") is RetrievalMode.GLOBAL
    assert "global" in [m.value for m in RetrievalMode]


def test_global_options_are_validated(store: Any, hash_embedder: Any) -> None:
    with pytest.raises(ValueError, match="global_communities"):
        service(store, hash_embedder, global_communities=0)
    with pytest.raises(ValueError, match="global_member_weight"):
        service(store, hash_embedder, global_member_weight=1.5)


# ----------------------------------------------------------------------------- before analyze


async def test_before_analyze_an_empty_store_gives_an_empty_context_with_a_note(
    empty: Any, hash_embedder: Any
) -> None:
    context = await service(empty, hash_embedder).retrieve(QUESTION, mode="global")

    assert context.mode is RetrievalMode.GLOBAL
    assert (context.chunks, context.communities) == ([], [])
    # the dense fallback found nothing either, so it adds no note
    assert context.notes == [NOTE_NO_ANALYSIS]
    assert "graphrag analyze" in context.notes[0]
    assert "total" in context.timings


async def test_before_analyze_a_filled_store_falls_back_to_dense_passages(
    store: Any, hash_embedder: Any
) -> None:
    """Bad input's rule holds for ``global`` too: never an empty context when the store has
    chunks. Before ``graphrag analyze`` there is nothing to rank, so the question gets the
    dense ranking, both notes, and an answer from the chunks (not from communities)."""
    from graphrag.answer.by_mode import ModeAnswerer
    from graphrag.answer.extractive import ExtractiveAnswerer
    from graphrag.retrieve.modes import DENSE_FALLBACK_NOTE

    retriever = service(store, hash_embedder)  # the fixture's store has documents, no analysis

    context = await retriever.retrieve("Marie Curie born in Warsaw", mode="global", top_k=3)
    naive = await retriever.retrieve("Marie Curie born in Warsaw", mode="naive", top_k=3)

    assert context.mode is RetrievalMode.GLOBAL
    assert context.communities == []
    assert [c.id for c in context.chunks] == [c.id for c in naive.chunks]
    assert len(context.chunks) == 3
    assert context.notes[0] == NOTE_NO_ANALYSIS
    assert len(context.notes) == 2
    assert DENSE_FALLBACK_NOTE in context.notes[1]
    assert "no community summaries to rank" in context.notes[1]

    chunks = ExtractiveAnswerer(hash_embedder, spacy_model=None)
    answerer = ModeAnswerer(chunks, {RetrievalMode.GLOBAL: GlobalAnswerer()})
    answer = await answerer.answer("Marie Curie born in Warsaw", context)
    streamed = answerer.stream("Marie Curie born in Warsaw", context)
    text = "".join([piece async for piece in streamed])

    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.text != NO_PASSAGES_TEXT
    assert answer.citations
    assert {c.chunk_id for c in answer.citations} <= {c.id for c in context.chunks}
    assert text == streamed.answer.text == answer.text
    assert GLOBAL_EXTRACTIVE_NOTE not in answer.notes  # answered from chunks, not summaries


async def test_an_analysis_without_communities_or_embeddings_says_so(
    store: Any, hash_embedder: Any
) -> None:
    await store.save_analysis({}, [])
    none = await service(store, hash_embedder).retrieve(QUESTION, mode="global")
    assert none.notes[0] == NOTE_NO_COMMUNITIES
    assert none.communities == []
    assert none.chunks  # the dense fallback (see the test above), with its note
    assert "no community summaries to rank" in none.notes[1]

    await analyze_graph(store)  # no embedder: summaries without embeddings
    bare = await service(store, hash_embedder).retrieve(QUESTION, mode="global")
    assert bare.notes[0] == NOTE_NO_EMBEDDINGS
    assert bare.communities == []
    assert [c.id for c in bare.chunks] == [c.id for c in none.chunks]


# ----------------------------------------------------------------------------- ranking


async def test_communities_rank_by_summary_cosine_and_bring_their_chunks(
    store: Any, hash_embedder: Any
) -> None:
    await hand_made(store, hash_embedder, TEXTS)

    context = await service(store, hash_embedder).retrieve(
        "Poland country language", mode="global", top_k=3
    )

    assert context.communities[0].id == "k_poland"
    assert {c.id for c in context.communities} == {"k_poland", "k_curie", "k_einstein"}
    poland = context.communities[0]
    assert poland.similarity == pytest.approx(1.0, abs=1e-4)
    assert poland.score == pytest.approx(0.7 * poland.similarity, abs=1e-4)  # nothing linked
    assert (poland.title, poland.size) == ("Poland, Polish", 2)
    assert poland.summary == "Extractive summary: Poland."
    assert context.chunks[0].id == cid("Poland")
    assert len(context.chunks) == 3  # top_k cuts the supporting chunks
    assert context.chunks[0].title == "Poland"
    assert context.chunks[0].source == "/corpus/poland.txt"
    scores = [c.score for c in context.chunks]
    assert scores == sorted(scores, reverse=True)
    assert context.notes == []
    assert {"store", "embed", "rank", "total"} <= set(context.timings)


async def test_question_entities_lift_their_community(store: Any, hash_embedder: Any) -> None:
    await hand_made(store, hash_embedder, TEXTS)
    by_cosine = await service(store, hash_embedder).retrieve(QUESTION, mode="global")
    assert by_cosine.communities[-1].id == "k_einstein"  # the least similar summary
    named = service(store, hash_embedder, Analyzer("Albert Einstein"), global_member_weight=0.5)

    context = await named.retrieve(QUESTION, mode="global")

    assert context.communities[0].id == "k_einstein"  # its member is named
    einstein = context.communities[0]
    assert einstein.score == pytest.approx(0.5 * einstein.similarity + 0.5, abs=1e-4)
    assert context.chunks[0].id == cid("Albert Einstein")
    others = [c for c in context.communities if c.id != "k_einstein"]
    assert all(c.score == pytest.approx(0.5 * c.similarity, abs=1e-4) for c in others)


async def test_question_entities_link_by_exact_name_only(store: Any, hash_embedder: Any) -> None:
    await hand_made(store, hash_embedder, TEXTS)
    analyzer = Analyzer("Albert Einsteins", "Albert Einstein", "Zanzibar")
    calls = len(hash_embedder.calls)

    context = await service(store, hash_embedder, analyzer).retrieve(QUESTION, mode="global")

    assert hash_embedder.calls[calls:] == [[QUESTION]]  # no surface is embedded
    einstein = next(c for c in context.communities if c.id == "k_einstein")
    assert einstein.score == pytest.approx(0.7 * einstein.similarity + 0.3, abs=1e-4)
    assert "analyze" in context.timings


async def test_without_member_weight_the_question_is_not_analysed(
    store: Any, hash_embedder: Any
) -> None:
    await hand_made(store, hash_embedder, TEXTS)

    class Refusing(Analyzer):
        def entities(self, question: str) -> list[str]:
            raise AssertionError("the question was analysed")

    plain = service(store, hash_embedder, Refusing(), global_member_weight=0.0)
    context = await plain.retrieve(QUESTION, mode="global")

    assert len(context.communities) == 3
    assert "analyze" not in context.timings


async def test_the_number_of_communities_is_an_option(store: Any, hash_embedder: Any) -> None:
    await hand_made(store, hash_embedder, TEXTS)

    context = await service(store, hash_embedder, global_communities=1).retrieve(
        "Einstein relativity", mode="global"
    )

    assert [c.id for c in context.communities] == ["k_einstein"]
    assert [c.id for c in context.chunks] == [cid("Albert Einstein")]


async def test_after_a_change_the_context_comes_with_a_stale_note(
    store: Any, hash_embedder: Any
) -> None:
    await hand_made(store, hash_embedder, TEXTS)
    state = await store.analysis_state()
    [bananas] = [g for g in await build_graphs(hash_embedder) if g.document.title == "Bananas"]
    changed = bananas.model_copy(
        update={"document": bananas.document.model_copy(update={"content_hash": "changed"})}
    )
    await store.upsert_documents([changed])

    context = await service(store, hash_embedder).retrieve("Einstein relativity", mode="global")

    assert context.communities  # still served...
    assert context.notes == [stale_note(state.analyzed_at)]  # ...with a warning
    assert "graphrag analyze" in context.notes[0]


async def test_after_analyze_every_chunk_belongs_to_a_returned_community(
    store: Any, hash_embedder: Any
) -> None:
    report = await analyze_graph(store, embedder=hash_embedder)
    assert report.embedded == report.communities >= 2

    context = await service(store, hash_embedder).retrieve(
        "Marie Curie born in Warsaw", mode="global"
    )

    assert 1 <= len(context.communities) <= report.communities
    scores = [c.score for c in context.communities]
    assert scores == sorted(scores, reverse=True)
    supporting = {c for community in context.communities for c in community.chunk_ids}
    assert context.chunks
    assert {c.id for c in context.chunks} <= supporting
    assert context.token_count == sum(c.token_count for c in context.chunks)
    for community in context.communities:
        assert community.summary.startswith("Extractive summary:")


# ----------------------------------------------------------------------------- answers


async def test_without_an_llm_the_answer_quotes_the_best_summaries(
    store: Any, hash_embedder: Any
) -> None:
    await hand_made(store, hash_embedder, TEXTS)
    context = await service(store, hash_embedder).retrieve(TEXTS[0], mode="global")

    answer = await GlobalAnswerer().answer(TEXTS[0], context)

    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.mode is RetrievalMode.GLOBAL
    assert answer.text.splitlines()[0] == (
        "Marie Curie, Pierre Curie: Pierre Curie was a French physicist. [1]"
    )
    [citation] = answer.citations
    assert (citation.marker, citation.chunk_id) == (1, cid("Pierre Curie"))
    assert citation.quote == "Pierre Curie was a French physicist."
    chunk = next(c for c in context.chunks if c.id == citation.chunk_id)
    assert citation.quote in chunk.text
    assert (citation.title, citation.source) == (chunk.title, chunk.source)
    assert answer.notes == [GLOBAL_EXTRACTIVE_NOTE]


async def test_the_answer_cites_only_sentences_of_chunks_in_the_context(
    store: Any, hash_embedder: Any
) -> None:
    await analyze_graph(store, embedder=hash_embedder)
    context = await service(store, hash_embedder).retrieve(QUESTION, mode="global", top_k=1)

    answer = await GlobalAnswerer(max_communities=5).answer(QUESTION, context)

    in_context = {c.id: c for c in context.chunks}
    assert len(in_context) == 1
    for citation in answer.citations:
        assert citation.chunk_id in in_context
        assert citation.quote in in_context[citation.chunk_id].text
    quoted = {s for c in context.communities for s, _ in parse_key_sentences(c.summary)}
    assert {c.quote for c in answer.citations} <= quoted
    assert len(answer.text.splitlines()) == len(context.communities)


async def test_an_empty_context_answers_with_the_notes(empty: Any, hash_embedder: Any) -> None:
    context = await service(empty, hash_embedder).retrieve(QUESTION, mode="global")

    answer = await GlobalAnswerer().answer(QUESTION, context)

    assert answer.text == NO_PASSAGES_TEXT
    assert answer.citations == []
    assert answer.notes == [GLOBAL_EXTRACTIVE_NOTE, NOTE_NO_ANALYSIS]


async def test_with_a_chat_model_the_answer_is_a_map_reduce_over_the_stored_summaries(
    store: Any, hash_embedder: Any
) -> None:
    from graphrag.llm import ScriptedChatModel

    await hand_made(store, hash_embedder, TEXTS)
    context = await service(store, hash_embedder).retrieve(TEXTS[0], mode="global")
    point = '{"points": [{"description": "Pierre Curie was a physicist [1]", "score": 90}]}'
    chat = ScriptedChatModel([point, '{"points": []}', '{"points": []}', "Physics [1]."])

    answer = await GlobalAnswerer(chat, max_communities=3).answer(TEXTS[0], context)

    assert len(chat.calls) == 4  # three maps, one reduce
    assert answer.kind is AnswerKind.GENERATED
    assert answer.text == "Physics [1]."
    assert [c.chunk_id for c in answer.citations] == [context.chunks[0].id]
    with pytest.raises(LLMError, match="no reply left"):  # a failing model is an error
        await GlobalAnswerer(chat).answer(TEXTS[0], context)


async def test_without_a_chat_model_the_stream_is_the_extractive_answer(
    store: Any, hash_embedder: Any
) -> None:
    await hand_made(store, hash_embedder, TEXTS)
    context = await service(store, hash_embedder).retrieve(TEXTS[0], mode="global")

    stream = GlobalAnswerer().stream(TEXTS[0], context)
    text = "".join([piece async for piece in stream])

    assert text == stream.answer.text
    assert stream.answer.kind is AnswerKind.EXTRACTIVE
    assert not stream.live


# ----------------------------------------------------------------------------- entry points


async def test_the_facade_passes_the_global_mode_through(
    tmp_path: Path, hash_embedder: Any
) -> None:
    from graphrag.facade import GraphRAG

    settings = load_settings(embedded={"path": tmp_path / "rag.db"})
    rag = await GraphRAG.open(settings, embedder=hash_embedder, analyzer=Analyzer())  # type: ignore[arg-type]
    try:
        before = await rag.retrieve(QUESTION, mode="global")
        assert before.notes == [NOTE_NO_ANALYSIS]
        store = rag.components.store
        await store.upsert_documents(await build_graphs(hash_embedder))
        await analyze_graph(store, embedder=hash_embedder)

        context = await rag.retrieve("Marie Curie born in Warsaw", mode="global", top_k=2)
        answer = await rag.answer("Marie Curie born in Warsaw", mode=RetrievalMode.GLOBAL)

        assert context.mode is RetrievalMode.GLOBAL
        assert context.communities
        assert 1 <= len(context.chunks) <= 2
        assert answer.mode is RetrievalMode.GLOBAL
        assert answer.context is not None
        assert answer.context.communities
        # the global mode is answered from the communities (routed to GlobalAnswerer)
        assert answer.kind is AnswerKind.EXTRACTIVE
        assert answer.notes[0] == GLOBAL_EXTRACTIVE_NOTE
        assert answer.text.startswith(answer.context.communities[0].title)
        printed = _printed(answer)
        assert f"community 1: {answer.context.communities[0].title}" in printed
    finally:
        await rag.close()


def _printed(answer: Any) -> str:
    from io import StringIO

    from rich.console import Console

    from pipelines.report import print_answer

    out = StringIO()
    print_answer(Console(file=out, width=200, color_system=None), answer)
    return out.getvalue()


async def test_eval_lists_global_and_analyses_the_index_first(
    tmp_path: Path, hash_embedder: Any
) -> None:
    from graphrag.evaluation.datasets import EvalDataset, EvalQuestion, Passage
    from graphrag.runtime import open_components
    from pipelines.eval_job import ensure_analysis, parse_modes, run_eval
    from tests.unit.retrieve.test_modes import CORPUS

    passages = [Passage(title=t, text=x, index=i) for i, (t, x, _, _) in enumerate(CORPUS)]
    questions = [
        EvalQuestion(
            id="q1",
            question="Where was Marie Curie born?",
            gold_titles_texts=[(CORPUS[0][0], CORPUS[0][1])],
            gold_indexes=[0],
        )
    ]
    dataset = EvalDataset(name="tiny", passages=passages, questions=questions)
    opened: list[Any] = []

    async def opener(settings: Any) -> Any:
        components = await open_components(
            settings, embedder=hash_embedder, extractor=FakeExtractor(), analyzer=Analyzer()
        )
        opened.append(components)
        return components

    assert RetrievalMode.GLOBAL in parse_modes(None)
    run = await run_eval(
        dataset,
        settings=load_settings(),
        opener=opener,
        out_dir=tmp_path / "eval",
        modes=parse_modes("naive,global"),
        answers=False,
    )

    assert [s.mode for s in run.scores] == ["naive", "global"]
    assert "global" in run.to_dict()["per_question"]
    assert [m["mode"] for m in run.to_dict()["modes"]] == ["naive", "global"]
    reopened = await opener(opened[0].settings)
    try:
        state = await reopened.store.analysis_state()
        assert state is not None
        assert state.stale is False
        assert await ensure_analysis(reopened) is False  # a current analysis is reused
    finally:
        await reopened.close()


class FakeExtractor:
    """An extractor that finds the corpus entities by name and co-occurrence relations."""

    name = "fake"

    async def extract(self, chunks: Sequence[Any]) -> list[Any]:
        from graphrag.models import ChunkExtraction, RawMention, RawRelation, RelationKind
        from tests.unit.retrieve.test_modes import CORPUS

        names = {n: kind for _, _, ents, _ in CORPUS for n, kind in ents}
        out = []
        for chunk in chunks:
            mentions = [
                RawMention(
                    surface=n, type=k, start=chunk.text.index(n), end=chunk.text.index(n) + len(n)
                )
                for n, k in names.items()
                if n in chunk.text
            ]
            relations = [
                RawRelation(subject=0, object=i, predicate="co_occurs_with",
                            kind=RelationKind.COOCCURRENCE, sentence=chunk.text)
                for i in range(1, len(mentions))
            ]  # fmt: skip
            out.append(ChunkExtraction(chunk_id=chunk.id, mentions=mentions, relations=relations))
        return out
