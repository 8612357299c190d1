"""Contract: a hub entity adds at most ``degree_cap`` chunks to the local/hybrid candidates.

Both stores read, per kept entity, its ``degree_cap`` strongest mentions (most spans, at
least 1), then by chunk id, for the graph chunks of ``candidates`` and for ``subgraph``; the
expected chunks are computed from the fixture's texts, so both stores must give the same ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.models import CandidateRequest
from tests.contract.builder import Doc, build, cid, eid, spans

pytestmark = pytest.mark.asyncio(loop_scope="session")

HUB, OTHER = "Acme", "Zenith"
HUB_DOC = Doc(
    source="corpus/hub.txt",
    chunks=[
        "Acme, Acme and Acme again.",
        "Acme met Acme.",
        "Acme once.",
        "Acme here.",
        "Acme there with Zenith.",
        "Only Acme.",
    ],
    mentions=[[HUB], [HUB], [HUB], [HUB], [HUB, OTHER], [HUB]],
)


def _strongest(name: str, cap: int) -> list[str]:
    """The chunks of ``name`` a store keeps under ``cap``: most spans first, then by id."""
    mentioned = [
        (len(spans(text, name)), cid(HUB_DOC.source, i))
        for i, text in enumerate(HUB_DOC.chunks)
        if name in HUB_DOC.mentions[i]
    ]
    return [c for _, c in sorted(mentioned, key=lambda m: (-m[0], m[1]))[:cap]]


@pytest.fixture
async def hub(store: Any, hash_embedder: Any) -> Any:
    await store.upsert_documents([await build(hash_embedder, HUB_DOC)])
    return store


@pytest.mark.parametrize("cap", [1, 3, 10])
async def test_a_hub_entity_adds_at_most_the_cap_of_chunks(
    hub: Any, hash_embedder: Any, cap: int
) -> None:
    [query] = await hash_embedder.embed(["Acme"])
    request = CandidateRequest(
        query_vector=query,
        query_text="",
        seed_entity_ids=[eid(HUB), eid(OTHER)],
        k_chunks=10,
        k_entities=0,
        hops=1,
        degree_cap=cap,
        max_entities=10,
        use_bm25=False,
    )

    found = await hub.candidates(request)

    assert {h.id: h.score for h in found.expansion.entities} == {eid(HUB): 1.0, eid(OTHER): 1.0}
    kept = {name: _strongest(name, cap) for name in (HUB, OTHER)}
    expected: dict[str, list[str]] = {}
    for name, chunks in kept.items():
        for chunk in chunks:
            expected.setdefault(chunk, []).append(eid(name))
    ranked = sorted(expected, key=lambda c: (-len(expected[c]), c))
    assert [h.id for h in found.graph_chunks] == ranked
    assert [h.score for h in found.graph_chunks] == pytest.approx(
        [float(len(expected[c])) for c in ranked]
    )
    assert {c: sorted(e) for c, e in found.chunk_entities.items()} == {
        c: sorted(e) for c, e in expected.items()
    }
    from_hub = [c for c, e in found.chunk_entities.items() if eid(HUB) in e]
    assert len(from_hub) == min(cap, len(HUB_DOC.chunks))
    assert sorted(from_hub) == sorted(kept[HUB])


@pytest.mark.parametrize("cap", [1, 3])
async def test_the_subgraph_keeps_the_same_chunks_of_a_hub(hub: Any, cap: int) -> None:
    graph = await hub.subgraph([], [eid(HUB)], degree_cap=cap)

    assert {c for c, _, _ in graph.chunk_entity} == set(_strongest(HUB, cap))
    assert graph.entity_chunk_counts[eid(HUB)] == len(HUB_DOC.chunks)
