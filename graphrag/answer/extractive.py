"""The extractive answerer: quotes the best supporting sentences when no LLM is configured."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from graphrag.models import Answer, AnswerKind, Citation, RetrievedContext, ScoredChunk
from graphrag.ports import Embedder

__all__ = [
    "EXTRACTIVE_NOTE",
    "NO_PASSAGES_TEXT",
    "ExtractiveAnswerer",
    "Sentence",
    "split_sentences",
]

logger = logging.getLogger(__name__)

EXTRACTIVE_NOTE = (
    "No LLM is configured: this answer quotes the best supporting sentences verbatim (extractive)."
)
NO_PASSAGES_TEXT = "No supporting passages were found for this question."

_CHUNKS_READ = 5
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


@dataclass(frozen=True)
class _Candidate:
    rank: int
    chunk: ScoredChunk
    sentence: Sentence


class ExtractiveAnswerer:
    """Answers by quoting the sentences of the top chunks closest to the question.

    Sentences of the first five chunks are scored by cosine similarity to the question plus a
    small bonus for the chunk's rank; the best ``max_sentences`` are quoted verbatim (one per
    chunk first, then the next best), each followed by a citation marker ``[n]``.

    Args:
        embedder: Embeds the question and the candidate sentences.
        max_sentences: Sentences quoted.

    Example:
        >>> answerer = ExtractiveAnswerer(embedder)
        >>> answer = await answerer.answer(question, context)  # doctest: +SKIP
        >>> answer.citations[0].quote in context.chunks[0].text  # doctest: +SKIP
        True
    """

    def __init__(self, embedder: Embedder, max_sentences: int = 3) -> None:
        if max_sentences < 1:
            msg = f"max_sentences must be at least 1, got {max_sentences}"
            raise ValueError(msg)
        self._embedder = embedder
        self._max_sentences = max_sentences

    async def answer(self, question: str, context: RetrievedContext) -> Answer:
        """Answer from the context by quoting its best sentences.

        Args:
            question: The question.
            context: The retrieved context (its chunks are quoted, best first).

        Returns:
            An extractive answer whose citations point at the quoted chunks; a "no supporting
            passages" answer without citations when the context has no usable sentence.

        Raises:
            EmbeddingError: If the embedder fails.
        """
        candidates = self._candidates(context.chunks[:_CHUNKS_READ])
        if not candidates:
            return self._answer(question, context, NO_PASSAGES_TEXT, [])
        question_vec = await self._embedder.embed([question], kind="query")
        sentence_vecs = await self._embedder.embed(
            [c.sentence.text for c in candidates], kind="passage"
        )
        sims = np.asarray(sentence_vecs, dtype=np.float64) @ np.asarray(
            question_vec[0], dtype=np.float64
        )
        n = max(len(context.chunks[:_CHUNKS_READ]), 1)
        scores = [
            float(s) + _RANK_BONUS * (n - c.rank) / n for s, c in zip(sims, candidates, strict=True)
        ]
        chosen = self._select(candidates, scores)
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
        return self._answer(question, context, text, citations)

    def _answer(
        self, question: str, context: RetrievedContext, text: str, citations: list[Citation]
    ) -> Answer:
        return Answer(
            question=question,
            text=text,
            kind=AnswerKind.EXTRACTIVE,
            mode=context.mode,
            citations=citations,
            notes=[EXTRACTIVE_NOTE],
            context=context,
        )

    @staticmethod
    def _candidates(chunks: list[ScoredChunk]) -> list[_Candidate]:
        """Split chunks into sentences, skipping very short ones and repeats (overlaps)."""
        seen: set[str] = set()
        out: list[_Candidate] = []
        fallback: list[_Candidate] = []
        for rank, chunk in enumerate(chunks):
            for sentence in split_sentences(chunk.text):
                key = " ".join(sentence.text.split()).casefold()
                if key in seen:
                    continue
                seen.add(key)
                target = out if len(sentence.text.split()) >= _MIN_WORDS else fallback
                target.append(_Candidate(rank, chunk, sentence))
        return out or fallback

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
