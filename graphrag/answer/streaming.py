"""Streamed answers: :class:`AnswerStream`, an async iterator of text pieces and then an Answer.

Both answerers stream through it: :class:`~graphrag.answer.LLMAnswerer` yields the model's
tokens as they arrive (citations already checked, see :mod:`graphrag.answer.citations`);
any other answerer's finished answer is split into word pieces
(:meth:`AnswerStream.from_answer`). Either way the pieces join to exactly
``stream.answer.text``.

Example:
    ```python
    stream = await rag.answer_stream("Who built the Lantern Bridge?")
    print(len(stream.context.chunks), "chunks")
    async for piece in stream:
        print(piece, end="", flush=True)
    print([c.source for c in stream.answer.citations])
    ```
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, runtime_checkable

from graphrag.errors import GraphRAGError
from graphrag.models import Answer, RetrievedContext

__all__ = ["AnswerStream", "StreamingAnswerer", "word_pieces"]

_PIECE = re.compile(r"\S+\s*|\s+")


def word_pieces(text: str) -> list[str]:
    """Split text into word pieces (a word and the whitespace after it) that join back to it.

    Example:
        ```python
        word_pieces("Paris [1]. Lyon")  # ['Paris ', '[1]. ', 'Lyon']
        ```
    """
    return _PIECE.findall(text)


class AnswerStream:
    """The answer to one question, streamed: its context, its text pieces, then the Answer.

    Iterate it once; :attr:`answer` is available when the iteration has ended. Stop early
    with :meth:`aclose` (an LLM request is then cancelled).

    Args:
        context: The retrieved context the answer is written from.
        pieces: The answer's text pieces.
        finish: Returns the final answer once ``pieces`` is exhausted.
        live: ``True`` when the pieces are generated while they are sent (an LLM), ``False``
            when they split an answer that was complete before the first piece.
    """

    def __init__(
        self,
        context: RetrievedContext,
        pieces: AsyncIterator[str],
        finish: Callable[[], Awaitable[Answer]],
        *,
        live: bool,
    ) -> None:
        self.context = context
        self.live = live
        self._pieces = pieces
        self._finish = finish
        self._answer: Answer | None = None

    @classmethod
    def from_answer(cls, answer: Answer, context: RetrievedContext) -> AnswerStream:
        """Stream a finished answer as word pieces (what a non-LLM answerer streams)."""

        async def compute() -> Answer:
            return answer

        return cls.deferred(compute, context)

    @classmethod
    def deferred(
        cls, compute: Callable[[], Awaitable[Answer]], context: RetrievedContext
    ) -> AnswerStream:
        """Stream the answer ``compute`` returns, as word pieces, computing it when first read.

        Args:
            compute: Returns the whole answer (e.g. an extractive answerer's ``answer``).
            context: The context it is answered from.
        """
        done: list[Answer] = []

        async def pieces() -> AsyncIterator[str]:
            done.append(await compute())
            for piece in word_pieces(done[0].text):
                yield piece

        async def finish() -> Answer:
            return done[0]

        return cls(context, pieces(), finish, live=False)

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> str:
        if self._answer is not None:
            raise StopAsyncIteration
        try:
            return await self._pieces.__anext__()
        except StopAsyncIteration:
            self._answer = await self._finish()
            raise

    @property
    def done(self) -> bool:
        """Whether the stream has ended and :attr:`answer` is available."""
        return self._answer is not None

    @property
    def answer(self) -> Answer:
        """The final answer (text, citations, notes, usage), once the stream has ended.

        Raises:
            GraphRAGError: If the stream has not been read to the end yet.
        """
        if self._answer is None:
            msg = "the answer stream has not ended: read it to the end before .answer"
            raise GraphRAGError(msg)
        return self._answer

    async def collect(self) -> Answer:
        """Read the rest of the stream and return :attr:`answer`."""
        async for _ in self:
            pass
        return self.answer

    async def aclose(self) -> None:
        """Stop early (cancels the model's request); :attr:`answer` stays unavailable."""
        close = getattr(self._pieces, "aclose", None)
        if close is not None:
            await close()


@runtime_checkable
class StreamingAnswerer(Protocol):
    """An answerer that can also stream (see :class:`~graphrag.answer.LLMAnswerer`)."""

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context only."""
        ...

    def stream(self, question: str, context: RetrievedContext) -> AnswerStream:
        """Answer from the context only, as a stream of text pieces."""
        ...
