"""Global search with an LLM: map over the best community summaries, reduce to one answer.

:class:`MapReduceAnswerer` answers from a ``global`` context (its ``communities`` and their
supporting chunks):

1. **Map**: one call per community (the first ``max_communities``, concurrently; the chat
   stack bounds how many run at once; JSON mode, which servers such as llama.cpp enforce
   with a grammar), asking for the points of its report that help answer
   the question, each scored 0-100 (:mod:`graphrag.answer.global_prompts`). A reply that is
   not JSON of that shape (after the stack's retries) is skipped and reported in the notes;
   a reply with no point, or only points scored 0, says the community does not help.
2. **Reduce**: the points, most helpful first, within the prompt budget, go to one more call
   that writes the answer, citing the source numbers the points carry; citations are checked
   by :class:`~graphrag.answer.LLMAnswerer` as for any generated answer (unknown ones
   removed and reported). When no community helps, no reduce call is made: the answer is
   :data:`~graphrag.answer.prompts.NOT_SUPPORTED`, with a note saying why.

The answer's usage adds the map calls to the reduce call; its timings add ``map``.
Budget stops and endpoint failures are raised as :class:`~graphrag.errors.LLMError`
subclasses, as in every LLM path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphrag.answer.extractive import ABSTAIN_PREFIX
from graphrag.answer.global_prompts import (
    Point,
    map_prompt,
    parse_points,
    reduce_prompt,
    source_numbers,
)
from graphrag.answer.llm_answerer import LLMAnswerer
from graphrag.answer.prompts import DEFAULT_CONTEXT_TOKENS, NOT_SUPPORTED
from graphrag.answer.streaming import AnswerStream, word_pieces
from graphrag.errors import GraphRAGError, InvalidArgumentError, LLMError
from graphrag.llm import ChatResult, usage_tag
from graphrag.llm.replies import MalformedReplyError
from graphrag.models import (
    Answer,
    AnswerKind,
    AnswerUsage,
    RetrievedContext,
    ScoredChunk,
    ScoredCommunity,
)

__all__ = ["NO_COMMUNITY_NOTE", "NO_POINTS_NOTE", "MapReduceAnswerer"]

NO_COMMUNITY_NOTE = (
    f"{ABSTAIN_PREFIX} global search found no community summary for this question, so the "
    "model was not asked (no LLM call was made). Run `graphrag analyze` if none exists."
)
NO_POINTS_NOTE = (
    f"{ABSTAIN_PREFIX} none of the {{n}} community summaries the model read helps answer the "
    "question (no reduce call was made)."
)


@dataclass
class _Mapped:
    """What the map step found: points, skipped replies, usage, time."""

    points: list[Point] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    results: list[ChatResult] = field(default_factory=list)
    read: int = 0
    ms: float = 0.0


class MapReduceAnswerer:
    """Answers a ``global`` question with the chat model: map, then reduce.

    Args:
        answerer: The LLM answerer that makes the reduce call and checks its citations (its
            chat model makes the map calls too).
        max_communities: Community summaries read (one map call each).
        context_tokens: Most estimated tokens of one map prompt's report and sources, and of
            the reduce prompt's points.
        map_tokens: Most tokens of one map reply.

    Raises:
        InvalidArgumentError: If a limit is below 1.
    """

    def __init__(
        self,
        answerer: LLMAnswerer,
        *,
        max_communities: int = 5,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        map_tokens: int = 512,
    ) -> None:
        if min(max_communities, context_tokens, map_tokens) < 1:
            msg = (
                "max_communities, context_tokens and map_tokens must be at least 1, got "
                f"{max_communities}, {context_tokens} and {map_tokens}"
            )
            raise InvalidArgumentError(msg)
        self._answerer = answerer
        self._max = max_communities
        self._budget = context_tokens
        self._map_tokens = map_tokens

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Map over the context's best communities, then reduce to one cited answer.

        Raises:
            LLMError: If the model fails (after its retries) or the budget is reached.
        """
        started = time.perf_counter()
        mapped = await self._map(question, context)
        if not mapped.points:
            return self._unsupported(question, context, mapped, started)
        prompt = reduce_prompt(
            question, mapped.points, source_numbers(context), budget=self._budget
        )
        answer = await self._answerer.answer(question, context, prompt=prompt)
        return _with_map(answer, mapped, started)

    def stream(self, question: str, context: RetrievedContext) -> AnswerStream:
        """The map step, then the reduce call's tokens as they arrive.

        Raises:
            LLMError: While iterating, if the model fails or the budget is reached.
        """
        holder: list[Answer] = []

        async def pieces() -> AsyncIterator[str]:
            started = time.perf_counter()
            mapped = await self._map(question, context)
            if not mapped.points:
                holder.append(self._unsupported(question, context, mapped, started))
                for piece in word_pieces(holder[0].text):
                    yield piece
                return
            sources = source_numbers(context)
            prompt = reduce_prompt(question, mapped.points, sources, budget=self._budget)
            inner = self._answerer.stream(question, context, prompt=prompt)
            try:
                async for piece in inner:
                    yield piece
            finally:
                if not inner.done:
                    await inner.aclose()
            holder.append(_with_map(inner.answer, mapped, started))

        async def finish() -> Answer:
            return holder[0]

        return AnswerStream(context, pieces(), finish, live=True)

    async def _map(self, question: str, context: RetrievedContext) -> _Mapped:
        began = time.perf_counter()
        communities = list(context.communities[: self._max])
        sources = source_numbers(context)
        calls = [self._map_one(question, c, sources) for c in communities]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        mapped = _Mapped(read=len(communities))
        for community, outcome in zip(communities, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                raise _as_llm_error(outcome)
            result, found = outcome
            mapped.results.append(result)
            if isinstance(found, str):
                mapped.malformed.append(f"{community.title!r}: {found}")
            else:
                mapped.points.extend(found)
        mapped.points.sort(key=lambda p: -p.score)
        mapped.ms = round((time.perf_counter() - began) * 1000.0, 3)
        return mapped

    async def _map_one(
        self, question: str, community: ScoredCommunity, sources: dict[int, ScoredChunk]
    ) -> tuple[ChatResult, list[Point] | str]:
        """One map call: the community's helpful points, or why the reply was unusable."""
        messages = map_prompt(question, community, sources, budget=self._budget)
        with usage_tag(f"global-map:{community.id}"):
            result = await self._answerer.chat_model.complete(
                messages, max_tokens=self._map_tokens, temperature=0.0, json_mode=True
            )
        try:
            return result, parse_points(result.text, community.title, list(sources))
        except MalformedReplyError as exc:
            return result, exc.reason

    def _unsupported(
        self, question: str, context: RetrievedContext, mapped: _Mapped, started: float
    ) -> Answer:
        note = NO_COMMUNITY_NOTE if not mapped.read else NO_POINTS_NOTE.format(n=mapped.read)
        answer = Answer(
            question=question,
            text=NOT_SUPPORTED,
            kind=AnswerKind.GENERATED,
            mode=context.mode,
            citations=[],
            notes=[note, *context.notes],
            context=context,
        )
        return _with_map(answer, mapped, started)


def _with_map(answer: Answer, mapped: _Mapped, started: float) -> Answer:
    """Add the map step's usage, notes and time to an answer."""
    notes = list(answer.notes)
    if mapped.malformed:
        skipped = "; ".join(mapped.malformed)
        notes.insert(
            0,
            f"Skipped {len(mapped.malformed)} of {mapped.read} community summaries: the "
            f"model's reply was not the expected JSON ({skipped}).",
        )
    timings = {"map": mapped.ms, **answer.timings}
    timings["total"] = round((time.perf_counter() - started) * 1000.0, 3)
    return answer.model_copy(
        update={"notes": notes, "timings": timings, "usage": _usage(answer.usage, mapped)}
    )


def _usage(reduce: AnswerUsage | None, mapped: _Mapped) -> AnswerUsage | None:
    if not mapped.results and reduce is None:
        return None
    results = mapped.results
    model = reduce.model if reduce is not None else results[0].model
    return AnswerUsage(
        model=model,
        prompt_tokens=sum(r.usage.prompt_tokens for r in results)
        + (reduce.prompt_tokens if reduce else 0),
        completion_tokens=sum(r.usage.completion_tokens for r in results)
        + (reduce.completion_tokens if reduce else 0),
        estimated=any(r.usage.estimated for r in results) or bool(reduce and reduce.estimated),
        cached=all(r.cached for r in results) and (reduce is None or reduce.cached),
    )


def _as_llm_error(exc: BaseException) -> BaseException:
    if isinstance(exc, GraphRAGError) or not isinstance(exc, Exception):
        return exc
    return LLMError(f"the chat model failed in global search ({type(exc).__name__}: {exc})")
