"""Contract: community summaries are embedded, searched, read by id and tracked for staleness.

What the ``global`` retrieval mode needs from a store: ``vector_search("communities", ...)``
(exact cosine over the summary embeddings), ``get_communities``, ``communities_of`` and
``analysis_state`` (when the analysis was saved, and whether documents changed since).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphrag.models import Community
from tests.contract.builder import (
    CHAIN,
    CURIE,
    CURIE_V2,
    EINSTEIN,
    PIERRE,
    build,
    cid,
    did,
    eid,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PEOPLE = [eid("Marie Curie"), eid("Pierre Curie"), eid("Albert Einstein")]
PLACES = [eid("Paris"), eid("Warsaw"), eid("Sceaux")]


async def communities(embedder: Any) -> list[Community]:
    """Three communities: two embedded (people, places), one without an embedding."""
    people, places = await embedder.embed(["physicists and chemists", "cities of Europe"])
    return [
        Community(
            id="k_people",
            level=0,
            ordinal=0,
            member_ids=PEOPLE,
            title="Marie Curie, Pierre Curie, Albert Einstein",
            summary="Extractive summary: people.",
            chunk_ids=[cid(PIERRE.source, 0), cid(CURIE.source, 0)],
            embedding=people,
        ),
        Community(
            id="k_places",
            level=0,
            ordinal=1,
            member_ids=PLACES,
            title="Paris, Warsaw, Sceaux",
            summary="Extractive summary: places.",
            chunk_ids=[cid(CURIE.source, 0)],
            embedding=places,
        ),
        Community(
            id="k_bare",
            level=0,
            ordinal=2,
            member_ids=[eid("Ulm"), eid("Bern")],
            title="Ulm, Bern",
        ),
    ]


@pytest.fixture
async def analysed(filled: Any, hash_embedder: Any) -> Any:
    """The contract corpus with the three communities saved."""
    await filled.save_analysis({}, await communities(hash_embedder))
    return filled


async def test_chunk_ids_round_trip_in_their_order(analysed: Any) -> None:
    stored = {c.id: c for c in await analysed.list_communities()}

    assert stored["k_people"].chunk_ids == [cid(PIERRE.source, 0), cid(CURIE.source, 0)]
    assert stored["k_places"].chunk_ids == [cid(CURIE.source, 0)]
    assert stored["k_bare"].chunk_ids == []


async def test_vector_search_ranks_embedded_communities_by_cosine(
    analysed: Any, hash_embedder: Any
) -> None:
    [probe] = await hash_embedder.embed(["cities of Europe"], kind="query")

    hits = await analysed.vector_search("communities", probe, 5)

    assert [h.id for h in hits] == ["k_places", "k_people"]  # k_bare has no embedding
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score > hits[1].score
    assert [h.id for h in await analysed.vector_search("communities", probe, 1)] == ["k_places"]
    assert await analysed.vector_search("communities", probe, 0) == []


async def test_vector_search_many_over_communities(analysed: Any, hash_embedder: Any) -> None:
    probes = await hash_embedder.embed(["physicists and chemists", "cities of Europe"])

    found = await analysed.vector_search_many("communities", probes, 1)

    assert [[h.id for h in hits] for hits in found] == [["k_people"], ["k_places"]]


async def test_a_store_without_communities_finds_none(store: Any, hash_embedder: Any) -> None:
    [probe] = await hash_embedder.embed(["anything"], kind="query")

    assert await store.vector_search("communities", probe, 3) == []
    assert await store.get_communities(["k_people"]) == []
    assert await store.communities_of([eid("Paris")]) == {}


async def test_get_communities_in_the_order_asked_with_members_and_embedding(
    analysed: Any, hash_embedder: Any
) -> None:
    found = await analysed.get_communities(["k_places", "k_nothing", "k_people", "k_places"])

    assert [c.id for c in found] == ["k_places", "k_people", "k_places"]
    places = found[0]
    assert places.member_ids == PLACES
    assert places.title == "Paris, Warsaw, Sceaux"
    assert places.summary == "Extractive summary: places."
    [vector] = await hash_embedder.embed(["cities of Europe"])
    assert places.embedding is not None
    assert np.allclose(places.embedding, vector, atol=1e-6)
    [bare] = await analysed.get_communities(["k_bare"])
    assert bare.embedding is None
    assert await analysed.get_communities([]) == []


async def test_communities_of_maps_members_to_their_communities(analysed: Any) -> None:
    found = await analysed.communities_of([eid("Paris"), eid("Marie Curie"), eid("Nobody")])

    assert found == {eid("Paris"): ["k_places"], eid("Marie Curie"): ["k_people"]}
    assert await analysed.communities_of([]) == {}


async def test_a_deleted_member_leaves_communities_of(analysed: Any) -> None:
    await analysed.delete_document(did(PIERRE.source))  # Sceaux and Pierre Curie go

    found = await analysed.communities_of([eid("Sceaux"), eid("Pierre Curie"), eid("Paris")])

    assert found == {eid("Paris"): ["k_places"]}
    [places] = await analysed.get_communities(["k_places"])
    assert places.member_ids == [eid("Paris"), eid("Warsaw")]


async def test_a_new_store_has_no_analysis_state(store: Any) -> None:
    assert await store.analysis_state() is None


async def test_a_save_records_counts_and_is_current(analysed: Any) -> None:
    state = await analysed.analysis_state()

    assert state is not None
    assert (state.communities, state.embedded, state.stale) == (3, 2, False)
    assert state.analyzed_at.tzinfo is not None
    await analysed.save_analysis({}, [])
    empty = await analysed.analysis_state()
    assert (empty.communities, empty.embedded, empty.stale) == (0, 0, False)
    assert empty.analyzed_at >= state.analyzed_at


async def test_a_read_does_not_make_the_analysis_stale(analysed: Any, hash_embedder: Any) -> None:
    [probe] = await hash_embedder.embed(["cities"], kind="query")
    await analysed.vector_search("communities", probe, 2)
    await analysed.list_communities()
    await analysed.stats()

    assert (await analysed.analysis_state()).stale is False


@pytest.mark.parametrize("change", ["add", "replace", "delete"])
async def test_changed_documents_make_the_analysis_stale_until_the_next_save(
    analysed: Any, hash_embedder: Any, change: str
) -> None:
    if change == "add":
        await analysed.upsert_documents([await build(hash_embedder, CHAIN)])
    elif change == "replace":
        await analysed.upsert_documents([await build(hash_embedder, CURIE_V2)])
    else:
        await analysed.delete_document(did(EINSTEIN.source))

    stale = await analysed.analysis_state()
    assert stale is not None
    assert stale.stale is True
    assert (stale.communities, stale.embedded) == (3, 2)

    await analysed.save_analysis({}, await communities(hash_embedder))
    assert (await analysed.analysis_state()).stale is False
