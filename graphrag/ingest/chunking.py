"""Sentence-aware chunking by token count.

Text is split into sentences (blank lines are hard boundaries; within a paragraph a
rule-based spaCy ``sentencizer`` finds sentence ends), then whole sentences are packed into
chunks of at most ``max_tokens`` tokens. Consecutive chunks share whole trailing sentences
totalling at most ``overlap_tokens``. A sentence longer than ``max_tokens`` is cut between
words (or, for a single giant "word", between characters) into pieces that fit.

A chunk also spans at most ``max_tokens * 100`` characters (20,000 by default; a word-piece
token covers at most 100 characters, except the one ``[UNK]`` token a tokenizer gives a
longer run without spaces). Longer runs are cut between characters, so a file that is one
1.6-million-character "word" still gives chunks that the embedder and spaCy (at most
1,000,000 characters) accept.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphrag.config import ChunkingSettings
from graphrag.ids import chunk_id
from graphrag.ingest.tokens import TokenCounterLike
from graphrag.models import Chunk

if TYPE_CHECKING:
    from spacy.language import Language

logger = logging.getLogger(__name__)

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_WORD = re.compile(r"\S+")
_MAX_SEGMENT_CHARS = 100_000
MAX_CHARS_PER_TOKEN = 100
"""A chunk spans at most ``max_tokens * MAX_CHARS_PER_TOKEN`` characters."""


@dataclass(frozen=True, slots=True)
class _Unit:
    """A packable span of the text: a sentence or a piece of a long sentence."""

    start: int
    end: int
    tokens: int


class SentenceChunker:
    """Splits text into sentence-aligned chunks of at most ``max_tokens`` tokens.

    Implements the :class:`~graphrag.ports.Chunker` port. The spaCy pipeline (a blank
    English pipeline with the ``sentencizer``) is created lazily, once per chunker, and
    chunking is deterministic: the same text always yields the same chunks and ids.

    Token counts are assumed additive across whitespace (true of word-piece and regex
    counters), so most chunks need no second count; chunks whose pieces touch without
    whitespace are re-counted exactly. Use one chunker per thread: spaCy pipelines are not
    documented as thread-safe.

    Args:
        settings: ``max_tokens`` and ``overlap_tokens``.
        counter: Counts tokens (the embedding model's :class:`TokenCounter` in production).

    Example:
        >>> from graphrag.ingest.tokens import RegexTokenCounter
        >>> chunker = SentenceChunker(ChunkingSettings(max_tokens=32, overlap_tokens=8),
        ...                           RegexTokenCounter())
        >>> [c.text for c in chunker.chunk("d_1", "One sentence. Another one.")]
        ['One sentence. Another one.']
    """

    def __init__(self, settings: ChunkingSettings, counter: TokenCounterLike) -> None:
        self._max = settings.max_tokens
        self._overlap = settings.overlap_tokens
        self._max_chars = settings.max_tokens * MAX_CHARS_PER_TOKEN
        self._counter = counter
        self._nlp: Language | None = None
        self._lock = threading.Lock()

    def chunk(self, document_id: str, text: str) -> list[Chunk]:
        """Return the chunks of ``text``.

        Args:
            document_id: Id of the document; chunk ids are ``chunk_id(document_id, ordinal)``.
            text: The document text.

        Returns:
            Chunks in order with ``text[start:end] == chunk.text``,
            ``token_count <= max_tokens`` and at most ``max_tokens * MAX_CHARS_PER_TOKEN``
            characters; an empty list for empty or whitespace-only text.
        """
        if not text.strip():
            return []
        spans = list(self._sentence_spans(text))
        counts = self._counter.count_many([text[s:e] for s, e in spans])
        units: list[_Unit] = []
        for (start, end), tokens in zip(spans, counts, strict=True):
            if tokens <= self._max and end - start <= self._max_chars:
                units.append(_Unit(start, end, tokens))
            else:
                units.extend(self._split_long(text, start, end))
        chunks = [
            Chunk(
                id=chunk_id(document_id, ordinal),
                document_id=document_id,
                ordinal=ordinal,
                text=text[start:end],
                start=start,
                end=end,
                token_count=tokens,
            )
            for ordinal, (start, end, tokens) in enumerate(self._pack(text, units))
        ]
        logger.debug("chunked %s: %d sentences -> %d chunks", document_id, len(spans), len(chunks))
        return chunks

    # --- sentences ------------------------------------------------------------------------

    def _pipeline(self) -> Language:
        nlp = self._nlp
        if nlp is not None:
            return nlp
        with self._lock:
            if self._nlp is None:
                import spacy

                blank = spacy.blank("en")
                blank.add_pipe("sentencizer")
                blank.max_length = _MAX_SEGMENT_CHARS + 1
                self._nlp = blank
            return self._nlp

    def _sentence_spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Yield ``(start, end)`` of every sentence, trimmed of surrounding whitespace."""
        segments = list(_segments(text))
        nlp = self._pipeline()
        docs = nlp.pipe(text[s:e] for s, e in segments)
        for (offset, _), doc in zip(segments, docs, strict=True):
            for sent in doc.sents:
                piece = sent.text
                stripped = piece.strip()
                if stripped:
                    start = offset + sent.start_char + (len(piece) - len(piece.lstrip()))
                    yield start, start + len(stripped)

    # --- long sentences -------------------------------------------------------------------

    def _split_long(self, text: str, start: int, end: int) -> list[_Unit]:
        """Cut a sentence over the token or character limit between words into pieces."""
        words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])]
        counts = self._counter.count_many([text[s:e] for s, e in words])
        pieces: list[_Unit] = []
        i = 0
        while i < len(words):
            if counts[i] > self._max or words[i][1] - words[i][0] > self._max_chars:
                pieces.extend(self._split_word(text, *words[i]))
                i += 1
                continue
            stop, total = i, 0
            while (
                stop < len(words)
                and total + counts[stop] <= self._max
                and words[stop][1] - words[i][0] <= self._max_chars
            ):
                total += counts[stop]
                stop += 1
            pieces.append(_Unit(words[i][0], words[stop - 1][1], total))
            i = stop
        return pieces

    def _split_word(self, text: str, start: int, end: int) -> list[_Unit]:
        """Cut one over-long word between characters (binary search on the prefix length)."""
        pieces: list[_Unit] = []
        while start < end:
            lo, hi = start + 1, min(end, start + self._max_chars)
            tokens = self._counter.count(text[start:hi])
            if tokens <= self._max:  # a run the tokenizer counts as one unknown token
                pieces.append(_Unit(start, hi, tokens))
                start = hi
                continue
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._counter.count(text[start:mid]) <= self._max:
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append(_Unit(start, lo, self._counter.count(text[start:lo])))
            start = lo
        return pieces

    # --- packing --------------------------------------------------------------------------

    def _pack(self, text: str, units: list[_Unit]) -> Iterator[tuple[int, int, int]]:
        """Yield ``(start, end, tokens)`` of each chunk packed from whole units."""
        first, done = 0, 0  # first unit of the chunk; units [0, done) are already emitted
        while done < len(units):
            end, total = first, 0
            while (
                end < len(units)
                and total + units[end].tokens <= self._max
                and units[end].end - units[first].start <= self._max_chars
            ):
                total += units[end].tokens
                end += 1
            if end == first:  # a unit over the limit (one character): emit it alone
                end, total = first + 1, units[first].tokens
            first, end, tokens = self._settle(text, units, (first, end, done), total)
            yield units[first].start, units[end - 1].end, tokens
            done = end
            first = self._overlap_start(units, first, end)

    def _settle(
        self, text: str, units: list[_Unit], plan: tuple[int, int, int], total: int
    ) -> tuple[int, int, int]:
        """Return the final ``(first, end, tokens)`` of a chunk planned as units [first, end).

        Token counts add up across whitespace for word-piece and regex counters, so a chunk
        whose units are all separated by whitespace has exactly ``total`` tokens. Units that
        touch (a sentence break without a space, pieces of one giant word) are re-counted
        exactly and the chunk shrinks until it fits, keeping at least one unit past ``done``.
        """
        first, end, done = plan
        if all(units[k].end < units[k + 1].start for k in range(first, end - 1)):
            return first, end, total
        while True:
            tokens = self._counter.count(text[units[first].start : units[end - 1].end])
            if tokens <= self._max or end - first == 1:
                return first, end, tokens
            if end - 1 > done:
                end -= 1
            else:
                first += 1

    def _overlap_start(self, units: list[_Unit], first: int, end: int) -> int:
        """Return the first unit of the next chunk: trailing units within the overlap."""
        if end >= len(units):
            return end
        nxt, shared = end, 0
        while nxt - 1 > first and shared + units[nxt - 1].tokens <= self._overlap:
            shared += units[nxt - 1].tokens
            nxt -= 1
        while nxt < end and (
            shared + units[end].tokens > self._max
            or units[end].end - units[nxt].start > self._max_chars
        ):
            shared -= units[nxt].tokens
            nxt += 1
        return nxt


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """Yield paragraph spans (split at blank lines), each at most ``_MAX_SEGMENT_CHARS``."""
    pos = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _bounded(text, pos, match.start())
        pos = match.end()
    yield from _bounded(text, pos, len(text))


def _bounded(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long paragraph at the last newline or space before the limit."""
    while end - start > _MAX_SEGMENT_CHARS:
        limit = start + _MAX_SEGMENT_CHARS
        cut = max(text.rfind("\n", start, limit), text.rfind(" ", start, limit))
        cut = cut + 1 if cut > start else limit
        yield start, cut
        start = cut
    if text[start:end].strip():
        yield start, end
