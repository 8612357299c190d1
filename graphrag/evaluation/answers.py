"""Answer metrics as SQuAD defines them: exact match and token F1, over gold aliases.

Both compare *normalised* texts (:func:`normalize_answer`): lower case, punctuation removed,
the articles ``a``, ``an``, ``the`` removed, whitespace collapsed. A prediction is scored
against the gold answer and each of its aliases (MuSiQue's ``answer_aliases``), keeping the
best score, as the official SQuAD and MuSiQue scripts do.

A generated answer is a sentence with citation markers (``Stanley Hall founded it [2].``):
:func:`answer_span` removes the markers (and the not-supported sentence becomes an empty
prediction) before scoring, so EM rewards an answer that is exactly the gold entity and F1
gives partial credit to a sentence that contains it.

Example:
    ```python
    exact_match("The G. Stanley Hall!", "g stanley hall")  # 1.0
    f1_score("Stanley Hall, the psychologist", "G. Stanley Hall")  # 0.667 (2 of 3 tokens)
    best_scores("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"])  # (1.0, 1.0)
    ```
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graphrag.errors import InvalidArgumentError

__all__ = [
    "AnswerScores",
    "answer_span",
    "best_scores",
    "exact_match",
    "f1_score",
    "normalize_answer",
    "score_answers",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
_MARKERS = re.compile(r"\s*\[\d+(?:,\s*\d+)*\]")
_NOT_SUPPORTED = "the context does not say"


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD's rule).

    Args:
        text: An answer.

    Returns:
        The normalised answer (``"The G. Stanley  Hall!"`` -> ``"g stanley hall"``).
    """
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token F1 between the normalised texts (0.0 when either is empty, unless both are).

    Returns:
        ``2 x precision x recall / (precision + recall)`` over the tokens in common.
    """
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_scores(prediction: str, golds: Iterable[str]) -> tuple[float, float]:
    """The best exact match and the best F1 of ``prediction`` over the gold answers.

    Args:
        prediction: The predicted answer.
        golds: The gold answer and its aliases (empty ones are skipped).

    Returns:
        ``(em, f1)``; ``(0.0, 0.0)`` when there is no gold answer.
    """
    candidates = [g for g in golds if g and g.strip()]
    if not candidates:
        return 0.0, 0.0
    em = max(exact_match(prediction, g) for g in candidates)
    f1 = max(f1_score(prediction, g) for g in candidates)
    return em, f1


def answer_span(text: str) -> str:
    """The part of a generated answer to score: citation markers removed.

    The not-supported reply (``The context does not say.``) scores as an empty prediction.
    """
    plain = " ".join(_MARKERS.sub("", text).split())
    if plain.casefold().startswith(_NOT_SUPPORTED):
        return ""
    return plain


@dataclass
class AnswerScores:
    """Answer metrics of one retrieval mode.

    Attributes:
        questions: Questions with a gold answer that were answered.
        em: Mean exact match (0-1).
        f1: Mean token F1 (0-1).
        not_supported: Answers that said the context does not support an answer.
        errors: Questions whose answering failed (not counted in the means).
    """

    questions: int
    em: float
    f1: float
    not_supported: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (fractions)."""
        return {
            "questions": self.questions,
            "EM": self.em,
            "F1": self.f1,
            "not_supported": self.not_supported,
            "errors": self.errors,
        }


def score_answers(
    predictions: Sequence[str],
    golds: Sequence[Sequence[str]],
    *,
    errors: int = 0,
) -> AnswerScores:
    """Average EM and F1 over questions.

    Args:
        predictions: One generated answer text per question (citations are removed here).
        golds: The gold answer and aliases of each question, same order.
        errors: Questions whose answering failed (reported, not scored).

    Returns:
        The scores (zero for an empty question list).

    Raises:
        InvalidArgumentError: If ``predictions`` and ``golds`` differ in length.
    """
    if len(predictions) != len(golds):
        msg = f"{len(predictions)} predictions but {len(golds)} gold answers; pass one per question"
        raise InvalidArgumentError(msg)
    spans = [answer_span(p) for p in predictions]
    pairs = [best_scores(s, g) for s, g in zip(spans, golds, strict=True)]
    n = len(pairs)
    return AnswerScores(
        questions=n,
        em=sum(em for em, _ in pairs) / n if n else 0.0,
        f1=sum(f1 for _, f1 in pairs) / n if n else 0.0,
        not_supported=sum(1 for p, s in zip(predictions, spans, strict=True) if p and not s),
        errors=errors,
    )
