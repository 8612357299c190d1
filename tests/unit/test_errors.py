"""The error tree: invalid document graphs raise InvalidGraphError (a StoreQueryError)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag import errors
from graphrag.errors import GraphRAGError, InvalidGraphError, StoreQueryError
from tests.contract.builder import EINSTEIN, PIERRE, build, build_all


def test_every_error_is_in_the_tree() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) > 10
    assert all(issubclass(c, GraphRAGError) for c in classes)
    assert issubclass(InvalidGraphError, StoreQueryError)
    assert errors.__doc__ is not None
    assert all(c.__name__ in errors.__doc__ for c in classes)


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> Any:
    from graphrag.stores.embedded import EmbeddedGraphStore

    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    yield store
    await store.close()


async def test_a_chunk_of_another_document_is_an_invalid_graph(
    store: Any, hash_embedder: Any
) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    graph.chunks.append((await build(hash_embedder, PIERRE)).chunks[0])
    with pytest.raises(InvalidGraphError, match="was not written"):
        await store.upsert_documents([graph])


async def test_a_vector_of_the_wrong_size_is_an_invalid_graph(
    store: Any, hash_embedder: Any
) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    graph.chunks[0].embedding = np.ones(hash_embedder.dim + 1, dtype=np.float32)
    with pytest.raises(InvalidGraphError, match="einstein"):
        await store.upsert_documents([graph])


async def test_the_error_keeps_its_class_after_valid_documents(
    store: Any, hash_embedder: Any
) -> None:
    good, bad = await build_all(hash_embedder, [EINSTEIN, PIERRE])
    bad.mentions[0] = bad.mentions[0].model_copy(update={"entity_id": "e_nowhere"})
    with pytest.raises(InvalidGraphError, match="the 1 documents before it"):
        await store.upsert_documents([good, bad])


def test_out_of_range_arguments_raise_the_projects_error() -> None:
    """Bad arguments raise InvalidArgumentError: in the tree, and still a ValueError."""
    from graphrag.errors import GraphRAGError, InvalidArgumentError
    from graphrag.retrieve.fusion import rrf_fuse

    with pytest.raises(InvalidArgumentError, match="rrf k") as caught:
        rrf_fuse([[]], k=0)
    assert isinstance(caught.value, GraphRAGError)
    assert isinstance(caught.value, ValueError)
