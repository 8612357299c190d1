"""The relevance floor: does the retrieved context answer the question at all?

Every retrieval mode returns its ``top_k`` best chunks, even for a question the corpus knows
nothing about (an injection string, nonsense, another domain); its own scores (PageRank mass,
fused min-max or RRF scores) are relative and not comparable across modes or questions. The
extractive answerer therefore measures relevance itself, on what it is about to quote, with
two signals that mean the same thing in every mode:

* **similarity**: the best cosine (MiniLM, the question's query embedding) between the
  question and a sentence of at least :data:`MIN_SIMILARITY_WORDS` words of the chunks read
  (the answerer embeds those sentences anyway, so this costs nothing extra). Short lines such
  as titles are skipped because a two- or three-word fragment lands close to nonsense strings
  by chance; when the chunks have no long sentence, every sentence counts.
* **overlap**: the share of the question's content words (lower-cased word tokens of at least
  two characters, neither a stopword nor all digits) that occur in those chunks.

``relevance = 0.75 * similarity + 0.25 * overlap``. The answer abstains below
``answer.min_relevance``. The weights and the default floor were calibrated with
``benchmarks/relevance_floor.py`` on the 200 dev-set questions (none may abstain) against
injection strings, nonsense and off-domain questions (see docs/evaluation.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graphrag.config import AnswerSettings

__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "MIN_SIMILARITY_WORDS",
    "OVERLAP_WEIGHT",
    "SIMILARITY_WEIGHT",
    "STOPWORDS",
    "Relevance",
    "best_similarity",
    "content_words",
    "word_overlap",
]

SIMILARITY_WEIGHT = 0.75
"""Weight of the best question-sentence cosine in the relevance score."""

OVERLAP_WEIGHT = 0.25
"""Weight of the question-word overlap in the relevance score."""

MIN_SIMILARITY_WORDS = 5
"""Sentences shorter than this (in words) do not count for the similarity signal."""

DEFAULT_MIN_RELEVANCE: float = float(AnswerSettings.model_fields["min_relevance"].default)
"""The calibrated floor (``answer.min_relevance``)."""

_WORD = re.compile(r"\w+")
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before
    being between both but by can could did do does doing during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me
    more most my no nor not of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Words that carry no topic (the same list as the embedded store's keyword search)."""


@dataclass(frozen=True)
class Relevance:
    """How well the chunks an answer would quote match the question.

    Attributes:
        similarity: Best cosine between the question and a (long enough) sentence.
        overlap: Share of the question's content words found in the chunks (0 to 1).
    """

    similarity: float
    overlap: float

    @property
    def score(self) -> float:
        """``0.75 * similarity + 0.25 * overlap``, compared with ``answer.min_relevance``."""
        return SIMILARITY_WEIGHT * self.similarity + OVERLAP_WEIGHT * self.overlap

    def describe(self) -> str:
        """Return ``"relevance 0.21 (similarity 0.25, word overlap 0.10)"``."""
        return (
            f"relevance {self.score:.2f} (similarity {self.similarity:.2f}, "
            f"word overlap {self.overlap:.2f})"
        )


def content_words(text: str) -> list[str]:
    r"""Return the distinct content words of ``text``, lower-cased, in order.

    Content words are ``\w+`` tokens of at least two characters that are neither stopwords
    nor all digits, so ``"' OR '1'='1"`` has none.
    """
    words = (m.lower() for m in _WORD.findall(text))
    kept = [w for w in words if len(w) >= 2 and not w.isdigit() and w not in STOPWORDS]
    return list(dict.fromkeys(kept))


def word_overlap(question: str, texts: Iterable[str]) -> float:
    """Return the share of the question's content words that occur in ``texts``.

    Args:
        question: The question.
        texts: The chunk texts.

    Returns:
        A fraction from 0 to 1; 0 when the question has no content word.
    """
    wanted = content_words(question)
    if not wanted:
        return 0.0
    present = {m.lower() for text in texts for m in _WORD.findall(text)}
    return sum(word in present for word in wanted) / len(wanted)


def best_similarity(similarities: Sequence[float], word_counts: Sequence[int]) -> float:
    """Return the best similarity of a sentence of at least :data:`MIN_SIMILARITY_WORDS` words.

    Args:
        similarities: Cosine of each candidate sentence to the question.
        word_counts: Word count of each sentence, same order.

    Returns:
        The best similarity among the long sentences, or among all sentences when none is
        long; 0.0 when there is no sentence.
    """
    long = [s for s, n in zip(similarities, word_counts, strict=True) if n >= MIN_SIMILARITY_WORDS]
    pool = long or list(similarities)
    return max(pool, default=0.0)
