"""Evidence that follows the reasoning chain: question entity -> bridge entity -> answer.

A multi-hop question (``Who was the first president of the association which published the
Journal of Psychotherapy Integration?``) is answered by two sentences of different passages:
one links the question's entity to a *bridge* entity (``... is published by the American
Psychological Association``), the other links the bridge to an entity of the *expected
answer type* (``Hall, who was the first president of the American Psychological
Association, ...``). Quoting the sentences closest to the question finds the first and
misses the second, which shares few words with the question.

:func:`plan_evidence` adds to each candidate sentence's similarity score (the answerer's:
cosine to what the question asks, plus a small bonus for its chunk's rank)

* :data:`QUESTION_WEIGHT` when it names a question entity (in its text, or its chunk's
  title does),
* :data:`BRIDGE_WEIGHT` when it names a bridge entity: one named beside a question entity in
  another candidate sentence, or at the end of a graph path the retriever found from a
  question entity (``RetrievedContext.paths``), again in its text or its chunk's title (a
  biography titled with the bridge: ``He studied at ...``); :data:`SECOND_HOP_WEIGHT` more
  when it names no question entity (the chain's next step),
* :data:`TYPE_WEIGHT` times its type score: 1 for an entity of the expected type
  (:mod:`graphrag.answer.answer_types`) that the question does not name and that is not a
  bridge when the question asks about an entity it only describes (*fresh*), half for a
  later label (a date without a digit, ``Monday``, counts as one; so does an unlabelled run
  of proper nouns when names are expected), half again when not fresh,

picks, among the sentences on the chain holding a fresh typed entity (else a typed one,
else any), the best as the answer sentence, puts before it the best sentence linking a
question entity to a bridge it names, and fills up with the best sentence of each other
chunk, then the next best. The typed entity of the answer sentence is the short answer (its
year for ``what year``); when it is the chunk's topic behind a pronoun (``She designed
...``), the sentence introducing the topic is quoted too. A comparison (``A or B``) quotes
the best sentence naming each option and has no short answer.

The weights were chosen by a grid search on the ``ppr`` contexts of the two dev sets (100
questions each, answer containment as in ``graphrag eval``); neighbouring values score
within a point or two.

Entities come from spaCy (:class:`graphrag.answer.mentions.ChunkParser`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from graphrag.answer.answer_types import AnswerType
from graphrag.answer.mentions import PROPN, Mention, clean_title, has_run, mention_key
from graphrag.answer.relevance import STOPWORDS as _STOPWORDS

__all__ = [
    "BRIDGE_WEIGHT",
    "QUESTION_WEIGHT",
    "SECOND_HOP_WEIGHT",
    "TYPE_WEIGHT",
    "ChainSentence",
    "EvidencePlan",
    "QuestionFacts",
    "plan_evidence",
]

SECOND_HOP_WEIGHT = 0.1
"""Added when the sentence names a bridge but no question entity (the chain's next step)."""

TYPE_WEIGHT = 0.5
"""Times the sentence's type score (1 for a fresh entity of the expected answer type)."""

BRIDGE_WEIGHT = 0.3
"""Added when the sentence names a bridge entity (or sits in a chunk titled by one)."""

QUESTION_WEIGHT = 0.2
"""Added when the sentence names a question entity (or sits in a chunk titled by one)."""

_NUMERIC = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY"})
_DATES = frozenset({"DATE", "TIME"})
_MAX_JOINER = 5
_ORDINAL = frozenset({"ORDINAL"})
"""Question mentions that are not entities (``first``)."""
_GENERIC = frozenset({"CONCEPT"})
"""Context entity types that are common nouns, not names (``state``, ``company``)."""
_WH_WORDS = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "how"})
"""A question mention holding one (``what year``) is the question's, not an entity."""
_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"['’]s\b")
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2}|\d{3})\b")


@dataclass(frozen=True)
class ChainSentence:
    """A candidate sentence with what the chain needs to know about it.

    Attributes:
        text: The sentence, verbatim.
        rank: Rank of its chunk in the context (0 best).
        title: Its chunk's (document's) title.
        mentions: Entity mentions inside the sentence.
    """

    text: str
    rank: int
    title: str
    mentions: tuple[Mention, ...]


@dataclass
class QuestionFacts:
    """What the question contributes to the chain.

    Attributes:
        answer_type: The expected answer type.
        entities: Normalised keys of the question's entities (its mentions and the linked
            context entities it names).
        words: The question's normalised tokens (a candidate answer made only of them is
            named by the question).
        path_ends: Keys of entities the retriever reached from question entities (the last
            node of each graph path).
        options: The two entities a comparison question chooses between (``Which band was
            formed first, The Exies or Circus Diablo?``, ``Between A and B, which ...``);
            empty otherwise.
    """

    answer_type: AnswerType
    entities: list[tuple[str, ...]] = field(default_factory=list)
    words: frozenset[str] = frozenset()
    path_ends: list[tuple[str, ...]] = field(default_factory=list)
    options: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        question: str,
        answer_type: AnswerType,
        mentions: Iterable[Mention],
        *,
        context_entities: Iterable[tuple[str, str]] = (),
        paths: Iterable[Sequence[str]] = (),
        titles: Iterable[str] = (),
    ) -> QuestionFacts:
        """Collect the question's entity keys and the ends of the retriever's paths.

        Args:
            question: The question.
            answer_type: Its expected answer type.
            mentions: Its entity mentions (spaCy).
            context_entities: ``(name, type)`` of the context's entities: those the question
                names (concepts aside) are question entities too (the retriever linked them,
                and their names are often more complete than spaCy's spans).
            paths: Entity-name paths from question entities (``RetrievedContext.paths``);
                their last nodes are bridges (concepts aside).
            titles: Titles of the retrieved chunks' documents: those the question names are
                question entities.

        Returns:
            The facts; a key inside a longer question key (``Cassel`` in ``Siege of
            Cassel``) is dropped.
        """
        words = mention_key(question)
        kinds = dict(context_entities)
        keys = [
            _trim(m.key)
            for m in mentions
            if m.label not in _ORDINAL and not _WH_WORDS.intersection(m.key) and _trim(m.key)
        ]
        names = [n for n, kind in kinds.items() if kind not in _GENERIC]
        names += [clean_title(title) for title in titles]
        keys += [key for key in map(mention_key, names) if key and has_run(words, key)]
        unique = list(dict.fromkeys(keys))
        entities = [k for k in unique if not _inside_another(k, unique)]
        ends = [mention_key(p[-1]) for p in paths if p and kinds.get(p[-1]) not in _GENERIC]
        return cls(
            answer_type=answer_type,
            entities=entities,
            words=frozenset(words),
            path_ends=[e for e in dict.fromkeys(ends) if e and e not in entities],
            options=_options(mention_key(question), entities),
        )

    def relation_text(self, question: str) -> str:
        """The question without its entities' names: what it asks about them.

        ``"Who is the spouse of the director of Jump for Glory?"`` -> ``"Who is the spouse
        of the director of"``; empty when nothing but names and stopwords is left.
        """
        words = _WORD.findall(_POSSESSIVE.sub("", question))
        lower = [w.lower() for w in words]
        named: set[int] = set()
        for key in self.entities:
            width = len(key)
            for start in range(len(lower) - width + 1):
                if tuple(lower[start : start + width]) == key:
                    named.update(range(start, start + width))
        kept = [w for i, w in enumerate(words) if i not in named]
        return " ".join(kept) if any(w.lower() not in _STOPWORDS for w in kept) else ""

    def names(self, key: tuple[str, ...]) -> bool:
        """Whether the question names this entity (all its tokens are question words)."""
        return bool(key) and all(token in self.words for token in key)


@dataclass(frozen=True)
class EvidencePlan:
    """The sentences to quote, in order, and the short answer.

    Attributes:
        chosen: Indexes into the candidate sentences, in quoting order (chain first).
        short_answer: The typed entity chosen as the answer, verbatim (``None``: none).
    """

    chosen: list[int]
    short_answer: str | None


def _trim(key: tuple[str, ...]) -> tuple[str, ...]:
    """A question mention's key without leading or trailing stopwords (``Between A``)."""
    words = list(key)
    while words and words[0] in _STOPWORDS:
        words.pop(0)
    while words and words[-1] in _STOPWORDS:
        words.pop()
    return tuple(words)


def _options(words: Sequence[str], entities: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The two options of a comparison question, or none.

    Two question entities joined by ``or`` (``A or B``, ``A or the birth of B``), or by
    ``and`` after ``between``; or one entity spaCy ran over ``or`` (``Exies or Circus
    Diablo``).
    """
    for key in entities:
        if "or" in key[1:-1]:
            cut = key.index("or", 1)
            return [key[:cut], key[cut + 1 :]]
    spans = sorted(
        (start, start + len(key), key)
        for key in entities
        for start in range(len(words) - len(key) + 1)
        if tuple(words[start : start + len(key)]) == key
    )
    for (_, end, first), (start, _, second) in pairwise(spans):
        joiner = list(words[end:start])
        if first == second or not 0 < len(joiner) <= _MAX_JOINER:
            continue
        if joiner[0] == "or" or (joiner == ["and"] and "between" in words[: spans[0][0]]):
            return [first, second]
    return []


def plan_evidence(
    facts: QuestionFacts,
    sentences: Sequence[ChainSentence],
    base_scores: Sequence[float],
    max_sentences: int,
) -> EvidencePlan:
    """Choose the sentences of the chain and the short answer (see the module docstring).

    Args:
        facts: The question's answer type and entities.
        sentences: The candidate sentences.
        base_scores: Each sentence's similarity score (cosine plus a small rank bonus).
        max_sentences: Sentences quoted at most.

    Returns:
        The plan; ``chosen`` is empty only when there are no sentences.
    """
    if not sentences:
        return EvidencePlan([], None)
    chain = _Chain(facts, sentences)
    scores = [base + chain.bonus(i) for i, base in enumerate(base_scores)]
    if facts.options:
        return _compare(chain, scores, max_sentences)
    pool = chain.answer_pool()
    best = max(pool or range(len(sentences)), key=lambda i: scores[i])
    answer = chain.answer_mention(best)
    chosen = [best]
    if answer is not None and answer.implicit:  # "She designed ...": say who "she" is
        intro = chain.introduction(best)
        if intro is not None:
            chosen.insert(0, intro)
    link = chain.link(best, scores)
    if link is not None and link not in chosen:
        chosen.insert(0, link)
    rest = [i for i in sorted(range(len(sentences)), key=lambda i: -scores[i]) if i not in chosen]
    quoted = {sentences[i].rank for i in chosen}
    for i in rest:  # the best sentence of each other chunk first, then the next best
        if sentences[i].rank not in quoted and not chain.is_title(i):
            chosen.append(i)
            quoted.add(sentences[i].rank)
    chosen += [i for i in rest if i not in chosen and not chain.is_title(i)]
    return EvidencePlan(chosen[:max_sentences], chain.short_text(answer))


def _compare(chain: _Chain, scores: Sequence[float], max_sentences: int) -> EvidencePlan:
    """A comparison: the best sentence naming each option, then the next best sentences."""
    chosen: list[int] = []
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    for option in chain.facts.options:  # one naming it in its text, else in its title
        said = [i for i in order if has_run(chain.words[i], option) and not chain.is_title(i)]
        about = said or [i for i in order if chain.names(i, [option]) and not chain.is_title(i)]
        if about and about[0] not in chosen:
            chosen.append(about[0])
    chosen += [i for i in order if i not in chosen and not chain.is_title(i)]
    return EvidencePlan(chosen[:max_sentences], None)


class _Chain:
    """The entities of the chain and each sentence's place in it.

    A *hop* of sentence ``i`` is an entity named beside a question entity in another
    sentence (the first step of the chain, seen from ``i``); the bridges of ``i`` are its hops
    plus the ends of the retriever's paths.
    """

    def __init__(self, facts: QuestionFacts, sentences: Sequence[ChainSentence]) -> None:
        self.facts = facts
        self.sentences = sentences
        self.titles = [mention_key(clean_title(s.title)) for s in sentences]
        self.words = [mention_key(s.text) for s in sentences]
        self.asks = [self.names(i, facts.entities) for i in range(len(sentences))]
        self.sources: dict[tuple[str, ...], set[int]] = {}
        for i, sentence in enumerate(sentences):
            if self.asks[i]:
                for mention in sentence.mentions:
                    if self._bridge_like(mention):
                        self.sources.setdefault(mention.key, set()).add(i)
        self.path_ends = facts.path_ends
        labels = facts.answer_type.labels
        self.names_expected = bool(labels) and not _NUMERIC.issuperset(labels)

    def _bridge_like(self, mention: Mention) -> bool:
        key = mention.key
        return bool(key) and mention.label not in _NUMERIC and not self.facts.names(key)

    def hop(self, key: tuple[str, ...], i: int) -> bool:
        """Whether ``key`` is a step of the chain seen from sentence ``i``.

        That is: named beside a question entity in another sentence, or reached by the
        retriever's paths.
        """
        return key in self.path_ends or bool(self.sources.get(key, set()) - {i})

    def names(self, i: int, keys: Iterable[tuple[str, ...]]) -> bool:
        """Whether sentence ``i`` (or its chunk's title) names one of the entities."""
        return any(has_run(self.titles[i], k) or has_run(self.words[i], k) for k in keys)

    def bridged(self, i: int) -> list[tuple[str, ...]]:
        """The bridges sentence ``i`` names (hops of other sentences, path ends)."""
        keys = [k for k in self.sources if self.hop(k, i)] + self.path_ends
        return [k for k in dict.fromkeys(keys) if self.names(i, [k])]

    def is_title(self, i: int) -> bool:
        """Whether sentence ``i`` is its chunk's title line (says nothing by itself)."""
        return self.words[i] == mention_key(self.sentences[i].title)

    def typed(self, i: int, *, fresh: bool) -> list[Mention]:
        """Mentions of sentence ``i`` that may answer (``fresh``: not a hop of ``i``).

        Only a question about a described entity (``AnswerType.indirect``) looks past the
        hops: ``Who did Pierre Curie marry?`` is answered by the entity named beside him.

        An unlabelled proper-noun run may answer a question expecting names (not numbers or
        dates), below every expected label: spaCy leaves many titles of works unlabelled.
        """
        skip_hops = fresh and self.facts.answer_type.indirect
        return [
            m
            for m in self.sentences[i].mentions
            if self._may_answer(m) and not (skip_hops and self.hop(m.key, i))
        ]

    def _may_answer(self, mention: Mention) -> bool:
        kind = self.facts.answer_type
        if not (kind.accepts(mention.label) or (mention.label == PROPN and self.names_expected)):
            return False
        if self.facts.names(mention.key):
            return False
        year = _YEAR.search(mention.text) if kind.year else None
        return year is None or year.group() not in self.facts.words

    def on_chain(self, i: int) -> bool:
        """Names a question entity or a bridge (not a bare title line)."""
        return not self.is_title(i) and (self.asks[i] or bool(self.bridged(i)))

    def type_score(self, i: int) -> float:
        """1 for a fresh entity of the first expected label, less for the others."""
        best = 0.0
        for fresh, weight in ((True, 1.0), (False, 0.5)):
            for mention in self.typed(i, fresh=fresh):
                factor = 1.0 if self.label_rank(mention) == 0 else 0.5
                best = max(best, weight * factor)
        return best

    def label_rank(self, mention: Mention) -> int:
        """The rank of the mention's label; a date without a digit (``Monday``) is second."""
        rank = self.facts.answer_type.rank(mention.label)
        if mention.label in _DATES and not any(ch.isdigit() for ch in mention.text):
            return max(rank, 1)
        return rank

    def bonus(self, i: int) -> float:
        """What the chain adds to sentence ``i``'s similarity score."""
        bonus = QUESTION_WEIGHT if self.asks[i] else 0.0
        if self.bridged(i):
            bonus += BRIDGE_WEIGHT if self.asks[i] else BRIDGE_WEIGHT + SECOND_HOP_WEIGHT
        return bonus + TYPE_WEIGHT * self.type_score(i)

    def answer_pool(self) -> list[int]:
        """Sentences that may hold the answer: typed and on the chain, fresh ones first.

        Without an expected type: the sentences one step down the chain (naming a bridge,
        no question entity), if any.
        """
        n = range(len(self.sentences))
        on_chain = [i for i in n if self.on_chain(i)]
        if not self.facts.answer_type.labels:
            return [i for i in on_chain if not self.asks[i]]
        for fresh in (True, False):
            pool = [i for i in on_chain if self.typed(i, fresh=fresh)]
            if pool:
                return pool
        return [i for i in n if self.typed(i, fresh=False) and not self.is_title(i)]

    def link(self, best: int, scores: Sequence[float]) -> int | None:
        """The best sentence linking a question entity to a bridge the answer names."""
        used = self.bridged(best)
        if self.asks[best] and not used:
            return None
        links = [
            i
            for i in range(len(self.sentences))
            if i != best and self.asks[i] and not self.is_title(i) and self.names(i, used)
        ]
        return max(links, key=lambda i: scores[i]) if links else None

    def answer_mention(self, i: int) -> Mention | None:
        """The typed entity of the answer sentence: fresh, best label, then first in text."""
        found = self.typed(i, fresh=True) or self.typed(i, fresh=False)
        if not found:
            return None
        return min(found, key=lambda m: (self.label_rank(m), m.start))

    def short_text(self, mention: Mention | None) -> str | None:
        """The short answer: the mention's text (only its year for a year question)."""
        if mention is None:
            return None
        if self.facts.answer_type.year:
            year = _YEAR.search(mention.text)
            if year is not None:
                return year.group()
        return mention.text

    def introduction(self, i: int) -> int | None:
        """The first sentence of sentence ``i``'s chunk that names the chunk's topic."""
        topic = self.titles[i]
        rank = self.sentences[i].rank
        for j, sentence in enumerate(self.sentences):
            if j != i and sentence.rank == rank and has_run(self.words[j], topic):
                return j
        return None


def _inside_another(key: tuple[str, ...], keys: Sequence[tuple[str, ...]]) -> bool:
    return any(len(other) > len(key) and has_run(other, key) for other in keys)
