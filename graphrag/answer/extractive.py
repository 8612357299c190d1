"""The extractive answerer: quotes the best supporting sentences when no LLM is configured."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import numpy as np

from graphrag.answer.chain import ChainSentence, EvidencePlan, QuestionFacts, plan_evidence
from graphrag.answer.mentions import ChunkParser, clean_title, topic_mention
from graphrag.answer.relevance import (
    DEFAULT_MIN_RELEVANCE,
    Relevance,
    best_similarity,
    word_overlap,
)
from graphrag.config import ExtractionSettings
from graphrag.errors import InvalidArgumentError
from graphrag.models import Answer, AnswerKind, Citation, RetrievedContext, ScoredChunk
from graphrag.ports import Embedder

__all__ = [
    "ABSTAIN_PREFIX",
    "EXTRACTIVE_NOTE",
    "NO_PASSAGES_NOTE",
    "NO_PASSAGES_TEXT",
    "ExtractiveAnswerer",
    "Sentence",
    "abstained",
    "abstention_note",
    "split_sentences",
]

logger = logging.getLogger(__name__)

EXTRACTIVE_NOTE = (
    "No LLM is configured: this answer quotes the best supporting sentences verbatim (extractive)."
)
NO_PASSAGES_TEXT = "No supporting passages were found for this question."
ABSTAIN_PREFIX = "Abstained:"
"""Every note of an answer that abstains starts with this (see :func:`abstained`)."""
NO_PASSAGES_NOTE = f"{ABSTAIN_PREFIX} retrieval returned no passage with a sentence to quote."

_CHUNKS_READ = 5
CHAIN_CHUNKS = 10
"""Chunks the evidence chain reads (relevance is measured on the first five): a second-hop
passage often ranks sixth to tenth."""
DEFAULT_SPACY_MODEL: str = str(ExtractionSettings.model_fields["spacy_model"].default)
_RANK_BONUS = 0.05
_MIN_WORDS = 3
_TITLE_WORDS = 8
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+|\n\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|Mt|No|vs|etc|Inc|Ltd|Co|Corp|Gen|Col|Lt|Sgt|Rev)"
    r"|\b[A-Z])\.\s+$"
)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk with its character span (``text == chunk[start:end]``)."""

    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences with character offsets.

    Boundaries are line breaks, and ``.``/``!``/``?`` (plus closing quotes or brackets)
    followed by whitespace and an upper-case letter, digit or opening quote, except after
    common abbreviations and initials (``Dr.``, ``J.``).

    Args:
        text: The text to split.

    Returns:
        Non-empty sentences, stripped, with offsets into ``text``.
    """
    sentences: list[Sentence] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        group = match.group()
        if group[0] not in ".!?":  # a bare line break: hard-wrapped text goes on
            line_start = text.rfind("\n", 0, match.start()) + 1
            line = text[line_start : match.start()]
            heading = _title_like(line) and (
                line_start == 0
                or not text[:line_start].strip()
                or text[:line_start].rstrip(" \t").endswith("\n\n")
            )
            if group.count("\n") < 2 and not heading:
                continue
        elif "\n" not in group:
            nxt = text[end : end + 1]
            if not nxt or not (nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘("):
                continue
            if _ABBREVIATION.search(text[max(start, end - 8) : end]):
                continue
        _append(sentences, text, start, end)
        start = end
    _append(sentences, text, start, len(text))
    return sentences


def _title_like(line: str) -> bool:
    """Short and without closing punctuation (a heading when it opens a paragraph)."""
    words = line.split()
    return 0 < len(words) <= _TITLE_WORDS and line.rstrip()[-1:] not in ",;:-"


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = start + len(piece) - len(piece.lstrip())
        out.append(Sentence(stripped, lead, lead + len(stripped)))


def abstention_note(relevance: Relevance, floor: float) -> str:
    """Return the note of an answer below the relevance floor: the numbers and what to do."""
    return (
        f"{ABSTAIN_PREFIX} the retrieved passages do not match the question: "
        f"{relevance.describe()} is below answer.min_relevance {floor:.2f}. Rephrase the "
        "question with the names and terms your documents use, or lower "
        "GRAPHRAG_ANSWER__MIN_RELEVANCE (0 disables the floor)."
    )


def abstained(answer: Answer) -> bool:
    """Whether an answer abstained (nothing retrieved, or nothing relevant enough)."""
    return any(note.startswith(ABSTAIN_PREFIX) for note in answer.notes)


@dataclass(frozen=True)
class _Candidate:
    rank: int
    chunk: ScoredChunk
    sentence: Sentence


class ExtractiveAnswerer:
    """Answers by quoting the sentences of the top chunks that follow the reasoning chain.

    With a spaCy model (the default), the sentences of the first :data:`CHAIN_CHUNKS` chunks
    are scored by their cosine to what the question asks (the question without its
    entities' names, ``Who is the spouse of the director of``), a small bonus for the chunk's
    rank and the evidence chain of :mod:`graphrag.answer.chain`: the best sentence holding an
    entity of the expected answer type (``who`` -> a person, ``when`` -> a date, ...) on the
    chain from the question's entities through a bridge entity is quoted, after the sentence
    that links the question's entity to that bridge, then the best sentence of each other
    chunk; ``max_sentences`` (3) at most, each verbatim and followed by a citation marker
    ``[n]``. A comparison (``A or B``) quotes the best sentence naming each option. The typed
    entity is the answer's ``short_answer``. Without a spaCy model the sentences of the first
    five chunks are scored by cosine to the question (plus the rank bonus), the best
    ``max_sentences`` are quoted (one per chunk first) and there is no short answer.

    When those chunks do not match the question (see :mod:`graphrag.answer.relevance`: the
    best sentence cosine and the share of question words found, below ``min_relevance``), the
    answer abstains as it does when nothing was retrieved: the text is
    :data:`NO_PASSAGES_TEXT`, there is no citation, and a note (starting with
    :data:`ABSTAIN_PREFIX`) gives the relevance figures. The kind stays extractive and the
    context is kept, so the caller still sees what was retrieved. The relevance is always
    measured on the first five chunks. The context's notes (a dense fallback, say) are
    carried into the answer's notes.

    Args:
        embedder: Embeds the question and the candidate sentences.
        max_sentences: Sentences quoted.
        min_relevance: The relevance floor (``answer.min_relevance``); 0 never abstains.
        spacy_model: The spaCy pipeline of the evidence chain (``extraction.spacy_model``,
            loaded once per process on the first answer); ``None`` quotes by similarity only.

    Example:
        ```python
        async def ask(service: RetrievalService, embedder: Embedder, question: str) -> Answer:
            context = await service.retrieve(question)
            answer = await ExtractiveAnswerer(embedder).answer(question, context)
            # every citation quotes a retrieved chunk verbatim (unless the answer abstains)
            return answer
        ```
    """

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 3,
        *,
        min_relevance: float = DEFAULT_MIN_RELEVANCE,
        spacy_model: str | None = DEFAULT_SPACY_MODEL,
    ) -> None:
        if max_sentences < 1:
            msg = f"max_sentences must be at least 1, got {max_sentences}"
            raise InvalidArgumentError(msg)
        if not 0.0 <= min_relevance <= 1.0:
            msg = f"min_relevance must be between 0 and 1, got {min_relevance}"
            raise InvalidArgumentError(msg)
        self._embedder = embedder
        self._max_sentences = max_sentences
        self._min_relevance = min_relevance
        self._parser = None if spacy_model is None else ChunkParser(spacy_model)
        self._chain_chunks = CHAIN_CHUNKS

    @property
    def min_relevance(self) -> float:
        """The relevance floor below which answers abstain (0: never)."""
        return self._min_relevance

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context by quoting its best sentences.

        Args:
            question: The question.
            context: The retrieved context (its chunks are quoted, best first).

        Returns:
            An extractive answer whose citations point at the quoted chunks, or an abstaining
            "no supporting passages" answer without citations, with a note saying why, when
            the context has no usable sentence or is not relevant enough.

        Raises:
            EmbeddingError: If the embedder fails.
        """
        answer, _ = await self.answer_with_relevance(question, context)
        return answer

    async def answer_with_relevance(
        self, question: str, context: RetrievedContext
    ) -> tuple[Answer, Relevance | None]:
        """Like :meth:`answer`, also returning the relevance it measured.

        Returns:
            ``(answer, relevance)``; the relevance is ``None`` when the context has no
            usable sentence (nothing was measured).

        Raises:
            EmbeddingError: If the embedder fails.
            ExtractionError: If the spaCy model cannot be loaded.
        """
        read = context.chunks[:_CHUNKS_READ]
        candidates = self._candidates(read)
        if not candidates:
            answer = self._answer(question, context, NO_PASSAGES_TEXT, [], note=NO_PASSAGES_NOTE)
            return answer, None
        extra: list[_Candidate] = []
        if self._parser is not None:  # the chain reads further; relevance stays on `read`
            extra = self._candidates(context.chunks[: self._chain_chunks], skip=candidates)
        sims, vectors = await self._similarities(question, candidates + extra)
        own = sims[: len(candidates)]
        relevance = Relevance(
            similarity=best_similarity(own, [len(c.sentence.text.split()) for c in candidates]),
            overlap=word_overlap(question, (c.text for c in read)),
        )
        if self._min_relevance > 0 and relevance.score < self._min_relevance:
            logger.debug("abstaining on %r: %s", question, relevance.describe())
            note = abstention_note(relevance, self._min_relevance)
            return self._answer(question, context, NO_PASSAGES_TEXT, [], note=note), relevance
        chosen, short = await self._choose(question, context, candidates + extra, sims, vectors)
        citations = [
            Citation(
                marker=i,
                chunk_id=c.chunk.id,
                document_id=c.chunk.document_id,
                source=c.chunk.source,
                title=c.chunk.title,
                quote=c.sentence.text,
            )
            for i, c in enumerate(chosen, start=1)
        ]
        text = " ".join(f"{c.quote} [{c.marker}]" for c in citations)
        answer = self._answer(question, context, text, citations)
        answer.short_answer = short
        return answer, relevance

    async def _choose(
        self,
        question: str,
        context: RetrievedContext,
        candidates: list[_Candidate],
        sims: list[float],
        vectors: np.ndarray,
    ) -> tuple[list[_Candidate], str | None]:
        """The sentences to quote, best first, and the short answer (``None``: none)."""
        n = max(len({c.chunk.id for c in candidates}), 1)
        bonus = [_RANK_BONUS * (n - c.rank) / n for c in candidates]
        if self._parser is None:
            scores = [s + b for s, b in zip(sims, bonus, strict=True)]
            return self._select(candidates, scores), None
        parser = self._parser
        facts = await asyncio.to_thread(self._facts, parser, question, context)
        relation = sims  # what the question asks about its entities, without their names
        rest = facts.relation_text(question)
        if rest:
            rest_vec = await self._embedder.embed([rest], kind="query")
            relation = [float(x) for x in vectors @ np.asarray(rest_vec[0], dtype=np.float64)]
        scores = [r + b for r, b in zip(relation, bonus, strict=True)]
        plan = await asyncio.to_thread(self._plan, parser, facts, candidates, scores)
        return [candidates[i] for i in plan.chosen], plan.short_answer

    def _facts(
        self, parser: ChunkParser, question: str, context: RetrievedContext
    ) -> QuestionFacts:
        answer_type, mentions = parser.question(question)
        return QuestionFacts.build(
            question,
            answer_type,
            mentions,
            context_entities=((e.name, e.type) for e in context.entities),
            paths=context.paths,
            titles=(c.title for c in context.chunks[: self._chain_chunks]),
        )

    def _plan(
        self,
        parser: ChunkParser,
        facts: QuestionFacts,
        candidates: list[_Candidate],
        scores: list[float],
    ) -> EvidencePlan:
        """Parse the chunks read, then plan the chain (blocking: spaCy)."""
        texts = list(dict.fromkeys(c.chunk.text for c in candidates))
        titles = list(dict.fromkeys(clean_title(c.chunk.title) for c in candidates))
        found = parser.mentions(texts + titles)
        by_text = dict(zip(texts, found[: len(texts)], strict=True))
        by_title = dict(zip(titles, found[len(texts) :], strict=True))
        sentences = []
        for c in candidates:
            sentence = c.sentence
            mentions = [
                m for m in by_text[c.chunk.text] if sentence.start <= m.start < sentence.end
            ]
            topic = topic_mention(
                sentence.text,
                sentence.start,
                c.chunk.title,
                [*by_text[c.chunk.text], *by_title[clean_title(c.chunk.title)]],
            )
            sentences.append(
                ChainSentence(
                    text=sentence.text,
                    rank=c.rank,
                    title=c.chunk.title,
                    mentions=tuple([topic] if topic else []) + tuple(mentions),
                )
            )
        return plan_evidence(facts, sentences, scores, self._max_sentences)

    async def _similarities(
        self, question: str, candidates: list[_Candidate]
    ) -> tuple[list[float], np.ndarray]:
        """The cosine of each sentence to the question, and the sentence vectors.

        Unit vectors: the cosine is a dot product.
        """
        question_vec = await self._embedder.embed([question], kind="query")
        sentence_vecs = await self._embedder.embed(
            [c.sentence.text for c in candidates], kind="passage"
        )
        vectors = np.asarray(sentence_vecs, dtype=np.float64)
        sims = vectors @ np.asarray(question_vec[0], dtype=np.float64)
        return [float(s) for s in sims], vectors

    def _answer(
        self,
        question: str,
        context: RetrievedContext,
        text: str,
        citations: list[Citation],
        *,
        note: str | None = None,
    ) -> Answer:
        return Answer(
            question=question,
            text=text,
            kind=AnswerKind.EXTRACTIVE,
            mode=context.mode,
            citations=citations,
            notes=[EXTRACTIVE_NOTE, *context.notes, *([] if note is None else [note])],
            context=context,
        )

    @staticmethod
    def _candidates(
        chunks: list[ScoredChunk], *, skip: list[_Candidate] | None = None
    ) -> list[_Candidate]:
        """Split chunks into sentences, skipping very short ones and repeats (overlaps).

        With ``skip``: the sentences of chunks not in ``skip`` that are not repeats of its.
        """
        seen = {" ".join(c.sentence.text.split()).casefold() for c in skip or []}
        done = {c.chunk.id for c in skip or []}
        out: list[_Candidate] = []
        fallback: list[_Candidate] = []
        for rank, chunk in enumerate(chunks):
            if chunk.id in done:
                continue
            for sentence in split_sentences(chunk.text):
                key = " ".join(sentence.text.split()).casefold()
                if key in seen:
                    continue
                seen.add(key)
                target = out if len(sentence.text.split()) >= _MIN_WORDS else fallback
                target.append(_Candidate(rank, chunk, sentence))
        return out if skip is not None else out or fallback

    def _select(self, candidates: list[_Candidate], scores: list[float]) -> list[_Candidate]:
        """Best sentences, one per chunk first, then the next best; best first."""
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        picked: list[int] = []
        chunks: set[str] = set()
        for i in order:
            if len(picked) < self._max_sentences and candidates[i].chunk.id not in chunks:
                picked.append(i)
                chunks.add(candidates[i].chunk.id)
        for i in order:
            if len(picked) >= self._max_sentences:
                break
            if i not in picked:
                picked.append(i)
        picked.sort(key=lambda i: -scores[i])
        return [candidates[i] for i in picked]
