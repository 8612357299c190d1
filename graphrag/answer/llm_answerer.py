"""The LLM answerer: the configured chat model answers from the context, citations checked.

:class:`LLMAnswerer` implements the :class:`~graphrag.ports.Answerer` port and streams too:

1. The prompt numbers the context's chunks as sources ``[1]``, ``[2]``... and adds compact
   graph facts (relations, paths, entities, community summaries) within a token budget
   (:mod:`graphrag.answer.prompts`). An empty context makes no call.
2. The model is told to answer only from the context, cite the source numbers, and reply
   :data:`~graphrag.answer.prompts.NOT_SUPPORTED` when the context does not answer.
3. Every citation in the reply is checked against the sources
   (:mod:`graphrag.answer.citations`): unknown ids are removed from the text and reported in
   the notes; each valid one becomes a :class:`~graphrag.models.Citation` quoting the
   sentence of its chunk that best matches the answer sentences citing it.

The answer is of kind ``generated`` and carries the model's token usage and the timings of
each stage. An empty reply, or one whose only content was unknown citations, becomes the
not-supported answer with a note; an answer that cites nothing is kept with a note saying it
is unverified, and one that repeats the prompt is kept with a note saying it is
malformed. Errors of the model (budget reached, timeouts after the retries, a wrong key)
are raised as :class:`~graphrag.errors.LLMError` subclasses.

Example:
    ```python
    model = make_chat_model(settings)  # None without an LLM configured
    answerer = LLMAnswerer(model, max_tokens=settings.llm.max_tokens)
    answer = await answerer.answer(question, context)

    stream = answerer.stream(question, context)
    async for piece in stream:
        print(piece, end="", flush=True)
    stream.answer.citations
    ```
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphrag.answer.citations import (
    CheckedText,
    CitationFilter,
    best_sentence,
    check_citations,
    citing_sentences,
)
from graphrag.answer.extractive import ABSTAIN_PREFIX
from graphrag.answer.prompts import (
    DEFAULT_CONTEXT_TOKENS,
    NOT_SUPPORTED,
    AnswerPrompt,
    build_prompt,
    is_not_supported,
    repeats_prompt,
)
from graphrag.answer.streaming import AnswerStream, word_pieces
from graphrag.errors import GraphRAGError, InvalidArgumentError, LLMError
from graphrag.llm import ChatModel, ChatResult
from graphrag.models import Answer, AnswerKind, AnswerUsage, Citation, RetrievedContext

__all__ = [
    "ECHO_NOTE",
    "EMPTY_CONTEXT_NOTE",
    "EMPTY_REPLY_NOTE",
    "NOT_SUPPORTED_NOTE",
    "UNCITED_NOTE",
    "LLMAnswerer",
]

logger = logging.getLogger(__name__)

EMPTY_CONTEXT_NOTE = (
    f"{ABSTAIN_PREFIX} retrieval returned no passage, so the model was not asked "
    "(no LLM call was made)."
)
NOT_SUPPORTED_NOTE = f"{ABSTAIN_PREFIX} the model found no answer in the retrieved context."
EMPTY_REPLY_NOTE = (
    f"{ABSTAIN_PREFIX} the model's reply held no usable answer (empty, or only citations of "
    "sources the context does not have)."
)
ECHO_NOTE = (
    "Malformed: the reply repeats the prompt (its instructions or source list) instead of "
    "answering; citations in the repeated text are not evidence."
)
UNCITED_NOTE = (
    "Unverified: the answer cites none of the context's sources; check it against the "
    "retrieved passages."
)


@dataclass
class _Run:
    """One answer in the making: its prompt and timing marks."""

    started: float
    prompt: AnswerPrompt
    timings: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round((now - since) * 1000.0, 3)
        return now


class LLMAnswerer:
    """Answers with the chat model from the retrieved context only, with checked citations.

    Args:
        chat_model: The chat model (normally the stack :func:`graphrag.llm.make_chat_model`
            builds: cache, budget, retries).
        max_tokens: Most tokens of a reply (``llm.max_tokens``).
        temperature: Sampling temperature (``llm.temperature``).
        context_tokens: Most estimated tokens of the sources and graph facts in the prompt.

    Raises:
        InvalidArgumentError: If ``max_tokens`` or ``context_tokens`` is below 1.
    """

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> None:
        if max_tokens < 1 or context_tokens < 1:
            msg = (
                f"max_tokens and context_tokens must be at least 1, got {max_tokens} and "
                f"{context_tokens}"
            )
            raise InvalidArgumentError(msg)
        self._chat = chat_model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._context_tokens = context_tokens

    @property
    def chat_model(self) -> ChatModel:
        """The chat model that writes the answers."""
        return self._chat

    async def answer(
        self, question: str, context: RetrievedContext, *, prompt: AnswerPrompt | None = None
    ) -> Answer:
        """Answer from the context only, citing its sources.

        Args:
            question: The question.
            context: The retrieved context.
            prompt: A prompt built elsewhere (global search's reduce step) instead of
                :func:`~graphrag.answer.prompts.build_prompt`'s.

        Returns:
            A ``generated`` answer with checked citations, usage and timings (the
            not-supported answer, without a call, when the context has no chunk).

        Raises:
            LLMError: If the model fails (after its retries) or the budget is reached.
        """
        run = self._start(question, context, prompt)
        if not run.prompt.sources:
            return self._no_context(question, context, run)
        sent = time.perf_counter()
        try:
            result = await self._chat.complete(
                run.prompt.messages, max_tokens=self._max_tokens, temperature=self._temperature
            )
        except GraphRAGError:
            raise
        except Exception as exc:
            raise _failed(exc) from exc
        verify = run.mark("llm", sent)
        checked = check_citations(result.text, run.prompt.sources)
        return self._finish(question, context, run, checked, result, verify)

    def stream(
        self, question: str, context: RetrievedContext, *, prompt: AnswerPrompt | None = None
    ) -> AnswerStream:
        """Answer as a stream of text pieces (citations checked as they arrive).

        The pieces join to exactly the final answer's text; ``stream.answer`` holds the
        answer (citations, notes, usage, timings) once the stream has ended. ``prompt`` is
        as in :meth:`answer`.

        Raises:
            LLMError: While iterating, if the model fails or the budget is reached.
        """
        holder: list[Answer] = []

        async def finish() -> Answer:
            return holder[0]

        pieces = self._pieces(question, context, holder, prompt)
        return AnswerStream(context, pieces, finish, live=True)

    async def _pieces(
        self,
        question: str,
        context: RetrievedContext,
        holder: list[Answer],
        prompt: AnswerPrompt | None = None,
    ) -> AsyncIterator[str]:
        run = self._start(question, context, prompt)
        if not run.prompt.sources:
            answer = self._no_context(question, context, run)
            for piece in word_pieces(answer.text):
                yield piece
            holder.append(answer)
            return
        checker = CitationFilter(run.prompt.sources)
        sent = time.perf_counter()
        chat = self._chat.stream(
            run.prompt.messages, max_tokens=self._max_tokens, temperature=self._temperature
        )
        try:
            async for raw in chat:
                if "first_token" not in run.timings:
                    run.mark("first_token", sent)
                out = checker.feed(raw)
                if out:
                    yield out
            tail = checker.finish()
            if tail:
                yield tail
            result = chat.result
        except GraphRAGError:
            raise
        except Exception as exc:
            raise _failed(exc) from exc
        finally:
            if not chat.done:
                await chat.aclose()
        verify = run.mark("llm", sent)
        if not checker.text:
            yield NOT_SUPPORTED
        checked = CheckedText(checker.text, list(checker.cited), list(checker.unknown))
        holder.append(self._finish(question, context, run, checked, result, verify))

    def _start(
        self, question: str, context: RetrievedContext, prompt: AnswerPrompt | None = None
    ) -> _Run:
        started = time.perf_counter()
        if prompt is None:
            prompt = build_prompt(question, context, budget=self._context_tokens)
        run = _Run(started, prompt)
        run.mark("prompt", started)
        return run

    def _no_context(self, question: str, context: RetrievedContext, run: _Run) -> Answer:
        run.mark("total", run.started)
        return Answer(
            question=question,
            text=NOT_SUPPORTED,
            kind=AnswerKind.GENERATED,
            mode=context.mode,
            citations=[],
            notes=[EMPTY_CONTEXT_NOTE, *context.notes],
            context=context,
            timings=run.timings,
        )

    def _finish(
        self,
        question: str,
        context: RetrievedContext,
        run: _Run,
        checked: CheckedText,
        result: ChatResult,
        verify_started: float,
    ) -> Answer:
        text = checked.text or NOT_SUPPORTED
        citations = _citations(text, checked.cited, run.prompt)
        notes = self._notes(context, run.prompt, checked, result)
        run.mark("verify", verify_started)
        run.mark("total", run.started)
        logger.debug("generated answer (%d citations, notes %s)", len(citations), notes)
        usage = result.usage
        return Answer(
            question=question,
            text=text,
            kind=AnswerKind.GENERATED,
            mode=context.mode,
            citations=citations,
            notes=notes,
            context=context,
            usage=AnswerUsage(
                model=result.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                estimated=usage.estimated,
                cached=result.cached,
            ),
            timings=run.timings,
        )

    def _notes(
        self,
        context: RetrievedContext,
        prompt: AnswerPrompt,
        checked: CheckedText,
        result: ChatResult,
    ) -> list[str]:
        notes: list[str] = []
        if checked.unknown:
            removed = " ".join(f"[{i}]" for i in checked.unknown)
            notes.append(
                f"Removed citation(s) {removed}: the context has no such source (it has "
                f"{_ids(prompt)})."
            )
        if not checked.text:
            notes.append(EMPTY_REPLY_NOTE)
        elif repeats_prompt(checked.text, prompt):
            notes.append(ECHO_NOTE)
        elif is_not_supported(checked.text):
            notes.append(NOT_SUPPORTED_NOTE)
        elif not checked.cited:
            notes.append(UNCITED_NOTE)
        if result.finish_reason == "length":
            notes.append(
                f"The reply was cut at the limit of {self._max_tokens} tokens "
                "(GRAPHRAG_LLM__MAX_TOKENS); the answer may be incomplete."
            )
        if prompt.left_out:
            notes.append(
                f"{prompt.left_out} of {len(context.chunks)} retrieved chunks did not fit the "
                f"prompt's budget of {self._context_tokens} tokens and were not shown to the "
                "model."
            )
        return [*notes, *context.notes]


def _ids(prompt: AnswerPrompt) -> str:
    numbers = sorted(prompt.sources)
    if numbers == list(range(1, len(numbers) + 1)) and len(numbers) > 1:
        return f"[1]-[{len(numbers)}]"
    return " ".join(f"[{n}]" for n in numbers)


def _citations(text: str, cited: list[int], prompt: AnswerPrompt) -> list[Citation]:
    claims = citing_sentences(text)
    citations: list[Citation] = []
    for number in cited:
        chunk = prompt.sources[number]
        sentence = best_sentence(chunk.text, claims.get(number, []))
        citations.append(
            Citation(
                marker=number,
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                source=chunk.source,
                title=chunk.title,
                quote=sentence.text if sentence is not None else chunk.text.strip(),
                span=(sentence.start, sentence.end) if sentence is not None else None,
            )
        )
    return citations


def _failed(exc: Exception) -> LLMError:
    return LLMError(f"the chat model failed while answering ({type(exc).__name__}: {exc})")
