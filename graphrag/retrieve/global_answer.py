"""Answers for the ``global`` mode: the best community summaries, or (later) a map-reduce.

:class:`GlobalAnswerer` implements the :class:`~graphrag.ports.Answerer` port over a
``global`` context (``RetrievedContext.communities``):

- **Without a chat model** (implemented): the answer lists the best communities, each with
  its title and the key sentences of its extractive summary quoted verbatim, each sentence
  cited (``[n]``) by the chunk it comes from, when that chunk is in the context. Kind
  ``extractive``; the context's notes (no analysis yet, stale communities) are passed on.
- **With a chat model** (the hook for the LLM tier, not implemented yet): *map* each of the
  top summaries to a partial answer with a relevance score (one call per community, bounded
  concurrency, citing chunk ids from the community's supporting chunks), drop partial
  answers scored 0, then *reduce* the best partial answers, within the token budget, to one
  answer whose citations are checked against the context's chunks. Until that is written
  the call raises :class:`~graphrag.errors.LLMError` saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphrag.analyze.summaries import parse_key_sentences
from graphrag.answer.extractive import NO_PASSAGES_TEXT
from graphrag.errors import LLMError
from graphrag.models import Answer, AnswerKind, Citation, RetrievedContext, ScoredChunk

if TYPE_CHECKING:
    from graphrag.llm.base import ChatModel

__all__ = ["GLOBAL_EXTRACTIVE_NOTE", "GlobalAnswerer"]

GLOBAL_EXTRACTIVE_NOTE = (
    "No LLM is configured: this answer lists the best community summaries' key sentences "
    "verbatim (global search, extractive)."
)
LLM_NOT_WIRED = (
    "global search with an LLM (map over the community summaries, reduce to one answer) is "
    "not implemented yet; use GlobalAnswerer() without a chat model"
)


class GlobalAnswerer:
    """Answers a question from a ``global`` context.

    Args:
        chat_model: The chat model for the map-reduce (``None``: extractive summaries).
        max_communities: Communities the answer draws on.

    Example:
        ```python
        async def overview(rag: GraphRAG, question: str) -> Answer:
            context = await rag.retrieve(question, mode="global")
            return await GlobalAnswerer().answer(question, context)
        ```
    """

    def __init__(self, chat_model: ChatModel | None = None, *, max_communities: int = 3) -> None:
        self._chat = chat_model
        self._max = max(1, max_communities)

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context's communities only.

        Raises:
            LLMError: With a chat model (the map-reduce is not implemented yet).
        """
        if self._chat is not None:
            return await self._map_reduce(question, context, self._chat)
        return self._extractive(question, context)

    async def _map_reduce(
        self, question: str, context: RetrievedContext, chat_model: ChatModel
    ) -> Answer:
        """The LLM path: map each summary to a partial answer, reduce them to one (hook)."""
        raise LLMError(LLM_NOT_WIRED)

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
