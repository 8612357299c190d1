"""Citation checking for generated answers, as a filter that also works on a stream.

A chat model cites the context's sources as ``[1]``, ``[2, 3]`` or ``[1][3]``, and in many
other bracketed forms: every group of the shape below is a citation and is checked.

- an optional word ``source(s)``, ``doc(s)``/``document(s)``, ``chunk(s)``, ``passage(s)``,
  ``ref(s)``/``reference(s)`` (any case) with an optional ``:`` or ``#``:
  ``[Source: 98]``, ``[doc 99]``, ``[Sources #1, 2]``;
- numbers of any length, separated by ``,``, ``;``, ``&`` or ``and`` (each may repeat the
  word): ``[1, 99]``, ``[sources 1 and 99]``, ``[Source 1; Source 2]``;
- ranges with ``-``, an en dash or an em dash: ``[1-3]``, ``[1\u20135]``. A range of at
  most :data:`MAX_RANGE` numbers (or of at most as many numbers as there are sources) is
  expanded; a longer or reversed one is an unknown citation as a whole (``1-500``).

:class:`CitationFilter` reads the reply piece by piece and writes the checked answer text:

- a citation of a source the prompt listed is kept, normalised to ``[n]`` (``[n, m]`` for a
  group, ``[1, 2, 3]`` for the range ``[1-3]``);
- a citation of an unknown id is removed, with the whitespace before it, and recorded in
  :attr:`CitationFilter.unknown` (ids with more than :data:`_MAX_DIGITS` digits are never
  converted to numbers: they cannot be a source; their label is shortened);
- other bracketed text (``[sic]``, ``[2-methyl]``) is kept as written;
- leading and trailing whitespace is dropped.

The same filter runs on a whole reply (:func:`check_citations`) and on a stream, so the
pieces a stream emits always join to exactly the final answer text. Text is held back only
while it could still become a citation (an open ``[``, for at most :data:`_MAX_BRACKET`
characters, or longer while it still reads like a citation, up to :data:`_MAX_CITATION`)
or trailing whitespace.

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
    "MAX_RANGE",
    "CheckedText",
    "CitationFilter",
    "best_sentence",
    "check_citations",
    "citing_sentences",
]

MAX_RANGE = 20
"""A cited range is expanded when it spans at most this many numbers (or at most as many
as the context has sources); a longer one is reported as one unknown citation."""
_MAX_BRACKET = 40
"""An open ``[`` longer than this without ``]`` is plain text, unless it reads like a citation."""
_MAX_CITATION = 10_000
"""An open ``[`` longer than this is plain text even if it reads like a citation."""
_MAX_DIGITS = 18
"""A number with more digits (leading zeros aside) is never converted: no source has it."""
_LABEL_DIGITS = 30
"""Unknown ids longer than this are reported shortened (``123...(40 digits)``)."""
_NAMES = r"(?:sources?|chunks?|passages?|refs?|references?|doc(?:ument)?s?)"
_NAME_WORDS = (
    "source", "sources", "chunk", "chunks", "passage", "passages", "ref", "refs",
    "reference", "references", "doc", "docs", "document", "documents", "and",
)  # fmt: skip
_DASHES = "-\u2013\u2014"
_ITEM = rf"(?:{_NAMES}\s*(?:[:#]\s*)?)?\d+(?:\s*[{_DASHES}]\s*\d+)?"
_SEPARATOR = r"\s*(?:,\s*and\b|[,;&]|\band\b)\s*"
_GROUP = re.compile(rf"\[\s*({_ITEM}(?:{_SEPARATOR}{_ITEM})*)\s*\]", re.IGNORECASE)
_PART = re.compile(rf"(\d+)(?:\s*[{_DASHES}]\s*(\d+))?")
_CITATION_CHARS = frozenset(",;:#&" + _DASHES)
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
        self._like = True  # the open bracket still reads like a citation
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
                self._open()
                return
            self._bracket += char
            if char == "]":
                self._close(out)
                return
            self._like = self._like and _reads_like_citation(self._bracket)
            size = len(self._bracket)
            if char == "\n" or size > _MAX_CITATION or (size > _MAX_BRACKET and not self._like):
                self._literal(out)
            return
        if char == "[":
            self._open()
        elif char.isspace():
            if self._started:
                self._space += char
        else:
            self._text(char, out)

    def _open(self) -> None:
        self._bracket = "["
        self._like = True

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
        parsed = _parse_group(bracket, self._valid)
        if parsed is None:
            self._text(bracket, out)
            return
        kept, unknown = parsed
        for label in unknown:
            if label not in self.unknown:
                self.unknown.append(label)
        for i in kept:
            if i not in self.cited:
                self.cited.append(i)
        if kept:
            self._text("[" + ", ".join(str(i) for i in kept) + "]", out)
        else:
            self._space = ""  # "Paris [7]." becomes "Paris."


def _reads_like_citation(bracket: str) -> bool:
    """Whether the last character of an open bracket keeps it a possible citation.

    Digits, whitespace and separators do; a letter does while the run of letters it ends is
    the start of a citation word (``Sour`` of ``Source``, ``an`` of ``and``).
    """
    char = bracket[-1]
    if char.isdigit() or char.isspace() or char in _CITATION_CHARS:
        return True
    if not ("a" <= char.lower() <= "z"):
        return False
    start = len(bracket) - 1
    while start > 0 and bracket[start - 1].isalpha() and len(bracket) - start <= 12:
        start -= 1
    run = bracket[start:].lower()
    return any(word.startswith(run) for word in _NAME_WORDS)


def _number(digits: str) -> tuple[int | None, str]:
    """A cited number and its label; ``None`` for one too long to be a source's."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        label = (
            digits if len(digits) <= _LABEL_DIGITS else f"{digits[:12]}...({len(digits)} digits)"
        )
        return None, label
    return int(digits), digits


def _parse_group(bracket: str, valid: Collection[int] | None) -> tuple[list[int], list[str]] | None:
    """Read a bracketed citation group: (valid ids, unknown labels), ``None`` if not one.

    Args:
        bracket: The text from ``[`` to ``]``.
        valid: The source ids; ``None`` takes every number as valid.
    """
    match = _GROUP.fullmatch(bracket)
    if match is None:
        return None
    span = max(MAX_RANGE, len(valid)) if valid is not None else MAX_RANGE
    kept: list[int] = []
    unknown: list[str] = []

    def cite(value: int | None, label: str) -> None:
        if value is not None and (valid is None or value in valid):
            kept.append(value)
        else:
            unknown.append(label)

    for part in _PART.finditer(match.group(1)):
        first = _number(part.group(1))
        if part.group(2) is None:
            cite(*first)
            continue
        last = _number(part.group(2))
        low, high = first[0], last[0]
        if low is not None and high is not None and low <= high and high - low < span:
            for n in range(low, high + 1):
                cite(n, str(n))
        else:
            unknown.append(f"{first[1]}-{last[1]}")
    return list(dict.fromkeys(kept)), list(dict.fromkeys(unknown))


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
        ids: list[int] = []
        for group in _GROUP.finditer(sentence.text):
            parsed = _parse_group(group.group(0), None)
            ids += parsed[0] if parsed is not None else []
        plain = " ".join(_GROUP.sub(" ", sentence.text).split()).replace(" .", ".")
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
