"""Answer metrics as SQuAD defines them: exact match and token F1, over gold aliases.

Both compare *normalised* texts (:func:`normalize_answer`): lower case, punctuation removed,
the articles ``a``, ``an``, ``the`` removed, whitespace collapsed. A prediction is scored
against the gold answer and each of its aliases (MuSiQue's ``answer_aliases``), keeping the
best score, as the official SQuAD and MuSiQue scripts do.

A generated answer is a sentence with citation markers (``Stanley Hall founded it [2].``):
:func:`answer_span` removes the markers (and the not-supported sentence becomes an empty
prediction) before scoring, so EM rewards an answer that is exactly the gold entity and F1
gives partial credit to a sentence that contains it.

*Containment* (:func:`contains_answer`) asks a weaker question that also fits a quoted,
extractive answer: does the normalised gold answer (or an alias) occur in the normalised text
as a whole-token run? ``"Hall led the APA [1]."`` contains ``"the APA"`` (``apa``) but not
``"Hal"``. :func:`score_containment` averages it per mode over the answers and over the top
retrieved chunks (what a perfect reader of those chunks could reach), and scores the
extractive answerer's short answer span with EM and F1.

Example:
    ```python
    exact_match("The G. Stanley Hall!", "g stanley hall")  # 1.0
    f1_score("Stanley Hall, the psychologist", "G. Stanley Hall")  # 0.667 (2 of 3 tokens)
    best_scores("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"])  # (1.0, 1.0)
    contains_answer("Hall led the APA [1].", ["the APA"])  # True
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
    "ContainmentScores",
    "answer_span",
    "best_scores",
    "contains_answer",
    "exact_match",
    "f1_score",
    "normalize_answer",
    "score_answers",
    "score_containment",
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


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """Whether the normalised gold answer or an alias is a whole-token run of the text.

    Citation markers are removed first (``[1]`` would otherwise read as the token ``1``).

    Args:
        text: An answer (or a chunk's text).
        golds: The gold answer and its aliases (those empty after normalisation are skipped).

    Returns:
        ``True`` when some gold's normalised tokens occur contiguously in the text's.

    Example:
        >>> contains_answer("Founded by G. Stanley Hall [2].", ["Stanley Hall"])
        True
        >>> contains_answer("Hallam was there.", ["Hall"])
        False
    """
    tokens = normalize_answer(_MARKERS.sub(" ", text)).split()
    for gold in golds:
        wanted = normalize_answer(gold).split()
        if wanted and _has_run(tokens, wanted):
            return True
    return False


def _has_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    width = len(run)
    first = run[0]
    return any(
        tokens[i] == first and list(tokens[i : i + width]) == list(run)
        for i in range(len(tokens) - width + 1)
    )


@dataclass
class ContainmentScores:
    """Answer containment of one retrieval mode (no LLM needed).

    Attributes:
        questions: Questions with a gold answer that were answered (the denominator).
        answer: Share of answers whose text contains the gold answer or an alias (0-1).
        top_chunks: Share of questions with the gold in one of the top retrieved chunks.
        span_em: Mean exact match of the answer's short answer span (none counts 0).
        span_f1: Mean token F1 of the short answer span (none counts 0).
        spans: Answers that had a short answer span.
        generated: Share of the LLM's answers containing the gold (``None``: no LLM
            answers); over the questions the LLM answered.
    """

    questions: int
    answer: float
    top_chunks: float
    span_em: float = 0.0
    span_f1: float = 0.0
    spans: int = 0
    generated: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (fractions)."""
        data: dict[str, object] = {
            "questions": self.questions,
            "answer_contains_gold": self.answer,
            "top5_contains_gold": self.top_chunks,
            "span_EM": self.span_em,
            "span_F1": self.span_f1,
            "spans": self.spans,
        }
        if self.generated is not None:
            data["llm_answer_contains_gold"] = self.generated
        return data


def score_containment(
    answers: Sequence[bool],
    top_chunks: Sequence[bool],
    spans: Sequence[str | None],
    golds: Sequence[Sequence[str]],
) -> ContainmentScores:
    """Average per-question containment judgements and score the short answer spans.

    Args:
        answers: Whether each question's answer contains its gold (:func:`contains_answer`).
        top_chunks: Whether one of its top retrieved chunks does.
        spans: Each answer's short answer span (``None``: it had none).
        golds: The gold answer and aliases of each question, same order.

    Returns:
        The scores (zero for an empty question list).

    Raises:
        InvalidArgumentError: If the sequences differ in length.
    """
    n = len(golds)
    if not len(answers) == len(top_chunks) == len(spans) == n:
        msg = (
            f"{len(answers)} answer and {len(top_chunks)} chunk judgements and {len(spans)} "
            f"spans for {n} gold answers; pass one of each per question"
        )
        raise InvalidArgumentError(msg)
    if not n:
        return ContainmentScores(questions=0, answer=0.0, top_chunks=0.0)
    pairs = [best_scores(s, g) if s else (0.0, 0.0) for s, g in zip(spans, golds, strict=True)]
    return ContainmentScores(
        questions=n,
        answer=sum(answers) / n,
        top_chunks=sum(top_chunks) / n,
        span_em=sum(em for em, _ in pairs) / n,
        span_f1=sum(f1 for _, f1 in pairs) / n,
        spans=sum(1 for s in spans if s),
    )


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
