"""Vector search mode of the ArangoDB store: the IVF index when usable, else exact scans.

The choice is made once per collection from ``meta/schema`` (written by
``build_vector_indexes``) and the index list (``trainingState`` must be ready), logged at
INFO, and cached until the indexes are rebuilt. If an approximate query still fails with
error 1554/1555 (index not applicable or not trained), the collection falls back to exact
``COSINE_SIMILARITY`` scans with a warning.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from arango.database import Database
from arango.exceptions import AQLQueryExecuteError

from graphrag.stores.arango import schema
from graphrag.stores.arango.errors import (
    ERR_VECTOR_INDEX_NOT_READY,
    ERR_VECTOR_SEARCH_NOT_APPLIED,
    server_error_code,
)
from graphrag.stores.arango.names import CHUNKS, ENTITIES, KEYS, vector_index_name
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
_INDEX_ERRORS = (ERR_VECTOR_SEARCH_NOT_APPLIED, ERR_VECTOR_INDEX_NOT_READY)


class VectorSearch:
    """Runs kNN and candidate queries with the best available method.

    Args:
        queries: The AQL queries.
        n_probe: IVF cells searched per approximate query.
        where: The store's location, for log messages.
    """

    def __init__(self, queries: Queries, n_probe: int, where: str) -> None:
        self._queries = queries
        self._n_probe = n_probe
        self._where = where
        self._modes: dict[str, bool] | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the chosen modes (after the indexes were rebuilt or the schema changed)."""
        with self._lock:
            self._modes = None

    def _usable(self, db: Database, target: str, recorded: Doc) -> bool:
        if not (recorded.get(target) or {}).get("usable"):
            return False
        indexes = cast(list[Doc], db.collection(target).indexes())
        found = [i for i in indexes if i.get("name") == vector_index_name(target)]
        return bool(found) and schema.training_state(found[0]) in (None, "ready")

    def modes(self, db: Database) -> dict[str, bool]:
        """Return ``{collection: uses the vector index}`` for chunks, entities and keys."""
        with self._lock:
            if self._modes is not None:
                return self._modes
        meta = schema.read_meta(db) or {}
        recorded = meta.get("vector_indexes") or {}
        modes = {target: self._usable(db, target, recorded) for target in (CHUNKS, ENTITIES, KEYS)}
        for target, usable in modes.items():
            how = "the vector index" if usable else "exact COSINE_SIMILARITY scans"
            logger.info("vector search on %s uses %s (%s)", target, how, self._where)
        with self._lock:
            self._modes = modes
        return modes

    def _disable(self, exc: Exception, *targets: str) -> None:
        logger.warning(
            "vector index of %s not usable (%s); falling back to exact scans",
            "/".join(targets), exc,
        )  # fmt: skip
        with self._lock:
            modes = dict(self._modes or {})
            modes.update(dict.fromkeys(targets, False))
            self._modes = modes

    def nearest(self, db: Database, target: str, query: list[float], k: int) -> list[Doc]:
        """``{id, score}`` of the ``k`` nearest documents of ``target``."""
        if self.modes(db).get(target):
            try:
                return self._queries.search_vector(db, target, query, k, self._n_probe)
            except AQLQueryExecuteError as exc:
                if server_error_code(exc) not in _INDEX_ERRORS:
                    raise
                self._disable(exc, target)
        return self._queries.search_exact(db, target, query, k)

    def nearest_many(
        self, db: Database, target: str, queries: list[list[float]], k: int
    ) -> list[list[Doc]]:
        """Per query vector, ``{id, score}`` of the ``k`` nearest documents of ``target``."""
        if self.modes(db).get(target):
            try:
                return self._queries.search_vector_many(db, target, queries, k, self._n_probe)
            except AQLQueryExecuteError as exc:
                if server_error_code(exc) not in _INDEX_ERRORS:
                    raise
                self._disable(exc, target)
        return self._queries.search_exact_many(db, target, queries, k)

    def similar_keys(
        self,
        db: Database,
        queries: list[list[float]],
        k: int,
        threshold: float,
        *,
        approximate: bool = False,
    ) -> list[list[Doc]]:
        """Per query vector, up to ``k`` keys with a cosine of at least ``threshold``.

        Exact scans unless ``approximate`` (and the keys' index is usable): entity
        resolution must find every near duplicate to stay independent of ingestion order.
        """
        if approximate and self.modes(db).get(KEYS):
            try:
                return self._queries.search_keys(db, queries, k, threshold, self._n_probe)
            except AQLQueryExecuteError as exc:
                if server_error_code(exc) not in _INDEX_ERRORS:
                    raise
                self._disable(exc, KEYS)
        return self._queries.search_keys(db, queries, k, threshold, None)

    def candidates(self, db: Database, binds: Doc) -> Doc:
        """The candidates round trip, approximate when both indexes are usable."""
        modes = self.modes(db)
        indexed = modes.get(CHUNKS) and modes.get(ENTITIES)
        if indexed and binds["k_chunks"] > 0 and binds["k_entities"] > 0:
            approx = {**binds, "nprobe": self._n_probe}
            try:
                return self._queries.retrieve_candidates(db, exact=False, binds=approx)
            except AQLQueryExecuteError as exc:
                if server_error_code(exc) not in _INDEX_ERRORS:
                    raise
                self._disable(exc, CHUNKS, ENTITIES)
        return self._queries.retrieve_candidates(db, exact=True, binds=binds)
