"""Entity mentions of chunks and questions for the extractive answerer (spaCy).

:class:`ChunkParser` runs the project's spaCy pipeline (the extraction model, loaded once per
process by :func:`graphrag.extract.spacy_extractor.load_nlp`) over the chunks an answer reads
and over the question: named entities of every label (dates and numbers included, which the
graph leaves out) and runs of proper nouns. A sentence that opens with a pronoun (``She
designed ...``) also mentions its chunk's topic, the title (:func:`topic_mention`).
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphrag.answer.answer_types import AnswerType, expected_answer_type

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = [
    "PROPN",
    "ChunkParser",
    "Mention",
    "clean_title",
    "has_run",
    "mention_key",
    "topic_mention",
]

PROPN = "PROPN"
"""The label of a run of proper nouns that spaCy did not label as an entity."""

_WORD = re.compile(r"\w+")
_ARTICLES = frozenset({"a", "an", "the"})
_POSSESSIVE = re.compile(r"['’]s\b")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*$")
_CACHE_SIZE = 4096


def mention_key(text: str) -> tuple[str, ...]:
    """Lower-case word tokens without articles or possessive endings.

    ``"The APA's journal"`` -> ``("apa", "journal")``.
    """
    words = (m.lower() for m in _WORD.findall(_POSSESSIVE.sub("", text)))
    return tuple(w for w in words if w not in _ARTICLES)


@dataclass(frozen=True)
class Mention:
    """An entity mention in a chunk (a spaCy entity, or a run of proper nouns).

    Attributes:
        text: The surface, verbatim.
        label: The spaCy entity label, or ``PROPN`` for an unlabelled proper-noun run.
        start: Character offset in the chunk text.
        end: End offset (exclusive).
        implicit: Not in the text: the chunk's topic (its title), which a sentence opening
            with a pronoun (``She designed ...``) is about; ``text`` is then the title.
    """

    text: str
    label: str
    start: int
    end: int
    implicit: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        """The normalised tokens (see :func:`mention_key`)."""
        return mention_key(self.text)


class ChunkParser:
    """Finds the entity mentions of chunk texts and analyses questions with spaCy.

    The pipeline loads on first use (thread-safe); calls are serialised. Chunk mentions are
    cached by text (least recently used beyond 4,096 texts), so the modes of one evaluation
    and repeated queries do not parse the same chunk twice.

    Args:
        model: The spaCy package or folder (``extraction.spacy_model``).
        nlp: An already loaded pipeline to use instead (tests).
    """

    def __init__(self, model: str, *, nlp: Language | None = None) -> None:
        self._model = model
        self._nlp = nlp
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[Mention]] = OrderedDict()

    def _pipeline(self) -> Language:
        if self._nlp is None:
            from graphrag.extract.spacy_extractor import load_nlp

            self._nlp = load_nlp(self._model)
        return self._nlp

    def question(self, text: str) -> tuple[AnswerType, list[Mention]]:
        """Return the expected answer type and the entity mentions of a question (blocking)."""
        with self._lock:
            doc = self._pipeline()(text)
        return expected_answer_type(doc), _mentions(doc, text)

    def mentions(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Return the mentions of each text (offsets into it), parsing only uncached ones."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                nlp = self._pipeline()
                disable = [p for p in ("parser", "lemmatizer") if p in nlp.pipe_names]
                for text, doc in zip(missing, nlp.pipe(missing, disable=disable), strict=True):
                    self._cache[text] = _mentions(doc, text)
            found = []
            for text in texts:
                self._cache.move_to_end(text)
                found.append(self._cache[text])
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return found


_PRONOUNS = frozenset({"he", "she", "it", "they", "his", "her", "its", "their"})


def topic_mention(
    sentence: str, start: int, title: str, chunk_mentions: Sequence[Mention]
) -> Mention | None:
    """The chunk's topic as an implicit mention of a sentence that opens with a pronoun.

    Args:
        sentence: The sentence.
        start: Its offset in the chunk (the implicit mention's position).
        title: The chunk's (document's) title.
        chunk_mentions: The mentions of the chunk's text, then those of its bare title.

    Returns:
        The title as a mention when the sentence opens with a personal or possessive
        pronoun and spaCy labels the title's name (most often in the chunk, else alone);
        else ``None``.
    """
    first = _WORD.match(sentence.lstrip())
    if first is None or first.group().lower() not in _PRONOUNS:
        return None
    name = clean_title(title)
    key = mention_key(name)
    labels = Counter(m.label for m in chunk_mentions if m.key == key and m.label != PROPN)
    if not key or not labels:
        return None
    return Mention(name, labels.most_common(1)[0][0], start, start, implicit=True)


def clean_title(title: str) -> str:
    """A document title without a trailing parenthesis (``"Decade (album)"`` -> ``"Decade"``)."""
    return _PARENTHESIS.sub("", title).strip()


def _mentions(doc: Doc, text: str) -> list[Mention]:
    """Named entities plus proper-noun runs not inside one, in text order."""
    found = [Mention(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
    covered = {i for e in doc.ents for i in range(e.start, e.end)}
    run: list[int] = []
    for token in [*doc, None]:
        if token is not None and token.pos_ == PROPN and token.i not in covered:
            run.append(token.i)
            continue
        if run:
            start, end = doc[run[0]].idx, doc[run[-1]].idx + len(doc[run[-1]].text)
            found.append(Mention(text[start:end], PROPN, start, end))
            run = []
    return sorted(found, key=lambda m: m.start)


def has_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    """Whether ``run`` occurs contiguously in ``tokens`` (``run`` non-empty)."""
    width = len(run)
    if not width or width > len(tokens):
        return False
    return any(tuple(tokens[i : i + width]) == tuple(run) for i in range(len(tokens) - width + 1))
