"""Bounded retries of ArangoDB work that failed for a reason that may pass.

Two kinds of failure are worth another try:

- **Transient HTTP statuses** (429, 500, 502, 503, 504:
  :data:`~graphrag.stores.arango.errors.RETRY_STATUSES`) and connection failures
  (:func:`is_transient`), for idempotent calls only; :meth:`ArangoConnection.call
  <graphrag.stores.arango.connection.ArangoConnection.call>` retries those, waiting at least
  what the server's ``Retry-After`` asks (:func:`retry_after_seconds`).
- **Write conflicts** (error 1200, ``ERROR_ARANGO_CONFLICT``, and 1210,
  ``ERROR_ARANGO_UNIQUE_CONSTRAINT_VIOLATED``): two transactions modified the same document
  or unique index entry. ArangoDB 3.12 leaves the retry to the client ("It is then up to
  client applications to retry the failed transaction", Transactions > Locking and
  isolation; "if they occur, the application/client code can execute the same query
  again", AQL ``UPSERT`` > Transactionality and Limitations), and a stream transaction is
  not aborted by the server when one of its operations fails. :func:`retry_write_conflicts`
  runs a whole unit again (the caller aborts the failed transaction before it returns), with
  jittered exponential backoff, a few times and within a deadline.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from arango.exceptions import ArangoServerError

from graphrag.errors import StoreUnavailableError
from graphrag.stores.arango.errors import (
    CONNECTION_ERRORS,
    ERR_CONFLICT,
    ERR_UNIQUE_CONSTRAINT,
    RETRY_STATUSES,
    server_error_code,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONFLICT_CODES = frozenset({ERR_CONFLICT, ERR_UNIQUE_CONSTRAINT})
"""ArangoDB error numbers of a collision with a concurrent write."""

MAX_RETRY_AFTER_SECONDS = 30.0
"""Longest ``Retry-After`` that is honoured (a longer one is cut to this)."""


@dataclass(frozen=True)
class ConflictPolicy:
    """How a unit of work that hit a write conflict is run again.

    Attributes:
        attempts: Tries in all (the first one included).
        deadline: Seconds after the first try starts after which no new try begins.
        base_delay: Upper bound of the wait before the first retry; doubles each retry.
        max_delay: Upper bound of any wait.
    """

    attempts: int = 5
    deadline: float = 30.0
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), with full jitter.

        The wait is uniform in ``[0, min(max_delay, base_delay * 2**(retry-1))]``, so two
        writers that collided do not collide again at the same moment.
        """
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return random.uniform(0.0, ceiling)


CONFLICT_POLICY = ConflictPolicy()
"""The policy of every stream transaction of the store (tests replace it)."""


def is_transient(exc: BaseException) -> bool:
    """Whether an idempotent call that raised ``exc`` may be tried again.

    True for connection failures and timeouts and for server errors with a status of
    :data:`~graphrag.stores.arango.errors.RETRY_STATUSES`.
    """
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    return isinstance(exc, ArangoServerError) and exc.http_code in RETRY_STATUSES


def is_write_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is ArangoDB's write-write conflict (1200) or unique violation (1210)."""
    return isinstance(exc, ArangoServerError) and server_error_code(exc) in CONFLICT_CODES


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds.

    Args:
        value: The header value, or ``None`` when absent.
        now: The current time (for an HTTP date; default: now).

    Returns:
        Seconds to wait (at most :data:`MAX_RETRY_AFTER_SECONDS`, at least 0), or ``None``
        when the header is absent or unreadable.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def conflict_error(
    what: str, exc: ArangoServerError, tries: int, seconds: float
) -> StoreUnavailableError:
    """Return the error raised when a unit still conflicts after its last try."""
    code = server_error_code(exc)
    kind = "unique constraint violated" if code == ERR_UNIQUE_CONSTRAINT else "conflict"
    detail = str(exc.error_message or kind)
    msg = (
        f"{what} failed with a write conflict {tries} times in {seconds:.1f} s (ArangoDB "
        f"error {code}, {kind}: {detail}): other writers kept changing the same entities, "
        "relations or keys at the same time; nothing of it was committed. Run it again; if it "
        "keeps failing, run fewer concurrent writers (ingest jobs, workers) on this database"
    )
    return StoreUnavailableError(msg)


def retry_write_conflicts(
    what: str,
    run: Callable[[], T],
    *,
    policy: ConflictPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``run`` until it does not fail with a write conflict, within ``policy``.

    ``run`` must be safe to call again after it raised a conflict: a stream transaction it
    began must be aborted before it raises (see :func:`~graphrag.stores.arango.writes.
    in_transaction`). Each retry is logged as a warning.

    Args:
        what: What is run, for messages (``"writing 8 documents"``).
        run: One try.
        policy: Tries, deadline and backoff (default :data:`CONFLICT_POLICY`).
        sleep: How to wait (tests pass a recorder).

    Returns:
        What ``run`` returned.

    Raises:
        StoreUnavailableError: If the last try allowed by ``policy`` still conflicted.
        Exception: Anything else ``run`` raised, at once.
    """
    rules = policy or CONFLICT_POLICY
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        try:
            return run()
        except ArangoServerError as exc:
            if not is_write_conflict(exc):
                raise
            elapsed = time.monotonic() - started
            wait = rules.delay(tries)
            if tries >= rules.attempts or elapsed + wait >= rules.deadline:
                raise conflict_error(what, exc, tries, elapsed) from exc
            logger.warning(
                "%s hit a write conflict (ArangoDB error %s: %s); retry %d/%d in %.2f s",
                what, server_error_code(exc), exc.error_message, tries, rules.attempts - 1, wait,
            )  # fmt: skip
            sleep(wait)
