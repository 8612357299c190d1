"""One answerer per retrieval mode: global search answers from communities, others from chunks.

:class:`ModeAnswerer` implements the :class:`~graphrag.ports.Answerer` port and streams: it
hands each context to the answerer of its mode (``RetrievedContext.mode``), or to the
default one. The runtime routes the ``global`` mode to
:class:`~graphrag.retrieve.global_answer.GlobalAnswerer` (extractive summaries, or the LLM
map-reduce) and every other mode to the extractive or LLM answerer.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphrag.answer.streaming import AnswerStream, StreamingAnswerer
from graphrag.models import Answer, RetrievalMode, RetrievedContext
from graphrag.ports import Answerer

__all__ = ["ModeAnswerer"]


class ModeAnswerer:
    """Answers with the answerer of the context's retrieval mode.

    Args:
        default: The answerer of every mode not in ``by_mode``.
        by_mode: Answerers of particular modes.

    Example:
        ```python
        answerer = ModeAnswerer(LLMAnswerer(model), {RetrievalMode.GLOBAL: GlobalAnswerer(model)})
        answer = await answerer.answer(question, context)  # context.mode picks one
        ```
    """

    def __init__(
        self, default: Answerer, by_mode: Mapping[RetrievalMode, Answerer] | None = None
    ) -> None:
        self.default = default
        self.by_mode = dict(by_mode or {})

    def for_mode(self, mode: RetrievalMode) -> Answerer:
        """The answerer of ``mode``."""
        return self.by_mode.get(mode, self.default)

    def for_context(self, context: RetrievedContext) -> Answerer:
        """The answerer of ``context.mode``, or the default one for a chunks-only context.

        A ``global`` context with chunks but no communities (the dense fallback before
        ``graphrag analyze``) is answered from its chunks.
        """
        if context.mode is RetrievalMode.GLOBAL and context.chunks and not context.communities:
            return self.default
        return self.for_mode(context.mode)

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer with the answerer of the context (see :meth:`for_context`)."""
        return await self.for_context(context).answer(question, context)

    def stream(self, question: str, context: RetrievedContext) -> AnswerStream:
        """Stream with the answerer of the context (word pieces if it cannot stream)."""
        chosen = self.for_context(context)
        if isinstance(chosen, StreamingAnswerer):
            return chosen.stream(question, context)
        return AnswerStream.deferred(lambda: chosen.answer(question, context), context)
