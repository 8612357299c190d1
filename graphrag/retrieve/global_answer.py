"""Answers for the ``global`` mode: the best community summaries, or an LLM map-reduce.

:class:`GlobalAnswerer` implements the :class:`~graphrag.ports.Answerer` port (and streams)
over a ``global`` context (``RetrievedContext.communities``):

- **Without a chat model**: the answer lists the best communities, each with its title and
  the key sentences of its summary quoted verbatim, each sentence cited (``[n]``) by the
  chunk it comes from, when that chunk is in the context. Kind ``extractive``; the
  context's notes (no analysis yet, stale communities) are passed on.
- **With a chat model**: :class:`~graphrag.answer.map_reduce.MapReduceAnswerer` *maps* each
  of the top summaries to scored points (one call per community, bounded concurrency,
  citing the community's supporting chunks by source number), drops those scored 0, then
  *reduces* the best points, within the token budget, to one ``generated`` answer whose
  citations are checked against the context's chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphrag.analyze.summaries import parse_key_sentences
from graphrag.answer.extractive import NO_PASSAGES_TEXT
from graphrag.answer.prompts import DEFAULT_CONTEXT_TOKENS
from graphrag.answer.streaming import AnswerStream
from graphrag.models import Answer, AnswerKind, Citation, RetrievedContext, ScoredChunk

if TYPE_CHECKING:
    from graphrag.answer.map_reduce import MapReduceAnswerer
    from graphrag.llm.base import ChatModel

__all__ = ["GLOBAL_EXTRACTIVE_NOTE", "GlobalAnswerer"]

GLOBAL_EXTRACTIVE_NOTE = (
    "No LLM is configured: this answer lists the best community summaries' key sentences "
    "verbatim (global search, extractive)."
)


class GlobalAnswerer:
    """Answers a question from a ``global`` context.

    Args:
        chat_model: The chat model for the map-reduce (``None``: extractive summaries).
        max_communities: Communities the answer draws on (map calls with a chat model).
        max_tokens: Most tokens of each map reply and of the reduce reply (``llm.max_tokens``).
        temperature: Sampling temperature of the reduce call.
        context_tokens: Prompt budget of each map call and of the reduce call.

    Example:
        ```python
        async def overview(rag: GraphRAG, question: str) -> Answer:
            context = await rag.retrieve(question, mode="global")
            return await GlobalAnswerer().answer(question, context)
        ```
    """

    def __init__(
        self,
        chat_model: ChatModel | None = None,
        *,
        max_communities: int = 3,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> None:
        self._max = max(1, max_communities)
        self._llm: MapReduceAnswerer | None = None
        if chat_model is not None:
            from graphrag.answer.llm_answerer import LLMAnswerer
            from graphrag.answer.map_reduce import MapReduceAnswerer

            reducer = LLMAnswerer(
                chat_model,
                max_tokens=max_tokens,
                temperature=temperature,
                context_tokens=context_tokens,
            )
            self._llm = MapReduceAnswerer(
                reducer,
                max_communities=self._max,
                context_tokens=context_tokens,
                map_tokens=max_tokens,
            )

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context's communities only.

        Raises:
            LLMError: With a chat model, if it fails (after its retries) or the budget is
                reached.
        """
        if self._llm is not None:
            return await self._llm.answer(question, context)
        return self._extractive(question, context)

    def stream(self, question: str, context: RetrievedContext) -> AnswerStream:
        """Answer as a stream of text pieces (the reduce call's tokens with a chat model)."""
        if self._llm is not None:
            return self._llm.stream(question, context)
        return AnswerStream.from_answer(self._extractive(question, context), context)

    def _extractive(self, question: str, context: RetrievedContext) -> Answer:
        chunks = {c.id: c for c in context.chunks}
        lines: list[str] = []
        citations: list[Citation] = []
        for community in context.communities[: self._max]:
            quotes = _cite(parse_key_sentences(community.summary), chunks, citations)
            lines.append(f"{community.title}: {' '.join(quotes)}" if quotes else community.title)
        notes = [GLOBAL_EXTRACTIVE_NOTE, *context.notes]
        return Answer(
            question=question,
            text="\n".join(lines) if lines else NO_PASSAGES_TEXT,
            kind=AnswerKind.EXTRACTIVE,
            mode=context.mode,
            citations=citations,
            notes=notes,
        )


def _cite(
    sentences: Sequence[tuple[str, str]],
    chunks: dict[str, ScoredChunk],
    citations: list[Citation],
) -> list[str]:
    """Quote the sentences whose chunk is in the context, numbering new citations."""
    quotes: list[str] = []
    for sentence, chunk_id in sentences:
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue
        marker = next((c.marker for c in citations if c.quote == sentence), None)
        if marker is None:
            marker = len(citations) + 1
            citations.append(
                Citation(
                    marker=marker,
                    chunk_id=chunk.id,
                    document_id=chunk.document_id,
                    source=chunk.source,
                    title=chunk.title,
                    quote=sentence,
                )
            )
        quotes.append(f"{sentence} [{marker}]")
    return quotes
