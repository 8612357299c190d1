"""Embedded store pieces that need no event loop: FTS queries, the factory, vectors."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.config import StoreKind, load_settings
from graphrag.errors import StoreQueryError
from graphrag.stores import create_store
from graphrag.stores.embedded import EmbeddedGraphStore
from graphrag.stores.embedded.index import MAX_QUERY_TERMS, as_query_vector, fts_query


def test_fts_query_quotes_words_and_drops_stopwords() -> None:
    assert fts_query('Who founded the "Radium" Institute? NEAR(x*)') == (
        '"founded" OR "radium" OR "institute" OR "near" OR "x"'
    )
    assert fts_query("the of and") is None
    assert fts_query("paris Paris PARIS") == '"paris"'
    many = " ".join(f"w{i}" for i in range(200))
    assert fts_query(many).count(" OR ") == MAX_QUERY_TERMS - 1  # type: ignore[union-attr]


def test_create_store_embedded(tmp_path: Path) -> None:
    settings = load_settings(embedded={"path": tmp_path / "x.db"})

    store = create_store(settings)

    assert isinstance(store, EmbeddedGraphStore)
    assert store.location == str(tmp_path / "x.db")


def test_create_store_arango_imports_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []

    class ArangoGraphStore:
        @classmethod
        def from_settings(cls, arango: Any) -> Any:
            built.append(arango)
            return cls()

    module = types.ModuleType("graphrag.stores.arango.store")
    module.ArangoGraphStore = ArangoGraphStore  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "graphrag.stores.arango.store", module)
    settings = load_settings(store=StoreKind.ARANGO, arango={"url": "http://db:8529"})

    store = create_store(settings)

    assert isinstance(store, ArangoGraphStore)
    assert built[0].url == "http://db:8529"


def test_query_vector_shapes() -> None:
    vector = as_query_vector(np.array([[3.0, 4.0]]), 2)

    np.testing.assert_allclose(vector, [0.6, 0.8])
    with pytest.raises(StoreQueryError, match="2-d"):
        as_query_vector(np.ones((2, 2)), 2)
    with pytest.raises(StoreQueryError, match="2-d"):
        as_query_vector(np.ones(3), 2)
