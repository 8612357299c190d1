"""Token usage and cost per call, per tag (e.g. a document) and per run; the run's budget.

:class:`UsageMeter` is one run's ledger. :class:`MeteredChatModel` puts it in front of a
model: before each call it *reserves* the most the call could use (the estimated prompt
tokens plus the reply limit) and raises :class:`~graphrag.llm.errors.BudgetExceededError`
instead of calling when that could exceed the budget; after the call it books the usage the
server reported. Reservations make the check hold with concurrent calls too. The budget is
therefore never exceeded by more than the prompt estimate's error on the calls in flight.

Example:
    ```python
    meter = UsageMeter(Pricing(0.15, 0.60), Budget(max_cost=2.0))
    model = MeteredChatModel(inner, meter)
    with usage_tag("d_1234"):
        await model.complete(messages, max_tokens=256, temperature=0.0)
    meter.totals().cost, meter.by_tag()["d_1234"].prompt_tokens
    ```
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

from graphrag.config import LLMSettings
from graphrag.llm.base import ChatMessage, ChatModel, ChatResult, ChatStream, current_usage_tag
from graphrag.llm.errors import BudgetExceededError
from graphrag.llm.estimate import Pricing, estimate_prompt_tokens


@dataclass(frozen=True)
class Budget:
    """Limits of one run (``None``: no limit).

    Attributes:
        max_cost: Most the run may cost (in the currency of the prices).
        max_tokens: Most tokens (prompt + completion) the run may use.
    """

    max_cost: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class UsageRecord:
    """One call as booked.

    Attributes:
        tag: The usage tag active during the call (e.g. a document id), or ``None``.
        model: The model that replied.
        prompt_tokens: Prompt tokens.
        completion_tokens: Completion tokens.
        cost: Its cost (0 for a cached reply).
        cached: Served from the cache: no call was made.
        estimated: The server reported no usage; the tokens are estimates.
        seconds: Wall time of the call.
    """

    tag: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    cached: bool = False
    estimated: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class UsageTotals:
    """Sums over calls. Tokens and cost count calls made; cached replies count apart.

    Attributes:
        calls: Calls made to the model.
        cached_calls: Replies served from the cache.
        prompt_tokens: Prompt tokens of the calls made.
        completion_tokens: Completion tokens of the calls made.
        cost: Cost of the calls made.
        cached_tokens: Tokens of the cached replies (what the cache saved).
        seconds: Wall time of the calls made, summed.
    """

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached_tokens: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens of the calls made."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def hit_rate(self) -> float:
        """Share of requests served from the cache (0 when there were none)."""
        requests = self.calls + self.cached_calls
        return self.cached_calls / requests if requests else 0.0

    def add(self, record: UsageRecord) -> UsageTotals:
        """Return these totals with ``record`` added."""
        if record.cached:
            return UsageTotals(
                self.calls, self.cached_calls + 1, self.prompt_tokens, self.completion_tokens,
                self.cost, self.cached_tokens + record.prompt_tokens + record.completion_tokens,
                self.seconds,
            )  # fmt: skip
        return UsageTotals(
            self.calls + 1, self.cached_calls, self.prompt_tokens + record.prompt_tokens,
            self.completion_tokens + record.completion_tokens, self.cost + record.cost,
            self.cached_tokens, self.seconds + record.seconds,
        )  # fmt: skip


@dataclass
class _Ledger:
    totals: UsageTotals = field(default_factory=UsageTotals)
    by_tag: dict[str, UsageTotals] = field(default_factory=dict)
    records: deque[UsageRecord] = field(default_factory=lambda: deque(maxlen=MAX_RECORDS))
    reserved_tokens: int = 0
    reserved_cost: float = 0.0


@dataclass(frozen=True, eq=False)
class Reservation:
    """What a call in flight may use at most (held by the meter until booked or released).

    Attributes:
        tokens: Tokens reserved.
        cost: Cost reserved.
        ledger: The ledger whose budget holds the reservation (the budget scope's, if any).
    """

    tokens: int
    cost: float
    ledger: _Ledger | None = None


MAX_RECORDS = 100_000
"""Calls a ledger keeps one by one (totals stay exact): a long-running service forgets the
oldest."""

_scope: ContextVar[_Ledger | None] = ContextVar("graphrag_budget_scope", default=None)


@contextmanager
def budget_scope() -> Iterator[None]:
    """Make the code inside the block one run for the budget (an API request, a job).

    Without a scope the budget applies to the meter's whole life: a CLI command. A
    long-running service opens one per request and per background job, so a spent budget
    stops that request or job only. Tasks and threads started inside inherit the scope; the
    meters still add every call to their own totals.

    Example:
        ```python
        with budget_scope():
            answer = await rag.answer(question)  # llm.max_tokens_per_run applies to this
        ```
    """
    token = _scope.set(_Ledger())
    try:
        yield
    finally:
        with suppress(ValueError):  # closed from another context (a collected stream)
            _scope.reset(token)


class UsageMeter:
    """One run's usage ledger and budget (thread-safe; share it between the run's models).

    Args:
        pricing: Prices per 1,000 tokens (default: free).
        budget: The run's limits (default: none).
    """

    def __init__(self, pricing: Pricing | None = None, budget: Budget | None = None) -> None:
        self.pricing = pricing or Pricing()
        self.budget = budget or Budget()
        self._lock = threading.Lock()
        self._ledger = _Ledger()

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> UsageMeter:
        """Return a meter with the prices and budget of the ``llm`` settings."""
        return cls(
            Pricing(settings.price_per_1k_prompt, settings.price_per_1k_completion),
            Budget(settings.max_cost, settings.max_tokens_per_run),
        )

    def reserve(self, prompt_tokens: int, max_tokens: int) -> Reservation:
        """Reserve what a call could use at most, or refuse it.

        Args:
            prompt_tokens: The prompt's estimated tokens.
            max_tokens: The reply limit of the call.

        Raises:
            BudgetExceededError: If the run's usage plus the calls in flight plus this one
                could exceed the budget; nothing is reserved then.
        """
        tokens = prompt_tokens + max_tokens
        cost = self.pricing.cost(prompt_tokens, max_tokens)
        with self._lock:
            ledger = _scope.get() or self._ledger
            limit_tokens, limit_cost = self.budget.max_tokens, self.budget.max_cost
            used_tokens = ledger.totals.total_tokens + ledger.reserved_tokens
            if limit_tokens is not None and used_tokens + tokens > limit_tokens:
                raise BudgetExceededError(
                    used=used_tokens, needed=tokens, limit=limit_tokens, unit="tokens"
                )
            used_cost = ledger.totals.cost + ledger.reserved_cost
            if limit_cost is not None and used_cost + cost > limit_cost:
                raise BudgetExceededError(
                    used=used_cost, needed=cost, limit=limit_cost, unit="cost"
                )
            ledger.reserved_tokens += tokens
            ledger.reserved_cost += cost
        return Reservation(tokens, cost, ledger)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose call failed (nothing is booked)."""
        with self._lock:
            ledger = reservation.ledger or self._ledger
            ledger.reserved_tokens -= reservation.tokens
            ledger.reserved_cost -= reservation.cost

    def record(
        self,
        result: ChatResult,
        *,
        reservation: Reservation | None = None,
        seconds: float = 0.0,
        tag: str | None = None,
    ) -> UsageRecord:
        """Book one reply (a cached one costs nothing) and release its reservation.

        Args:
            result: The reply.
            reservation: The call's reservation, if one was made.
            seconds: Wall time of the call.
            tag: The usage tag (default: the one active, see :func:`usage_tag`).
        """
        usage = result.usage
        cost = self.pricing.cost(usage.prompt_tokens, usage.completion_tokens)
        if result.cached:
            cost = 0.0
        record = UsageRecord(
            tag=tag if tag is not None else current_usage_tag(),
            model=result.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            cached=result.cached,
            estimated=usage.estimated,
            seconds=seconds,
        )
        with self._lock:
            if reservation is not None:
                held = reservation.ledger or self._ledger
                held.reserved_tokens -= reservation.tokens
                held.reserved_cost -= reservation.cost
            scope = _scope.get()
            for ledger in (self._ledger, scope) if scope is not None else (self._ledger,):
                ledger.records.append(record)
                ledger.totals = ledger.totals.add(record)
                if record.tag is not None:
                    totals = ledger.by_tag.get(record.tag, UsageTotals())
                    ledger.by_tag[record.tag] = totals.add(record)
        return record

    def totals(self) -> UsageTotals:
        """The run's totals so far."""
        with self._lock:
            return self._ledger.totals

    def by_tag(self) -> dict[str, UsageTotals]:
        """Totals per usage tag (e.g. per document)."""
        with self._lock:
            return dict(self._ledger.by_tag)

    def records(self) -> list[UsageRecord]:
        """Every booked call, in order."""
        with self._lock:
            return list(self._ledger.records)

    def reset(self) -> None:
        """Start a new run: forget every record (the budget applies afresh)."""
        with self._lock:
            self._ledger = _Ledger()


PromptEstimator = Callable[[Sequence[ChatMessage]], int]


class MeteredChatModel:
    """Wraps a chat model: checks the budget before each call and books its usage after.

    Args:
        inner: The model that makes the calls.
        meter: The run's meter.
        estimate: Estimated prompt tokens of a request (default:
            :func:`~graphrag.llm.estimate.estimate_prompt_tokens`).
    """

    def __init__(
        self, inner: ChatModel, meter: UsageMeter, *, estimate: PromptEstimator | None = None
    ) -> None:
        self._inner = inner
        self.meter = meter
        self._estimate: PromptEstimator = estimate or estimate_prompt_tokens

    @property
    def model_name(self) -> str:
        """The inner model's name."""
        return self._inner.model_name

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Reserve, call the inner model, book the usage.

        Raises:
            BudgetExceededError: Before calling, if the call could exceed the budget.
        """
        reservation = self.meter.reserve(self._estimate(messages), max_tokens)
        started = time.perf_counter()
        try:
            result = await self._inner.complete(
                messages, max_tokens=max_tokens, temperature=temperature, json_mode=json_mode
            )
        except BaseException:
            self.meter.release(reservation)
            raise
        self.meter.record(result, reservation=reservation, seconds=time.perf_counter() - started)
        return result

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Stream from the inner model; the budget is checked before the request starts."""
        return ChatStream(self._stream(messages, max_tokens, temperature))

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> AsyncIterator[str | ChatResult]:
        reservation = self.meter.reserve(self._estimate(messages), max_tokens)
        started = time.perf_counter()
        inner = self._inner.stream(messages, max_tokens=max_tokens, temperature=temperature)
        try:
            async for piece in inner:
                yield piece
            result = inner.result
        except BaseException:
            self.meter.release(reservation)
            if not inner.done:  # closed early: close the request now, not at GC
                await inner.aclose()
            raise
        self.meter.record(result, reservation=reservation, seconds=time.perf_counter() - started)
        yield result

    async def check(self) -> None:
        """Check the inner model (not metered)."""
        await self._inner.check()
