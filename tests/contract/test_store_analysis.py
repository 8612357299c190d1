"""Contract: graph analysis results (entity ranks, communities) are stored and replaced whole."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from graphrag.errors import StoreQueryError
from graphrag.models import Community
from tests.contract.builder import CORPUS, CORPUS_COUNTS, PIERRE, build, counts, did, eid

pytestmark = pytest.mark.asyncio(loop_scope="session")

PEOPLE = [eid("Marie Curie"), eid("Pierre Curie"), eid("Albert Einstein")]
PLACES = [eid("Paris"), eid("Warsaw"), eid("Sceaux")]


def community(name: str, ordinal: int, members: list[str], *, level: int = 0) -> Community:
    return Community(
        id=f"k_{name}",
        level=level,
        ordinal=ordinal,
        member_ids=members,
        title=f"title {name}",
        summary=f"Extractive summary: {name}",
    )


async def ranks_of(store: Any, ids: list[str]) -> dict[str, float | None]:
    return {e.id: e.rank for e in await store.get_entities(ids)}


async def test_a_new_store_has_no_communities(store: Any) -> None:
    assert await store.list_communities() == []
    assert (await store.stats()).communities == 0


async def test_ranks_are_stored_and_returned_by_get_entities(filled: Any) -> None:
    await filled.save_analysis({eid("Marie Curie"): 0.4, eid("Paris"): 0.1}, [])

    ranks = await ranks_of(filled, [eid("Marie Curie"), eid("Paris"), eid("Warsaw")])

    assert ranks[eid("Marie Curie")] == pytest.approx(0.4)
    assert ranks[eid("Paris")] == pytest.approx(0.1)
    assert ranks[eid("Warsaw")] is None


async def test_unknown_entity_ids_are_ignored(filled: Any) -> None:
    unknown = eid("Nobody At All")
    groups = [community("a", 0, [eid("Paris"), unknown, eid("Warsaw")])]

    await filled.save_analysis({unknown: 0.9, eid("Paris"): 0.2}, groups)

    assert await filled.get_entities([unknown]) == []
    assert counts(await filled.stats()) == {**CORPUS_COUNTS, "communities": 1}
    [stored] = await filled.list_communities()
    assert stored.member_ids == [eid("Paris"), eid("Warsaw")]


async def test_communities_round_trip_in_level_then_ordinal_order(
    filled: Any, hash_embedder: Any
) -> None:
    [vector] = await hash_embedder.embed(["people"])
    people = community("people", 0, PEOPLE).model_copy(update={"embedding": vector})
    groups = [community("top", 0, PLACES, level=1), community("places", 1, PLACES), people]

    await filled.save_analysis({}, groups)

    stored = await filled.list_communities()
    assert [c.id for c in stored] == ["k_people", "k_places", "k_top"]
    first = stored[0]
    assert (first.level, first.ordinal) == (0, 0)
    assert first.member_ids == PEOPLE  # saved order, not sorted
    assert first.title == "title people"
    assert first.summary == "Extractive summary: people"
    assert first.embedding is not None
    assert np.allclose(first.embedding, vector, atol=1e-6)
    assert stored[1].embedding is None
    assert (await filled.stats()).communities == 3


async def test_a_new_analysis_replaces_the_previous_one(filled: Any) -> None:
    await filled.save_analysis(
        {eid("Marie Curie"): 0.5, eid("Paris"): 0.3}, [community("old", 0, PEOPLE)]
    )

    await filled.save_analysis({eid("Paris"): 0.7}, [community("new", 0, PLACES)])

    ranks = await ranks_of(filled, [eid("Marie Curie"), eid("Paris")])
    assert ranks == {eid("Marie Curie"): None, eid("Paris"): pytest.approx(0.7)}
    assert [(c.id, c.member_ids) for c in await filled.list_communities()] == [("k_new", PLACES)]


async def test_an_empty_analysis_clears_ranks_and_communities(filled: Any) -> None:
    await filled.save_analysis({eid("Paris"): 0.7}, [community("a", 0, PLACES)])

    await filled.save_analysis({}, [])

    assert await filled.list_communities() == []
    assert (await ranks_of(filled, [eid("Paris")]))[eid("Paris")] is None
    assert counts(await filled.stats()) == CORPUS_COUNTS


async def test_deleted_entities_leave_their_communities(filled: Any) -> None:
    only_pierre = [eid("Pierre Curie"), eid("Sceaux")]  # mentioned by PIERRE alone
    await filled.save_analysis(
        {eid("Pierre Curie"): 0.2}, [community("pierre", 0, [*only_pierre, eid("Paris")])]
    )

    await filled.delete_document(did(PIERRE.source))

    [stored] = await filled.list_communities()
    assert stored.id == "k_pierre"
    assert stored.member_ids == [eid("Paris")]


async def test_ranks_survive_rewriting_a_document(filled: Any, hash_embedder: Any) -> None:
    await filled.save_analysis({eid("Marie Curie"): 0.4}, [community("c", 0, PEOPLE)])

    await filled.upsert_documents([await build(hash_embedder, PIERRE)])

    assert (await ranks_of(filled, [eid("Marie Curie")]))[eid("Marie Curie")] == 0.4
    [stored] = await filled.list_communities()
    assert eid("Marie Curie") in stored.member_ids


@pytest.mark.parametrize(
    ("ranks", "groups", "problem"),
    [
        ({eid("Paris"): math.nan}, [], "finite"),
        ({}, [community("x", 0, PLACES), community("x", 1, PEOPLE)], "k_x"),
    ],
    ids=["nan-rank", "duplicate-community"],
)
async def test_invalid_analysis_writes_nothing(
    filled: Any, ranks: dict[str, float], groups: list[Community], problem: str
) -> None:
    await filled.save_analysis({eid("Paris"): 0.3}, [community("kept", 0, PLACES)])

    with pytest.raises(StoreQueryError, match=problem):
        await filled.save_analysis(ranks, groups)

    assert [c.id for c in await filled.list_communities()] == ["k_kept"]
    assert (await ranks_of(filled, [eid("Paris")]))[eid("Paris")] == pytest.approx(0.3)


async def test_community_embedding_of_another_dimension_is_refused(filled: Any) -> None:
    wrong = community("w", 0, PLACES).model_copy(update={"embedding": np.ones(3, dtype=np.float32)})

    with pytest.raises(StoreQueryError, match="3-d embedding"):
        await filled.save_analysis({}, [wrong])

    assert await filled.list_communities() == []


async def test_an_analysis_of_all_entities_round_trips(filled: Any) -> None:
    entity_ids = list(dict.fromkeys(eid(n) for d in CORPUS for names in d.mentions for n in names))
    ranks = {e: 1.0 / (i + 1) for i, e in enumerate(entity_ids)}

    await filled.save_analysis(ranks, [community("all", 0, entity_ids)])

    assert await ranks_of(filled, entity_ids) == pytest.approx(ranks)
    [stored] = await filled.list_communities()
    assert stored.member_ids == entity_ids
