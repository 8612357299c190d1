"""Search of the ArangoDB store: vector (index or exact), BM25 and candidates queries.

Vector search goes through the IVF index when it is usable, else exact scans; BM25 through
``chunks_view``; the candidates of local retrieval are one round trip.

Whether a collection's vector index is usable is read from its index list (a vector index
over ``embedding`` whose ``trainingState`` is ready, or unreported before 3.12.9), per
collection, and read again every :data:`RECHECK_SECONDS` and right after an approximate
query fails with error 1554/1555 (index not applicable or not trained, e.g. while another
process swaps it). So a query service started before the indexes were built picks them up,
and one collection without a usable index does not turn off the approximate search of the
others. Every change of mode is logged.

ArangoSearch is eventually consistent: a chunk becomes searchable by BM25 once the inverted
index commits (``commitIntervalMsec``, 1 s by default). Only tests wait for that
(``wait_for_sync``): the documentation reserves ``waitForSync`` for tests, as it can stall
queries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from arango.database import Database
from arango.exceptions import AQLQueryExecuteError

from graphrag.stores.arango.errors import (
    ERR_VECTOR_INDEX_NOT_READY,
    ERR_VECTOR_SEARCH_NOT_APPLIED,
    server_error_code,
)
from graphrag.stores.arango.indexes import embedding_vector_indexes, is_ready
from graphrag.stores.arango.names import CHUNKS, ENTITIES, KEYS, VECTOR_TARGETS
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
_INDEX_ERRORS = (ERR_VECTOR_SEARCH_NOT_APPLIED, ERR_VECTOR_INDEX_NOT_READY)

RECHECK_SECONDS: Final = 60.0
"""How long a collection's vector-index state is trusted before its index list is read again."""


@dataclass(frozen=True)
class _State:
    """What is known of one collection's vector index."""

    usable: bool
    index: str | None  # id of the index in use
    checked: float  # when it was read (the search's clock)


def by_score(rows: list[Doc]) -> list[Doc]:
    """Order ``{id, score}`` rows best first, ties by id.

    The BM25 queries sort by the score alone, as the top-k optimisation needs; the ties
    are broken here.
    """
    return sorted(rows, key=lambda r: (-float(r.get("score") or 0.0), str(r["id"])))


class VectorSearch:
    """Runs kNN, BM25 and candidate queries with the best available method.

    Args:
        queries: The AQL queries.
        n_probe: IVF cells searched per approximate query.
        where: The store's location, for log messages.
        wait_for_sync: Make BM25 wait for the view to commit pending writes (tests only:
            the ArangoSearch documentation warns that ``waitForSync`` can stall queries).
        now: The clock of the re-checks (monotonic seconds; a fake one in tests).
    """

    def __init__(
        self,
        queries: Queries,
        n_probe: int,
        where: str,
        *,
        wait_for_sync: bool = False,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queries = queries
        self._n_probe = n_probe
        self._where = where
        self._wait_for_sync = wait_for_sync
        self._now = now
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget what is known (after the indexes were rebuilt or the schema changed)."""
        with self._lock:
            self._states.clear()

    # ------------------------------------------------------------------ index states

    def _ready(self, db: Database, target: str) -> list[Doc]:
        """The ready vector indexes over ``target.embedding`` (one index-list request)."""
        indexes = cast(list[Doc], db.collection(target).indexes())
        return [i for i in embedding_vector_indexes(indexes) if is_ready(i)]

    def _store(self, target: str, ready: list[Doc]) -> _State:
        state = _State(bool(ready), str(ready[0].get("id")) if ready else None, self._now())
        with self._lock:
            before = self._states.get(target)
            self._states[target] = state
        if before is None or (before.usable, before.index) != (state.usable, state.index):
            how = f"the vector index {ready[0].get('name')}" if ready else "exact scans"
            logger.info("vector search on %s uses %s (%s)", target, how, self._where)
        return state

    def usable(self, db: Database, target: str) -> bool:
        """Whether ``target`` is searched through its vector index (re-read when stale)."""
        if target not in VECTOR_TARGETS:
            return False
        with self._lock:
            state = self._states.get(target)
        if state is None or self._now() - state.checked >= RECHECK_SECONDS:
            state = self._store(target, self._ready(db, target))
        return state.usable

    def modes(self, db: Database) -> dict[str, bool]:
        """Return ``{collection: uses the vector index}`` for chunks, entities and keys."""
        return {target: self.usable(db, target) for target in VECTOR_TARGETS}

    def _failed(self, db: Database, exc: Exception, *targets: str) -> None:
        """An approximate query on ``targets`` failed: read their index lists again.

        If every list still shows as ready the very index the query failed on, that index
        is not used again before the next re-check (:data:`RECHECK_SECONDS`); otherwise
        what the lists show is used (another index, or exact scans).
        """
        logger.warning(
            "approximate search on %s failed (%s); exact scans for this query, vector "
            "indexes read again", "/".join(targets), exc,
        )  # fmt: skip
        with self._lock:
            failed = {t: getattr(self._states.get(t), "index", None) for t in targets}
        ready = {t: self._ready(db, t) for t in targets}
        same = all(r and str(r[0].get("id")) == failed[t] for t, r in ready.items())
        for target in targets:
            keep = [i for i in ready[target] if not same or str(i.get("id")) != failed[target]]
            self._store(target, keep)

    def _approximate(
        self, db: Database, targets: tuple[str, ...], run: Callable[[], Any]
    ) -> tuple[bool, Any]:
        """Run an approximate query; ``(False, None)`` after an index error (see above)."""
        try:
            return True, run()
        except AQLQueryExecuteError as exc:
            if server_error_code(exc) not in _INDEX_ERRORS:
                raise
            self._failed(db, exc, *targets)
            return False, None

    # ------------------------------------------------------------------ vector search

    def nearest(self, db: Database, target: str, query: list[float], k: int) -> list[Doc]:
        """``{id, score}`` of the ``k`` nearest documents of ``target``."""
        if self.usable(db, target):
            done, rows = self._approximate(
                db, (target,),
                lambda: self._queries.search_vector(db, target, query, k, self._n_probe),
            )  # fmt: skip
            if done:
                return cast(list[Doc], rows)
        return self._queries.search_exact(db, target, query, k)

    def nearest_many(
        self, db: Database, target: str, queries: list[list[float]], k: int
    ) -> list[list[Doc]]:
        """Per query vector, ``{id, score}`` of the ``k`` nearest documents of ``target``."""
        if self.usable(db, target):
            done, rows = self._approximate(
                db, (target,),
                lambda: self._queries.search_vector_many(db, target, queries, k, self._n_probe),
            )  # fmt: skip
            if done:
                return cast(list[list[Doc]], rows)
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
        if approximate and self.usable(db, KEYS):
            done, rows = self._approximate(
                db, (KEYS,),
                lambda: self._queries.search_keys(db, queries, k, threshold, self._n_probe),
            )  # fmt: skip
            if done:
                return cast(list[list[Doc]], rows)
        return self._queries.search_keys(db, queries, k, threshold, None)

    # ------------------------------------------------------------------ BM25, candidates

    def _sync(self, db: Database) -> None:
        """Tests only: wait until ``chunks_view`` has committed what was written before."""
        if self._wait_for_sync:
            self._queries.rows(db, "sync_chunks_view", {})

    def keyword(self, db: Database, text: str, k: int) -> list[Doc]:
        """``{id, score}`` of the ``k`` best chunks by BM25, best first, ties by id."""
        self._sync(db)
        rows = self._queries.rows(db, "search_chunks_bm25", {"text": text, "k": k})
        return by_score(rows)

    def candidates(self, db: Database, binds: Doc) -> Doc:
        """The candidates round trip; each of chunks and entities approximate when usable.

        Args:
            db: The database handle.
            binds: ``query, text, k_chunks, k_entities, seed_ids, hops, degree_cap,
                max_entities, max_relations, graph``.
        """
        if binds["text"]:
            self._sync(db)
        approx = tuple(
            t for t, k in ((CHUNKS, "k_chunks"), (ENTITIES, "k_entities"))
            if binds[k] > 0 and self.usable(db, t)
        )  # fmt: skip
        done, row = False, None
        if approx:
            done, row = self._approximate(db, approx, lambda: self._mixed(db, approx, binds))
        if not done:
            row = self._queries.retrieve_candidates(db, exact=True, binds=binds)
        found = cast(Doc, row)
        found["bm25_chunks"] = by_score(found.get("bm25_chunks") or [])
        return found

    def _mixed(self, db: Database, approx: tuple[str, ...], b: Doc) -> Doc:
        """Run the candidates file that uses the vector indexes of ``approx`` only."""
        if approx == (CHUNKS, ENTITIES):
            binds = {**b, "nprobe": self._n_probe}
            return self._queries.retrieve_candidates(db, exact=False, binds=binds)
        if approx == (CHUNKS,):
            found: Doc = self._queries.one(db, "retrieve_candidates_exact_entities", {
                "query": b["query"], "text": b["text"], "k_chunks": b["k_chunks"],
                "k_entities": b["k_entities"], "nprobe": self._n_probe,
                "seed_ids": b["seed_ids"], "hops": b["hops"], "degree_cap": b["degree_cap"],
                "max_entities": b["max_entities"], "max_relations": b["max_relations"],
                "graph": b["graph"],
            })  # fmt: skip
            return found
        found = self._queries.one(db, "retrieve_candidates_exact_chunks", {
            "query": b["query"], "text": b["text"], "k_chunks": b["k_chunks"],
            "k_entities": b["k_entities"], "nprobe": self._n_probe,
            "seed_ids": b["seed_ids"], "hops": b["hops"], "degree_cap": b["degree_cap"],
            "max_entities": b["max_entities"], "max_relations": b["max_relations"],
            "graph": b["graph"],
        })  # fmt: skip
        return found
