"""Saving a graph analysis on ArangoDB as a new generation: batches, one switch, cleanup.

The design is described in :mod:`graphrag.stores.arango.analysis`; this module runs it
(blocking, in the connection's worker thread). :func:`save_generation`:

1. takes the analysis lease for the new generation (:class:`Lease`,
   ``acquire_analysis_lease.aql``), or refuses while another analysis holds it;
2. lists the generations that have documents (``list_analysis_generations.aql``): while the
   lease is held nobody else writes a generation, so all of them are garbage once the new one
   is current;
3. writes the new generation in batches of ``batch_size`` items, one AQL statement each
   (``save_entity_ranks.aql``, ``insert_communities.aql``, ``insert_community_members.aql``),
   renewing the lease every third of its time to live;
4. switches: ``save_analysis_state.aql`` replaces ``analysis/current`` and releases the lease
   in one small statement, only if the lease is still held;
5. removes the generations listed in step 2 in batches (``remove_analysis_generation.aql``)
   and, on a store that an older version analysed, the ``rank`` attribute it left on entity
   documents (``list_ranked_entities.aql``, ``clear_entity_ranks.aql``).

Every statement is its own transaction, retried on a write conflict by
:func:`~graphrag.stores.arango.retry.retry_write_conflicts`; a batch holds at most
``batch_size`` items, far below the intermediate-commit thresholds, so each one is atomic.
Any failure before the switch releases the lease and leaves ``analysis/current`` as it was:
readers keep the previous generation, and the next analysis removes what was written.
A failure during the cleanup is logged, not raised: the analysis is saved, and the next
analysis removes what is left.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from arango.database import Database, StandardDatabase

from graphrag.errors import StoreUnavailableError
from graphrag.stores.arango.batch import split_payload
from graphrag.stores.arango.mapping import Doc, now_text
from graphrag.stores.arango.names import MAX_KEY_LENGTH
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.retry import retry_write_conflicts

logger = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
"""Time to live of the analysis lease; renewed every third of it while a save writes, so a
crashed save blocks the next analysis for at most this long."""

REMOVED = ("member_of", "communities", "entity_ranks")
"""The counts ``remove_analysis_generation.aql`` returns."""


def new_generation(now: datetime | None = None) -> str:
    """Return a new generation id: ``g``, the UTC time to the second, 6 random hex digits.

    Example:
        >>> len(new_generation()), new_generation(datetime(2026, 1, 2, tzinfo=UTC))[:15]
        (21, 'g20260102000000')
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    return f"g{stamp}{secrets.token_hex(3)}"


def key_room(generation: str) -> int:
    """Longest id that fits in a ``<generation>_<id>`` key."""
    return MAX_KEY_LENGTH - len(generation) - 1


def rank_payload(items: Sequence[Doc], generation: str) -> list[Doc]:
    """Keep the ``[{key, rank}]`` items whose ``<generation>_<key>`` is a valid key.

    Entity keys of :mod:`graphrag.ids` have 34 characters; an entity whose key is longer than
    :func:`key_room` cannot be ranked (it reads as unranked) and is logged.
    """
    room = key_room(generation)
    kept = [item for item in items if len(item["key"]) <= room]
    if len(kept) < len(items):
        logger.warning(
            "%d entities have keys longer than %d characters and get no rank",
            len(items) - len(kept), room,
        )  # fmt: skip
    return kept


@dataclass(frozen=True)
class GenerationPlan:
    """What one analysis writes.

    Attributes:
        generation: The new generation id (:func:`new_generation`).
        ranks: ``[{key, rank}]`` (:func:`rank_payload`).
        communities: Community documents keyed ``<generation>_<id>``.
        members: ``[{key, entity, community, position}]`` for ``member_of`` edges.
        batch_size: Items per statement.
    """

    generation: str
    ranks: list[Doc]
    communities: list[Doc]
    members: list[Doc]
    batch_size: int


# --------------------------------------------------------------------------- one query each


def query_save_ranks(queries: Queries, db: Database, generation: str, items: list[Doc]) -> int:
    """Insert the ``entity_ranks`` documents of a batch; returns how many entities exist."""
    found: Doc = queries.one(
        db, "save_entity_ranks", {"generation": generation, "ranks": list(items)}
    )
    return int(found.get("inserted") or 0)


def query_insert_communities(queries: Queries, db: Database, docs: list[Doc]) -> int:
    """Insert community documents; returns how many."""
    found: Doc = queries.one(db, "insert_communities", {"communities": list(docs)})
    return int(found.get("inserted") or 0)


def query_insert_members(queries: Queries, db: Database, generation: str, items: list[Doc]) -> int:
    """Insert the ``member_of`` edges of a batch (live entities only); returns how many."""
    found: Doc = queries.one(
        db, "insert_community_members", {"generation": generation, "members": list(items)}
    )
    return int(found.get("inserted") or 0)


def query_generations(queries: Queries, db: Database) -> Doc:
    """``{current, recorded, generations}``: the generations that have documents."""
    found: Doc = queries.one(db, "list_analysis_generations", {})
    return found


def query_switch(queries: Queries, db: Database, generation: str, state: Doc) -> Doc:
    """Make ``generation`` current if it holds the lease; ``{switched, previous}``."""
    found: Doc = queries.one(
        db, "save_analysis_state", {"generation": generation, "state": dict(state)}
    )
    return found


def query_remove_generation(
    queries: Queries, db: Database, generation: str | None, limit: int
) -> Doc:
    """Remove up to ``limit`` edges, communities and ranks of a (non-current) generation."""
    found: Doc = queries.one(
        db, "remove_analysis_generation", {"generation": generation, "limit": limit}
    )
    return found


def query_ranked_entities(queries: Queries, db: Database) -> list[str]:
    """Keys of entities that still carry a ``rank`` attribute of an older version."""
    return [str(k) for k in queries.rows(db, "list_ranked_entities", {})]


def query_clear_ranks(queries: Queries, db: Database, keys: list[str]) -> int:
    """Remove the ``rank`` attribute of the entities of ``keys``; returns how many."""
    found: Doc = queries.one(db, "clear_entity_ranks", {"keys": list(keys)})
    return int(found.get("cleared") or 0)


# --------------------------------------------------------------------------- the lease


class Lease:
    """The analysis lease of one generation (``analysis/lease``, the server's clock).

    Args:
        queries: The AQL queries.
        generation: The generation that holds it.
        seconds: Time to live; renewed by :meth:`keep` once a third of it has passed.
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        queries: Queries,
        generation: str,
        *,
        seconds: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queries, self.generation = queries, generation
        self.seconds, self.clock = seconds, clock
        self._renewed_at = 0.0

    def _ttl(self) -> int:
        return int(self.seconds * 1000)

    def acquire(self, db: Database) -> None:
        """Take the lease.

        Raises:
            StoreUnavailableError: If another analysis holds it.
        """
        row: Doc = retry_write_conflicts(
            "taking the analysis lease",
            lambda: self.queries.one(
                db, "acquire_analysis_lease", {"generation": self.generation, "ttl": self._ttl()}
            ),
        )
        if row.get("generation") != self.generation:
            left = max(0.0, (float(row.get("expires") or 0) - float(row.get("now") or 0)) / 1000)
            msg = (
                f"the graph analysis was not saved: another analysis (generation "
                f"{row.get('generation')}) is being saved; its lease ends in {left:.0f} s "
                "unless renewed (a crashed one's lease just expires): run it again later"
            )
            raise StoreUnavailableError(msg)
        self._renewed_at = self.clock()

    def keep(self, db: Database) -> None:
        """Renew the lease if a third of its time to live has passed since the last renewal.

        Raises:
            StoreUnavailableError: If the lease was lost (it expired and another analysis
                took it): the save stops before its switch.
        """
        if self.clock() - self._renewed_at < self.seconds / 3:
            return
        renewed = retry_write_conflicts(
            "renewing the analysis lease",
            lambda: self.queries.one(
                db, "renew_analysis_lease", {"generation": self.generation, "ttl": self._ttl()}
            ),
        )
        if not int(renewed or 0):
            raise lost_lease(self.generation)
        self._renewed_at = self.clock()

    def release(self, db: Database) -> None:
        """Give the lease back after a failed save (best effort: it expires anyway)."""
        try:
            self.queries.one(db, "release_analysis_lease", {"generation": self.generation})
        except Exception as exc:
            logger.warning("could not release the analysis lease %s: %s", self.generation, exc)


def lost_lease(generation: str) -> StoreUnavailableError:
    """The error of a save whose lease expired and was taken by another analysis."""
    msg = (
        f"the graph analysis was not saved: its lease (generation {generation}) expired and "
        "another analysis took it; the previous analysis stays current: run it again"
    )
    return StoreUnavailableError(msg)


# --------------------------------------------------------------------------- the save


def _in_batches(
    db: Database,
    lease: Lease,
    what: str,
    parts: list[list[Doc]],
    run: Callable[[Database, list[Doc]], int],
) -> int:
    """Run one statement per part (each retried on a write conflict); sum the counts."""
    total = 0
    for part in parts:
        lease.keep(db)
        total += retry_write_conflicts(what, functools.partial(run, db, part))
    return total


def write_generation(db: Database, queries: Queries, plan: GenerationPlan, lease: Lease) -> Doc:
    """Write the ranks, communities and ``member_of`` edges of ``plan`` in batches.

    Returns:
        Counts ``{ranked, communities, members}``.
    """
    gen, size = plan.generation, plan.batch_size
    ranked = _in_batches(
        db, lease, "saving entity ranks",
        split_payload("rank", plan.ranks, max_items=size),
        lambda d, part: query_save_ranks(queries, d, gen, part),
    )  # fmt: skip
    inserted = _in_batches(
        db, lease, "saving communities",
        split_payload("community", plan.communities, max_items=size),
        lambda d, part: query_insert_communities(queries, d, part),
    )  # fmt: skip
    linked = _in_batches(
        db, lease, "saving community members",
        split_payload("member", plan.members, max_items=size),
        lambda d, part: query_insert_members(queries, d, gen, part),
    )  # fmt: skip
    return {"ranked": ranked, "communities": inserted, "members": linked}


def switch(db: Database, queries: Queries, plan: GenerationPlan, counts: Doc) -> Doc:
    """Make the generation current (the one write readers notice).

    Raises:
        StoreUnavailableError: If the lease was lost (nothing switched).
    """
    embedded = sum(doc.get("embedding") is not None for doc in plan.communities)
    state = {"analyzed_at": now_text(), "communities": counts["communities"], "embedded": embedded}
    row: Doc = retry_write_conflicts(
        "switching to the new graph analysis",
        lambda: query_switch(queries, db, plan.generation, state),
    )
    if not row or not row.get("switched"):
        raise lost_lease(plan.generation)
    return row


def remove_generation(db: Database, queries: Queries, generation: str | None, limit: int) -> Doc:
    """Remove a generation that is not current, in batches of ``limit`` per collection.

    Returns:
        Counts ``{member_of, communities, entity_ranks}`` removed.
    """
    totals = dict.fromkeys(REMOVED, 0)
    while True:
        row: Doc = retry_write_conflicts(
            f"removing analysis generation {generation}",
            lambda: query_remove_generation(queries, db, generation, limit),
        )
        counts = {name: int(row.get(name) or 0) for name in REMOVED}
        for name, value in counts.items():
            totals[name] += value
        if all(value < limit for value in counts.values()):
            return totals


def clear_legacy_ranks(db: Database, queries: Queries, batch_size: int) -> int:
    """Remove the ``rank`` attribute older versions stored on entities; returns how many."""
    keys = query_ranked_entities(queries, db)
    cleared = 0
    for start in range(0, len(keys), batch_size):
        part = keys[start : start + batch_size]
        cleared += retry_write_conflicts(
            "removing entity ranks of an older version",
            functools.partial(query_clear_ranks, queries, db, part),
        )
    return cleared


def cleanup(
    db: Database, queries: Queries, garbage: Sequence[str | None], *, legacy: bool, limit: int
) -> Doc:
    """Remove the ``garbage`` generations (and legacy entity ranks); failures are logged.

    Returns:
        Counts ``{removed: {generation: counts}, cleared}``; ``incomplete`` on a failure.
    """
    report: Doc = {"removed": {}, "cleared": 0}
    try:
        for generation in garbage:
            report["removed"][str(generation)] = remove_generation(db, queries, generation, limit)
        if legacy:
            report["cleared"] = clear_legacy_ranks(db, queries, limit)
    except Exception as exc:
        logger.warning(
            "the graph analysis is saved, but removing the previous one failed (%s); the "
            "next analysis removes what is left (readers never see it)", exc,
        )  # fmt: skip
        report["incomplete"] = str(exc)
    return report


def save_generation(
    db: StandardDatabase, queries: Queries, plan: GenerationPlan, lease: Lease
) -> Doc:
    """Save an analysis as a new generation and make it current (blocking).

    Args:
        db: The store's database.
        queries: The AQL queries.
        plan: What to write.
        lease: The lease of ``plan.generation`` (not yet taken).

    Returns:
        Counts ``{ranked, communities, members, previous, removed, cleared}``.

    Raises:
        StoreUnavailableError: If another analysis holds the lease, or this one lost it.
        Exception: What a statement raised before the switch (the lease is released; the
            previous analysis stays current).
    """
    lease.acquire(db)
    try:
        found = query_generations(queries, db)
        counts = write_generation(db, queries, plan, lease)
        switched = switch(db, queries, plan, counts)
    except BaseException:
        lease.release(db)
        raise
    garbage = [g for g in found.get("generations") or [] if g != plan.generation]
    legacy = not found.get("recorded")
    report = cleanup(db, queries, garbage, legacy=legacy, limit=plan.batch_size)
    return {**counts, "previous": switched.get("previous"), **report}
