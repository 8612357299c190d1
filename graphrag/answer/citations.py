"""Citation checking for generated answers, as a filter that also works on a stream.

A chat model cites the context's sources as ``[1]``, ``[2, 3]`` or ``[1][3]`` (``[Source 2]``
is accepted too). :class:`CitationFilter` reads the reply piece by piece and writes the
checked answer text:

- a citation of a source the prompt listed is kept, normalised to ``[n]`` (``[n, m]`` for a
  group);
- a citation of an unknown id is removed, with the whitespace before it, and recorded in
  :attr:`CitationFilter.unknown`;
- other bracketed text (``[sic]``) is kept as written;
- leading and trailing whitespace is dropped.

The same filter runs on a whole reply (:func:`check_citations`) and on a stream, so the
pieces a stream emits always join to exactly the final answer text. Text is held back only
while it could still become a citation (an open ``[``) or trailing whitespace.

Example:
    ```python
    checked = check_citations("Paris [1] is big [7].  ", {1, 2})
    checked.text, checked.cited, checked.unknown  # 'Paris [1] is big.', [1], ['7']
    ```
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from graphrag.answer.extractive import Sentence, split_sentences

__all__ = [
    "CheckedText",
    "CitationFilter",
    "best_sentence",
    "check_citations",
    "citing_sentences",
]

_MAX_BRACKET = 40
"""An open ``[`` longer than this without ``]`` is plain text."""
_GROUP = re.compile(
    r"\[\s*(?:(?:sources?|chunks?|passages?|refs?|doc(?:ument)?s?)\s*#?\s*)?"
    r"(\d{1,4}(?:\s*[,;]\s*(?:(?:sources?|chunks?|passages?)\s*#?\s*)?\d{1,4})*)\s*\]",
    re.IGNORECASE,
)
_ID = re.compile(r"\d+")
_KEPT = re.compile(r"\[(\d+(?:, \d+)*)\]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "he", "her",
    "his", "in", "is", "it", "its", "of", "on", "or", "she", "that", "the", "their", "they",
    "this", "to", "was", "were", "which", "who", "with",
))  # fmt: skip


@dataclass
class CheckedText:
    """A reply with its citations checked.

    Attributes:
        text: The answer text (unknown citations removed, whitespace trimmed).
        cited: The valid source ids cited, in order of first citation.
        unknown: The unknown ids the reply cited (removed from the text), in order.
    """

    text: str
    cited: list[int] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


class CitationFilter:
    """Checks the citations of a reply read piece by piece (see the module docstring).

    Args:
        valid: The source ids the prompt listed.
    """

    def __init__(self, valid: Collection[int]) -> None:
        self._valid = frozenset(valid)
        self._space = ""
        self._bracket: str | None = None
        self._started = False
        self._emitted: list[str] = []
        self.cited: list[int] = []
        """Valid ids cited so far, in order of first citation."""
        self.unknown: list[str] = []
        """Unknown ids cited so far (removed from the text), in order."""

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return "".join(self._emitted)

    def feed(self, piece: str) -> str:
        """Read one piece of the reply; return the text that is final now (maybe empty)."""
        out: list[str] = []
        for char in piece:
            self._char(char, out)
        return self._emit(out)

    def finish(self) -> str:
        """End of the reply: return the held-back text that belongs to the answer."""
        out: list[str] = []
        if self._bracket is not None:
            self._literal(out)
        self._space = ""
        return self._emit(out)

    def _emit(self, out: list[str]) -> str:
        text = "".join(out)
        if text:
            self._emitted.append(text)
        return text

    def _char(self, char: str, out: list[str]) -> None:
        if self._bracket is not None:
            if char == "[":
                self._literal(out)
                self._bracket = "["
                return
            self._bracket += char
            if char == "]":
                self._close(out)
            elif char == "\n" or len(self._bracket) > _MAX_BRACKET:
                self._literal(out)
            return
        if char == "[":
            self._bracket = "["
        elif char.isspace():
            if self._started:
                self._space += char
        else:
            self._text(char, out)

    def _text(self, text: str, out: list[str]) -> None:
        out.append(self._space + text)
        self._space = ""
        self._started = True

    def _literal(self, out: list[str]) -> None:
        """Emit the open bracket as plain text (it is not a citation)."""
        bracket, self._bracket = self._bracket or "", None
        head, tail = bracket[:1], bracket[1:]
        self._text(head, out)
        for char in tail:
            self._char(char, out)

    def _close(self, out: list[str]) -> None:
        bracket, self._bracket = self._bracket or "", None
        match = _GROUP.fullmatch(bracket)
        if match is None:
            self._text(bracket, out)
            return
        ids = [int(i) for i in _ID.findall(match.group(1))]
        kept = list(dict.fromkeys(i for i in ids if i in self._valid))
        for i in ids:
            if i not in self._valid and str(i) not in self.unknown:
                self.unknown.append(str(i))
        for i in kept:
            if i not in self.cited:
                self.cited.append(i)
        if kept:
            self._text("[" + ", ".join(str(i) for i in kept) + "]", out)
        else:
            self._space = ""  # "Paris [7]." becomes "Paris."


def check_citations(text: str, valid: Collection[int]) -> CheckedText:
    """Check the citations of a whole reply (the same rules as a stream).

    Args:
        text: The reply as the model wrote it.
        valid: The source ids the prompt listed.

    Returns:
        The checked text with the valid ids cited and the unknown ids removed.
    """
    checker = CitationFilter(valid)
    checker.feed(text)
    checker.finish()
    return CheckedText(checker.text, list(checker.cited), list(checker.unknown))


def citing_sentences(text: str) -> dict[int, list[str]]:
    """Map each cited id to the answer sentences that cite it (markers removed).

    Example:
        ```python
        citing_sentences("Kessel built it [1]. It opened in 1983 [1, 2].")
        # {1: ['Kessel built it.', 'It opened in 1983.'], 2: ['It opened in 1983.']}
        ```
    """
    found: dict[int, list[str]] = {}
    for sentence in split_sentences(text):
        ids = [int(i) for group in _KEPT.findall(sentence.text) for i in group.split(", ")]
        plain = " ".join(_KEPT.sub(" ", sentence.text).split()).replace(" .", ".")
        for i in dict.fromkeys(ids):
            found.setdefault(i, []).append(plain)
    return found


def _words(text: str) -> set[str]:
    return {w for w in (m.group().casefold() for m in _WORD.finditer(text)) if w not in _STOPWORDS}


def best_sentence(chunk_text: str, claims: Iterable[str]) -> Sentence | None:
    """Return the sentence of a chunk that best matches the answer sentences citing it.

    The score is the share of the sentence's content words found in the claims, plus the
    share of the claims' content words found in the sentence (ties: the earlier sentence).
    Without any overlap the chunk's first sentence is returned.

    Args:
        chunk_text: The cited chunk's text.
        claims: The answer sentences that cite the chunk.

    Returns:
        The sentence with its offsets in ``chunk_text``, or ``None`` for an empty chunk.
    """
    sentences: Sequence[Sentence] = split_sentences(chunk_text)
    if not sentences:
        return None
    claim_words = _words(" ".join(claims))
    best, best_score = sentences[0], 0.0
    for sentence in sentences:
        words = _words(sentence.text)
        if not words or not claim_words:
            continue
        common = len(words & claim_words)
        score = common / len(words) + common / len(claim_words)
        if score > best_score:
            best, best_score = sentence, score
    return best
