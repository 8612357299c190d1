"""Exploring the graph.

Entity search and detail, neighbourhoods and paths as graph JSON, communities, merges (list,
undo) and store statistics.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Scope, audit, scoped
from api.schemas import (
    CommunityList,
    EntityDetail,
    EntityMentions,
    GraphView,
    MergeList,
    Page,
    UndoResult,
    graph_view,
)
from api.security import Role
from api.views import entity_communities, entity_sentences, top_entities
from graphrag.errors import NotFoundError
from graphrag.models import Entity, StoreStats

router = APIRouter(prefix="/v1", tags=["graph"])

Reader = Annotated[Scope, Depends(scoped(Role.READER))]
Writer = Annotated[Scope, Depends(scoped(Role.WRITER))]


@router.get("/entities", response_model=Page[Entity], summary="Search entities by name")
async def search_entities(
    scope: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200, description="A name.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Page[Entity]:
    """Exact names and aliases first, then the most similar names."""
    found = await scope.rag.search_entities(q, limit=limit)
    return Page(items=found, total=len(found), offset=0, limit=limit)


@router.get("/entities/top", response_model=Page[Entity], summary="Top entities by rank")
async def ranked_entities(
    scope: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Page[Entity]:
    """The highest-ranked entities (PageRank of the last ``graphrag analyze``; empty before)."""
    found = await top_entities(scope.rag, limit)
    return Page(items=found, total=len(found), offset=0, limit=limit)


@router.get("/entities/{entity_id}", response_model=EntityDetail, summary="One entity")
async def get_entity(entity_id: str, scope: Reader) -> EntityDetail:
    """An entity with aliases, type, rank, provenance, merges folded into it, communities."""
    entity = await scope.rag.entity(entity_id)
    merges = [m for m in await scope.rag.merges() if m.canonical_id == entity.id]
    communities = await entity_communities(scope.rag, entity.id)
    return EntityDetail(entity=entity, merges=merges, communities=communities)


@router.get(
    "/entities/{entity_id}/mentions",
    response_model=EntityMentions,
    summary="Sentences that mention an entity",
)
async def mentions(
    entity_id: str, scope: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> EntityMentions:
    """Sentences of the entity's chunks that name it (name, aliases or merged names)."""
    entity = await scope.rag.entity(entity_id)
    merged = [m.alias_name for m in await scope.rag.merges() if m.canonical_id == entity.id]
    names = [entity.name, *entity.aliases, *merged]
    sentences = await entity_sentences(scope.rag, entity, names, limit)
    return EntityMentions(
        entity_id=entity.id, chunks=len(entity.source_chunk_ids), sentences=sentences
    )


@router.get(
    "/entities/{entity_id}/neighbourhood",
    response_model=GraphView,
    summary="Neighbourhood of an entity as graph JSON",
)
async def neighbourhood(
    entity_id: str,
    scope: Reader,
    hops: Annotated[int, Query(ge=1, le=4)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> GraphView:
    """Entities within ``hops`` relations, the relations among them, with evidence."""
    found = await scope.rag.neighbourhood(entity_id, hops=hops, limit=limit)
    return graph_view(found.center, found.entities, found.relations, found.paths)


@router.get("/paths", response_model=GraphView, summary="Paths between two entities")
async def paths(
    scope: Reader,
    source: Annotated[str, Query(min_length=1, max_length=200, description="Entity id.")],
    target: Annotated[str, Query(min_length=1, max_length=200, description="Entity id.")],
    max_hops: Annotated[int, Query(ge=1, le=4)] = 3,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> GraphView:
    """Shortest relation paths from ``source`` to ``target`` and the graph they form."""
    found = await scope.rag.paths(source, target, max_hops=max_hops, limit=limit)
    return graph_view(found.center, found.entities, found.relations, found.paths)


@router.get("/communities", response_model=CommunityList, summary="Communities")
async def communities(scope: Reader) -> CommunityList:
    """Communities of the last ``graphrag analyze`` run (empty before one)."""
    return CommunityList(communities=await scope.rag.communities())


@router.get("/merges", response_model=MergeList, tags=["merges"], summary="Entity merges")
async def merges(scope: Reader) -> MergeList:
    """Every merge decision (alias -> canonical), undone ones included."""
    records = await scope.rag.merges()
    active = sum(1 for r in records if r.undone_at is None)
    return MergeList(total=len(records), active=active, merges=records)


@router.post("/merges/{merge_id}/undo", response_model=UndoResult, tags=["merges"], summary="Undo")
async def undo_merge(merge_id: str, request: Request, scope: Writer) -> UndoResult:
    """Undo a merge and derive its documents again (idempotent)."""
    if merge_id not in {m.id for m in await scope.rag.merges()}:
        msg = f"no merge {merge_id!r} in this workspace; list merges with GET /v1/merges"
        raise NotFoundError(msg)
    derived, already = await scope.rag.undo_merge(merge_id)
    audit(request, scope.principal, "merge.undo", merge_id, detail={"already": already})
    return UndoResult(merge_id=merge_id, already_undone=already, documents_derived=derived)


@router.get("/stats", response_model=StoreStats, tags=["admin"], summary="Store statistics")
async def stats(scope: Reader) -> StoreStats:
    """Object counts of the workspace's store (its location is the workspace's name)."""
    found = await scope.rag.stats()
    return found.model_copy(update={"location": f"workspace {scope.workspace}"})
