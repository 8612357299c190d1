"""Failures of the ArangoDB store and the messages users see, without a server.

An unreachable address, configuration errors and the translation of server errors (built
from stub responses); the failures that need a real server (wrong password, missing
database, vector index or its fallback) are in tests/integration/test_arango_failures.py.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from arango.exceptions import AQLQueryExecuteError, IndexCreateError, ServerVersionError  # noqa: TID251
from arango.request import Request  # noqa: TID251
from arango.response import Response  # noqa: TID251
from pydantic import SecretStr

from graphrag.config import ArangoSettings
from graphrag.errors import (
    ConfigError,
    SchemaError,
    StoreAuthError,
    StoreQueryError,
    StoreUnavailableError,
)
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango.errors import ErrorContext, translate_error
from graphrag.stores.arango.schema import (
    _feature_disabled,
    check_meta,
    check_version,
    n_lists_for,
    vector_index_definition,
)

SECRET = "s3cret-Pa55word"


def unreachable(url: str = "http://127.0.0.1:1", retries: int = 1) -> ArangoGraphStore:
    settings = ArangoSettings(url=url, password=SecretStr(SECRET), retries=retries)
    return ArangoGraphStore.from_settings(settings)


async def test_unreachable_server_is_unavailable_with_a_helpful_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = unreachable()
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreUnavailableError) as err:
        await store.ensure_schema(embedding_model="m", dim=4)
    message = str(err.value)
    assert message.startswith("cannot reach ArangoDB at http://127.0.0.1:1: connection refused")
    assert "docker compose up -d arangodb" in message
    assert "GRAPHRAG_ARANGO__URL" in message
    retries = [r for r in caplog.records if "retry 1/1" in r.getMessage()]
    assert len(retries) == 1
    assert SECRET not in message
    assert SECRET not in caplog.text


async def test_every_kind_of_call_reports_the_unreachable_server() -> None:
    store = unreachable(retries=0)
    with pytest.raises(StoreUnavailableError, match="connection refused"):
        await store.vector_search("chunks", np.ones(4), 3)
    with pytest.raises(StoreUnavailableError, match="connection refused"):
        await store.get_chunks(["c_1"])
    with pytest.raises(StoreUnavailableError, match="connection refused"):
        await store.delete_document("d_1")
    await store.close()


async def test_unknown_host_says_the_name_does_not_resolve() -> None:
    store = unreachable("http://graphrag-no-such-host.invalid:8529", retries=0)
    with pytest.raises(StoreUnavailableError, match="does not resolve"):
        await store.ensure_schema(embedding_model="m", dim=4)


def test_missing_or_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GRAPHRAG_ARANGO__URL"):
        ArangoGraphStore.from_settings(ArangoSettings())
    with pytest.raises(ConfigError, match="not an http"):
        ArangoGraphStore.from_settings(ArangoSettings(url="localhost:8529"))


def test_location_names_url_and_database_without_credentials() -> None:
    settings = ArangoSettings(url="http://admin:pw@db.example:8529/", database="kg")
    store = ArangoGraphStore.from_settings(settings)
    assert store.location == "arango:http://db.example:8529/kg"


async def test_unknown_vector_target_and_wrong_dimension_are_query_errors() -> None:
    store = unreachable()
    with pytest.raises(StoreQueryError, match="unknown search target"):
        await store.vector_search("documents", np.ones(4), 3)  # type: ignore[arg-type]


def _server_error(cls: type, status: int, code: int | None, message: str) -> Exception:
    response = Response("post", "http://db:8529/_db/kg/_api/cursor", {}, status, "x", "{}")
    response.error_code, response.error_message = code, message
    return cls(response, Request(method="post", endpoint="/_api/cursor"))  # type: ignore[no-any-return]


CTX = ErrorContext(
    url="http://db:8529",
    database="kg",
    username="kg_reader",
    password_env="GRAPHRAG_ARANGO__PASSWORD",
    operation="vector search on chunks",
)


@pytest.mark.parametrize(
    ("status", "code", "kind", "words"),
    [
        (401, 401, StoreAuthError, ["'kg_reader'", "GRAPHRAG_ARANGO__PASSWORD"]),
        (
            403,
            11,
            StoreAuthError,
            ["lacks the permission", "vector search on chunks", "docs/arango.md"],
        ),
        (
            404,
            1228,
            SchemaError,
            ["database 'kg' does not exist", "graphrag schema --store arango"],
        ),
        (
            404,
            1203,
            SchemaError,
            ["collection or view is missing", "graphrag schema --store arango"],
        ),
        (404, 1924, SchemaError, ["named graph is missing"]),
        (413, None, StoreQueryError, ["too large (HTTP 413)", "GRAPHRAG_ARANGO__BATCH_SIZE"]),
        (503, 503, StoreUnavailableError, ["not ready"]),
        (400, 1501, StoreQueryError, ["ArangoDB error 1501", "syntax error"]),
    ],
)
def test_server_errors_map_to_the_error_tree(
    status: int, code: int | None, kind: type, words: list[str]
) -> None:
    exc = _server_error(AQLQueryExecuteError, status, code, "syntax error, unexpected FOR")
    translated = translate_error(exc, CTX)
    assert type(translated) is kind
    for word in words:
        assert word in str(translated)


def test_transport_errors_map_to_unavailable() -> None:
    exc = ConnectionAbortedError("Can't connect to host(s) within limit (1)")
    recorded = (
        "Max retries exceeded (Caused by NewConnectionError(... [Errno 111] Connection refused'))"
    )
    translated = translate_error(exc, ErrorContext(**{**CTX.__dict__, "reason": recorded}))
    assert isinstance(translated, StoreUnavailableError)
    assert "connection refused ([Errno 111] Connection refused)" in str(translated)


def test_old_servers_and_other_models_are_schema_errors() -> None:
    check_version("3.12.6", "x")
    check_version("3.12.12-1", "x")
    with pytest.raises(SchemaError, match=r"runs version 3\.12\.5, but 3\.12\.6 or newer"):
        check_version("3.12.5", "arango:http://db:8529/kg")
    with pytest.raises(SchemaError, match="cannot read the ArangoDB server version"):
        check_version("devel", "x")
    meta = {"version": 1, "embedding_model": "minilm", "dim": 384}
    check_meta(meta, "x", "minilm", 384)
    with pytest.raises(SchemaError, match=r"'minilm' \(dim 384\) but 'other' \(dim 768\)"):
        check_meta(meta, "x", "other", 768)
    with pytest.raises(SchemaError, match="schema version 99"):
        check_meta({**meta, "version": 99}, "x", "minilm", 384)


def test_vector_index_sizing_and_definition() -> None:
    assert n_lists_for(10_000, None) == 400
    assert n_lists_for(10, None) == 10  # never more centroids than documents
    assert n_lists_for(10_000, 64) == 64
    assert n_lists_for(5, 64) == 5
    definition = vector_index_definition("chunks", 384, 400, 16)
    assert definition["type"] == "vector"
    assert definition["fields"] == ["embedding"]
    assert definition["sparse"] is True
    assert definition["params"] == {
        "metric": "cosine",
        "dimension": 384,
        "nLists": 400,
        "defaultNProbe": 16,
        "trainingIterations": 25,
    }


def test_disabled_vector_feature_is_recognised() -> None:
    disabled = _server_error(IndexCreateError, 400, 10, "the vector index feature is not enabled")
    other = _server_error(IndexCreateError, 400, 10, "invalid field")
    assert _feature_disabled(disabled)  # type: ignore[arg-type]
    assert not _feature_disabled(other)  # type: ignore[arg-type]
    assert isinstance(translate_error(disabled, CTX), StoreQueryError)


def test_server_version_error_of_a_missing_database_is_a_schema_error() -> None:
    exc = _server_error(ServerVersionError, 404, 1228, "database not found")
    assert isinstance(translate_error(exc, CTX), SchemaError)
