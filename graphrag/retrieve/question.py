"""Question checks and question-entity analysis (spaCy, loaded lazily)."""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING

from graphrag.config import ExtractionSettings
from graphrag.errors import InvalidQueryError
from graphrag.ids import normalize_name

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["QuestionAnalyzer", "validate_question"]

logger = logging.getLogger(__name__)

_QUOTED = re.compile(r"\"([^\"]{2,120})\"|“([^”]{2,120})”|``(.{2,120}?)''")


def validate_question(question: str, max_chars: int) -> str:
    """Return the stripped question, or raise if it cannot be answered.

    Args:
        question: The user's question.
        max_chars: The longest accepted question (``retrieval.max_question_chars``).

    Returns:
        The question without surrounding whitespace.

    Raises:
        InvalidQueryError: If the question is empty or only whitespace, or longer than
            ``max_chars`` characters.
    """
    text = question.strip() if isinstance(question, str) else ""
    if not text:
        msg = "question is empty; pass a non-empty question text"
        raise InvalidQueryError(msg)
    if len(text) > max_chars:
        msg = (
            f"question is {len(text)} characters long, more than the limit of {max_chars}; "
            "shorten it or raise GRAPHRAG_RETRIEVAL__MAX_QUESTION_CHARS"
        )
        raise InvalidQueryError(msg)
    return text


_SKIPPED_PIPES = ("parser", "lemmatizer")
"""Pipes a question does not need: surfaces come from NER and the tagger's proper nouns.

Skipping them leaves the entities and tags unchanged (neither feeds NER or the tagger) and
saves about half of spaCy's time per question; the question is then one sentence.
"""


def _one_sentence(doc: Doc) -> None:
    """Mark ``doc`` as a single sentence (its sentence boundaries come from the parser)."""
    for token in doc:
        token.is_sent_start = token.i == 0


class QuestionAnalyzer:
    """Finds the entity surfaces of a question with the same spaCy pipeline as extraction.

    Surfaces are what the extractor's ``mentions_from_doc`` finds (named entities minus
    ``drop_types``, and runs of proper nouns) plus quoted strings, de-duplicated by normalised
    name in order of appearance. The spaCy model loads on first use (thread-safe), not in
    ``__init__``.

    Args:
        settings: Extraction settings (``spacy_model``, ``drop_types``).
        nlp: An already loaded spaCy pipeline to reuse (optional).

    Example:
        ```python
        analyzer = QuestionAnalyzer(ExtractionSettings())
        analyzer.entities("Who founded the company that made the iPod?")  # ['iPod']
        ```
    """

    def __init__(self, settings: ExtractionSettings, *, nlp: Language | None = None) -> None:
        self._settings = settings
        self._nlp: Language | None = nlp
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()  # one question at a time through the pipeline

    def _pipeline(self) -> Language:
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    from graphrag.extract.spacy_extractor import load_nlp

                    logger.info("loading spaCy model %s for questions", self._settings.spacy_model)
                    self._nlp = load_nlp(self._settings.spacy_model)
        return self._nlp

    def entities(self, question: str) -> list[str]:
        """Return the entity surfaces of ``question`` (blocking; a few milliseconds).

        Args:
            question: The question text.

        Returns:
            Distinct surfaces (by normalised name), in order of appearance.
        """
        if not question.strip():
            return []
        nlp = self._pipeline()
        skipped = [name for name in _SKIPPED_PIPES if name in nlp.pipe_names]
        with self._call_lock:
            doc = nlp(question, disable=skipped)
        if skipped and len(doc):
            _one_sentence(doc)
        found: list[tuple[int, str]] = []
        found += self._mentions(doc)
        found += [(m.start(), next(g for g in m.groups() if g)) for m in _QUOTED.finditer(question)]
        found.sort(key=lambda item: item[0])
        seen: set[str] = set()
        surfaces: list[str] = []
        for _, surface in found:
            key = normalize_name(surface)
            if key and key not in seen:
                seen.add(key)
                surfaces.append(surface.strip())
        return surfaces

    def _mentions(self, doc: Doc) -> list[tuple[int, str]]:
        from graphrag.extract.spacy_extractor import mentions_from_doc

        drop = list(self._settings.drop_types)
        return [(m.start, m.surface) for m in mentions_from_doc(doc, drop)]
