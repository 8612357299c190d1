"""The expected answer type of a question, from its question word and the noun it asks about.

The type is a set of spaCy (OntoNotes) entity labels, best first, that an entity answering
the question is expected to carry:

=============================================  =============================================
question                                       labels
=============================================  =============================================
who, whom, whose                               PERSON (then ORG, NORP)
when, what year / date / century               DATE (then TIME)
where, what country / city / county / river    GPE, LOC, FAC
which company / institute / university / band  ORG
how many, how much                             CARDINAL, QUANTITY, MONEY, PERCENT
what language / nationality / religion         LANGUAGE, NORP
which film / book / song / album               WORK_OF_ART
which war / battle / tournament                EVENT
=============================================  =============================================

The noun a ``what``/``which`` question asks about is the first noun after the question word,
skipping ``is the name of``, ``kind of``, ``type of`` and the like (``What is the name of the
waterfall ...`` asks about ``waterfall``). A question whose noun is not in the lexicon has no
expected type (the answerer then relies on similarity alone). Questions that open with an
auxiliary verb (``Are both ...?``, ``Did ...?``) are yes/no questions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

__all__ = ["AnswerType", "expected_answer_type", "noun_labels"]

_PERSON = ("PERSON", "ORG", "NORP")
_DATE = ("DATE", "TIME")
_PLACE = ("GPE", "LOC", "FAC")
_NUMBER = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")

_NOUNS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("year", "date", "day", "month", "century", "decade", "time", "period", "season"): _DATE,
    (
        "country", "nation", "state", "city", "town", "village", "county", "province",
        "region", "place", "location", "continent", "capital", "municipality", "district",
        "island", "area", "neighborhood", "neighbourhood", "borough", "territory", "suburb",
        "parish", "country's", "kingdom", "empire", "republic", "hometown", "birthplace",
    ): _PLACE,
    (
        "river", "mountain", "lake", "sea", "ocean", "body", "desert", "valley", "range",
        "peninsula", "bay", "gulf", "strait", "waterfall", "falls", "park",
    ): ("LOC", "FAC"),
    (
        "building", "airport", "bridge", "stadium", "arena", "station", "hospital", "venue",
        "tower", "castle", "palace", "cathedral", "temple", "hotel", "theatre", "theater",
    ): ("FAC", "ORG", "GPE"),
    (
        "company", "organization", "organisation", "institute", "institution", "university",
        "college", "school", "team", "band", "group", "club", "party", "label", "network",
        "agency", "league", "corporation", "firm", "publisher", "newspaper", "airline",
        "channel", "studio", "association", "brand", "manufacturer", "developer", "army",
        "division", "conference", "station", "magazine", "store", "chain", "retailer",
        "union", "council", "committee", "department", "ministry", "court", "church",
        "museum", "library", "orchestra", "franchise", "organizer", "broadcaster",
    ): ("ORG", "FAC", "GPE"),
    (
        "person", "man", "woman", "actor", "actress", "singer", "writer", "author",
        "director", "president", "king", "queen", "player", "politician", "musician",
        "artist", "composer", "leader", "founder", "wife", "husband", "son", "daughter",
        "father", "mother", "spouse", "producer", "member", "brother", "sister", "child",
        "coach", "manager", "owner", "ruler", "emperor", "monarch", "minister", "governor",
        "mayor", "senator", "chancellor", "prime", "ceo", "chairman", "poet", "novelist",
        "painter", "architect", "designer", "inventor", "scientist", "philosopher",
        "performer", "rapper", "guitarist", "drummer", "vocalist", "creator", "editor",
        "journalist", "host", "presenter", "general", "commander", "character", "pope",
        "bishop", "saint", "prophet", "god", "goddess", "sibling", "parent", "uncle",
        "aunt", "grandfather", "grandmother", "partner", "successor", "predecessor",
    ): _PERSON,
    ("language", "dialect", "tongue"): ("LANGUAGE", "NORP"),
    ("nationality", "religion", "ethnicity", "faith", "denomination"): ("NORP", "GPE"),
    (
        "film", "movie", "book", "song", "album", "novel", "show", "series", "play",
        "opera", "game", "poem", "painting", "single", "sitcom", "musical", "episode",
        "documentary", "work", "track", "record", "comic", "manga", "anime", "program",
        "programme", "soundtrack",
    ): ("WORK_OF_ART", "PRODUCT", "ORG"),
    (
        "war", "battle", "event", "tournament", "championship", "election", "festival",
        "competition", "cup", "olympics", "revolution", "siege", "campaign", "disaster",
        "flood", "storm", "hurricane", "earthquake", "accident", "crisis", "race",
    ): ("EVENT", "ORG"),
    ("law", "treaty", "act", "amendment", "constitution"): ("LAW",),
    ("population", "number", "amount", "count", "total"): ("CARDINAL", "QUANTITY"),
    ("percentage", "percent", "proportion", "share", "rate"): ("PERCENT", "CARDINAL"),
    ("price", "cost", "budget", "revenue", "salary", "worth", "value"): ("MONEY", "CARDINAL"),
    ("age",): ("DATE", "CARDINAL"),
}  # fmt: skip
_LEXICON = {noun: labels for nouns, labels in _NOUNS.items() for noun in nouns}

_HOW: dict[str, tuple[str, ...]] = {
    "many": _NUMBER,
    "much": ("MONEY", "QUANTITY", "PERCENT", "CARDINAL"),
    "long": ("DATE", "TIME", "QUANTITY"),
    "old": ("DATE", "CARDINAL"),
    "tall": ("QUANTITY",),
    "high": ("QUANTITY",),
    "far": ("QUANTITY",),
    "big": ("QUANTITY",),
    "large": ("QUANTITY", "CARDINAL"),
    "deep": ("QUANTITY",),
    "wide": ("QUANTITY",),
    "often": ("DATE", "CARDINAL"),
}
_WH_LABELS: dict[str, tuple[str, ...]] = {
    "who": _PERSON,
    "whom": _PERSON,
    "whose": _PERSON,
    "when": _DATE,
    "where": (*_PLACE, "ORG"),
}
_SKIPPED = frozenset(
    {"is", "was", "are", "were", "be", "been", "the", "a", "an", "name", "names", "of"}
    | {"kind", "type", "sort", "one", "ones", "form", "title", "called", "'s", "did", "does"}
    | {"do", "has", "have", "had"}
)
_AUXILIARIES = frozenset(
    {"is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had"}
    | {"will", "would", "should", "may", "might"}
)
_NOUN_WINDOW = 6
_QUESTION_WORDS = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "how"})


@dataclass(frozen=True)
class AnswerType:
    """What a question asks for.

    Attributes:
        labels: spaCy entity labels an answer may carry, best first (empty: unknown).
        wh: The question word (``who``, ``what``, ``how many``...; empty if none).
        noun: The noun a ``what``/``which`` question asks about (lemma), if any.
        year: The question asks for a year (``what year``, ``which year``).
        yes_no: A yes/no question (opens with an auxiliary verb, no question word).
        indirect: The question asks about an entity it only describes (``When did the
            museum funded by X open?``, ``Who is the spouse of the director of Y?``), not
            about one it names (``Who did Pierre Curie marry?``): the answer is not the
            entity named beside the question's own.
    """

    labels: tuple[str, ...] = ()
    wh: str = ""
    noun: str = ""
    year: bool = False
    yes_no: bool = False
    indirect: bool = False

    def accepts(self, label: str) -> bool:
        """Whether an entity with this label can answer the question."""
        return label in self.labels

    def rank(self, label: str) -> int:
        """Position of ``label`` among the labels (0 best; ``len(labels)`` if absent)."""
        return self.labels.index(label) if label in self.labels else len(self.labels)


def noun_labels(noun: str) -> tuple[str, ...]:
    """The entity labels of a noun a question asks about (``"city"`` -> GPE, LOC, FAC).

    Args:
        noun: A lower-case noun or its lemma.

    Returns:
        The labels, best first; empty when the noun is not in the lexicon.
    """
    return _LEXICON.get(noun.lower(), ())


def expected_answer_type(doc: Doc) -> AnswerType:
    """Return the expected answer type of a question parsed by spaCy.

    The question words are read in order; the first that tells a type wins (``How to Eat,
    released in which year, ...`` asks for a year; ``... which was written by who?`` for a
    person). When none tells one, the first question word is reported without labels.

    Args:
        doc: The question, processed by a pipeline with a tagger (and lemmatizer).

    Returns:
        The answer type; ``labels`` is empty when the question does not tell.
    """
    kind = _question_word(doc)
    if kind.wh:
        return replace(kind, indirect=_indirect(doc, kind.noun))
    return kind


def _question_word(doc: Doc) -> AnswerType:
    tokens = [t for t in doc if not t.is_punct and not t.is_space]
    if not tokens:
        return AnswerType()
    first: AnswerType | None = None
    for position in range(len(tokens)):
        found = _at(tokens, position)
        if found is not None and found.labels:
            return found
        first = first or found
    if first is not None:
        return first
    if tokens[0].lower_ in _AUXILIARIES:
        return AnswerType(yes_no=True)
    return AnswerType()


def _indirect(doc: Doc, asked: str) -> bool:
    """Whether the main clause is about a described entity rather than a named one.

    The subjects of the root verb are read first, then its attributes and objects; question
    words and the asked noun are skipped. The first left decides: a proper noun (or a noun
    with one in apposition, ``photographer Jagdish Mali``) is named, a common noun
    (``museum``, ``spouse``, ``film``) is described.
    """
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None:
        return False
    core = [t for t in root.children if t.dep_ in ("nsubj", "nsubjpass")]
    core += [t for t in root.children if t.dep_ in ("attr", "dobj")]
    for token in core:
        if token.lower_ in _QUESTION_WORDS or asked in (token.lower_, token.lemma_.lower()):
            continue
        if token.pos_ == "PROPN" or token.ent_type_ or _has_name(token):
            return False
        if token.pos_ == "NOUN":
            return True
    return False


def _has_name(token: Token) -> bool:
    return any(c.dep_ in ("appos", "compound") and c.pos_ == "PROPN" for c in token.children)


def _at(tokens: list[Token], position: int) -> AnswerType | None:
    """The answer type told by the question word at ``position`` (``None``: not one).

    A relative pronoun (``the state where ... died``, ``the band which ...``) asks nothing.
    """
    token = tokens[position]
    if token.head.dep_ in ("relcl", "acl") and token.head.i > token.i:
        return None
    word = token.lower_
    if word in _WH_LABELS:
        return AnswerType(labels=_WH_LABELS[word], wh=word)
    if word == "how":
        nxt = tokens[position + 1].lower_ if position + 1 < len(tokens) else ""
        if nxt in _HOW:
            return AnswerType(labels=_HOW[nxt], wh=f"how {nxt}")
        return AnswerType(wh="how")
    if word in ("what", "which"):
        return _what(word, tokens[position + 1 : position + 1 + _NOUN_WINDOW])
    return None


def _what(word: str, following: list[Token]) -> AnswerType:
    """``what``/``which``: the labels of the first noun after the skipped words.

    A noun that modifies another (``ferry`` in ``which ferry company``) gives way to the
    noun it modifies.
    """
    for token in following:
        lower = token.lower_
        if lower in _SKIPPED:
            continue
        if token.pos_ in ("NOUN", "PROPN") or lower in _LEXICON:
            head = token
            while head.dep_ == "compound" and head.head.i > head.i:
                head = head.head
            lower = head.lower_
            noun = lower if lower in _LEXICON else head.lemma_.lower()
            return AnswerType(
                labels=noun_labels(noun), wh=word, noun=noun, year=noun in ("year", "years")
            )
        if token.pos_ in ("VERB", "AUX", "ADP", "PRON", "DET"):
            break
    return AnswerType(wh=word)
