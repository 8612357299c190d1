"""Rules that turn a parsed spaCy ``Doc`` into mentions and relations (pure functions).

Mentions: named entities (minus dropped labels), proper-noun runs (``ENTITY``), a title line
(``TITLE``) and noun phrases that are arguments of a relation (``CONCEPT``). Relations:
subject-verb-object triples from the dependency parse and pairwise sentence co-occurrence.
Kept apart from :mod:`graphrag.extract.spacy_extractor` (model loading, batching, processes)
so worker processes and the question analyser share the same rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING

from graphrag.config import ExtractionSettings
from graphrag.extract.types import CONCEPT, ENTITY, TITLE
from graphrag.ids import normalize_name
from graphrag.models import ChunkExtraction, RawMention, RawRelation, RelationKind

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

MAX_TITLE_WORDS = 12
"""A chunk's first line counts as a title when it has at most this many words."""

COOCCURS = "co_occurs_with"
_RUN_JOINERS = frozenset({"of", "the", "&", "-"})
_LEMMATIZERS: dict[int, object] = {}
_FREE, _DROPPED = -1, -2  # token -> mention map: no mention / inside a dropped entity


def register_lemmatizer(nlp: Language) -> None:
    """Remember a pipeline's lemmatizer so predicates can be lemmatised when it was skipped."""
    if "lemmatizer" in nlp.pipe_names:
        _LEMMATIZERS[id(nlp.vocab)] = nlp.get_pipe("lemmatizer")


def _lemma(token: Token) -> str:
    """The lower-case lemma of a token, computed on demand when the lemmatizer was skipped."""
    if token.lemma_:
        return token.lemma_.lower()
    lemmatizer = _LEMMATIZERS.get(id(token.doc.vocab))
    if lemmatizer is None or not hasattr(lemmatizer, "rule_lemmatize"):
        return token.lower_
    lemmas: list[str] = lemmatizer.rule_lemmatize(token)
    return (lemmas[0] if lemmas else token.text).lower()


def find_title(text: str) -> tuple[int, int] | None:
    """Return the character span of a title line at the start of ``text``, if any.

    A title is a first line of at most :data:`MAX_TITLE_WORDS` words without a final period,
    followed by a newline and more text (``Title⏎body``, ``# Heading⏎body``); leading
    ``#`` marks and surrounding blanks are excluded from the span.

    Args:
        text: A chunk text.

    Returns:
        ``(start, end)`` offsets of the title in ``text``, or ``None``.
    """
    newline = text.find("\n")
    if newline <= 0 or not text[newline + 1 :].strip():
        return None
    start = 0
    while start < newline and text[start] in " \t#":
        start += 1
    end = newline
    while end > start and text[end - 1].isspace():
        end -= 1
    title = text[start:end]
    if not title or title.endswith(".") or not any(ch.isalpha() for ch in title):
        return None
    if len(title.split()) > MAX_TITLE_WORDS:
        return None
    return start, end


class _Mentions:
    """Mentions of one doc with a token -> mention index (NER, proper nouns, concepts)."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.items: list[RawMention] = []
        self.norms: list[str] = []
        self.by_token: list[int] = [_FREE] * len(doc)
        self.sentence_of: list[int] = [0] * len(doc)
        self.sentences: list[Span] = list(doc.sents) if len(doc) else []
        for index, sent in enumerate(self.sentences):
            for i in range(sent.start, sent.end):
                self.sentence_of[i] = index

    def add_chars(self, start: int, end: int, kind: str, sentence: int) -> int | None:
        """Add a mention by character span; return its index (``None`` if it has no name)."""
        surface = self.doc.text[start:end]
        norm = normalize_name(surface)
        if not norm:
            return None
        self.items.append(
            RawMention(surface=surface, type=kind, start=start, end=end, sentence=sentence)
        )
        self.norms.append(norm)
        return len(self.items) - 1

    def add_tokens(self, start: int, end: int, kind: str) -> int | None:
        """Add a mention by token span ``[start, end)`` after trimming; map its tokens."""
        span = _trim(self.doc, start, end, kind == CONCEPT)
        if span is None:
            return None
        first, last = span
        begin = self.doc[first].idx
        stop = self.doc[last - 1].idx + len(self.doc[last - 1].text)
        index = self.add_chars(begin, stop, kind, self.sentence_of[first])
        if index is not None:
            for i in range(first, last):
                self.by_token[i] = index
        return index


def _trim(doc: Doc, start: int, end: int, every_determiner: bool) -> tuple[int, int] | None:
    """Drop leading determiners and trailing possessives, blanks and punctuation of a span.

    Named entities lose only lower-case or sentence-initial determiners (``the Radium
    Institute``); noun phrases lose every determiner and possessive pronoun.
    """
    while start < end:
        token = doc[start]
        if not (
            token.is_space
            or token.is_punct
            or token.tag_ == "PRP$"
            or (token.pos_ == "DET" and (every_determiner or token.is_lower or token.is_sent_start))
        ):
            break
        start += 1
    while end > start and (
        doc[end - 1].is_space or doc[end - 1].is_punct or doc[end - 1].tag_ == "POS"
    ):
        end -= 1
    return (start, end) if end > start else None


def _entity_pieces(ent: Span) -> Iterator[tuple[int, int]]:
    """Token spans of an entity, split at line breaks (NER may run across a title line)."""
    start = ent.start
    for token in ent:
        if token.is_space and "\n" in token.text:
            if token.i > start:
                yield start, token.i
            start = token.i + 1
    if ent.end > start:
        yield start, ent.end


def _add_entities(mentions: _Mentions, drop_types: Collection[str]) -> None:
    for ent in mentions.doc.ents:
        if ent.label_ in drop_types:  # numbers and dates are never relation arguments
            mentions.by_token[ent.start : ent.end] = [_DROPPED] * len(ent)
            continue
        for start, end in _entity_pieces(ent):
            mentions.add_tokens(start, end, ent.label_)


def _is_propn(token: Token) -> bool:
    return token.pos_ == "PROPN" and any(ch.isalpha() for ch in token.text)


def _propn_runs(doc: Doc) -> Iterator[tuple[int, int]]:
    """Maximal runs of proper nouns (inner ``of``/``the``/``&``/``-`` allowed), no NER overlap."""
    i, n = 0, len(doc)
    while i < n:
        if not _is_propn(doc[i]):
            i += 1
            continue
        start = end = i
        j = i + 1
        while j < n:
            if _is_propn(doc[j]):
                end = j
            elif not (doc[j].lower_ in _RUN_JOINERS and j + 1 < n):
                break
            j += 1
        if all(doc[k].ent_iob == 2 or doc[k].ent_iob == 0 for k in range(start, end + 1)):
            yield start, end + 1
        i = end + 1


def mentions_from_doc(doc: Doc, drop_types: Collection[str]) -> list[RawMention]:
    """Return the named entities and proper-noun runs of a parsed doc (no titles or concepts).

    Used for questions, whose entities seed retrieval.

    Args:
        doc: A doc with entities, tags and sentence boundaries (questions skip the parser
            and mark one sentence).
        drop_types: NER labels to ignore (numeric and date types by default).

    Returns:
        Mentions with character offsets into ``doc.text`` and sentence indexes.
    """
    mentions = _Mentions(doc)
    _add_entities(mentions, set(drop_types))
    for start, end in _propn_runs(doc):
        mentions.add_tokens(start, end, ENTITY)
    return mentions.items


def extract_doc(doc: Doc, chunk_id: str, settings: ExtractionSettings) -> ChunkExtraction:
    """Turn a parsed chunk into mentions and relations (pure; safe in worker processes).

    Args:
        doc: The chunk processed by the full pipeline (see :func:`prepare_doc`).
        chunk_id: The chunk's id.
        settings: Extraction settings (dropped types, co-occurrence cap, noun phrases).

    Returns:
        The chunk's mentions (offsets relative to the chunk text) and relations.
    """
    mentions = _Mentions(doc)
    title_span = find_title(doc.text)
    title = None
    if title_span is not None:
        title = mentions.add_chars(title_span[0], title_span[1], TITLE, 0)
    _add_entities(mentions, set(settings.drop_types))
    for start, end in _propn_runs(doc):
        mentions.add_tokens(start, end, ENTITY)
    relations = _svo_relations(mentions, settings.noun_phrases)
    relations += _cooccurrences(mentions, title, settings.max_cooccurring)
    return ChunkExtraction(chunk_id=chunk_id, mentions=mentions.items, relations=relations)


def _first_body_sentence(mentions: _Mentions, title: int) -> int | None:
    end = mentions.items[title].end
    for token in mentions.doc:
        if token.idx >= end and not token.is_space:
            return mentions.sentence_of[token.i]
    return None


def _cooccurrences(mentions: _Mentions, title: int | None, limit: int) -> list[RawRelation]:
    """Pairwise co-occurrence of distinct non-CONCEPT mentions in each sentence."""
    groups: dict[int, list[int]] = {}
    for index, mention in enumerate(mentions.items):
        if mention.type != CONCEPT:
            groups.setdefault(mention.sentence, []).append(index)
    if title is not None:
        body = _first_body_sentence(mentions, title)
        if body is not None and body != mentions.items[title].sentence:
            groups.setdefault(body, []).append(title)
    relations: list[RawRelation] = []
    for sentence, members in sorted(groups.items()):
        members.sort(key=lambda i: mentions.items[i].start)
        distinct = _distinct(mentions, members)[:limit]
        text = mentions.sentences[sentence].text.strip() if mentions.sentences else ""
        for a, b in _pairs(mentions, distinct):
            relations.append(
                RawRelation(
                    subject=a,
                    object=b,
                    predicate=COOCCURS,
                    kind=RelationKind.COOCCURRENCE,
                    sentence=text,
                    weight=1.0,
                )
            )
    return relations


def _distinct(mentions: _Mentions, members: Iterable[int]) -> list[int]:
    seen: set[tuple[str, str]] = set()
    out: list[int] = []
    for index in members:
        key = (mentions.norms[index], mentions.items[index].type)
        if key not in seen:
            seen.add(key)
            out.append(index)
    return out


def _pairs(mentions: _Mentions, members: list[int]) -> Iterator[tuple[int, int]]:
    """Canonical pairs: the subject is the mention whose (normalised name, type) sorts first."""
    ordered = sorted(members, key=lambda i: (mentions.norms[i], mentions.items[i].type))
    for x, a in enumerate(ordered):
        for b in ordered[x + 1 :]:
            if mentions.norms[a] != mentions.norms[b]:
                yield a, b


# --- subject-verb-object triples ------------------------------------------------------------

_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
_OBJECTS = frozenset({"dobj", "attr", "oprd"})
_PREPOSITIONS = frozenset({"prep", "agent"})
_VERBS = frozenset({"VERB", "AUX"})
_RELATIVE_TAGS = frozenset({"WDT", "WP"})
_PERSONAL = frozenset({"he", "she", "him", "her"})

_Argument = int | tuple[int, int]
"""An existing mention index, or the token span of a noun phrase to add as a CONCEPT."""


def _subjects(verb: Token) -> list[Token]:
    """Subjects of a verb: its own, a coordinated verb's, or the noun a participle modifies."""
    found = [c for c in verb.children if c.dep_ in _SUBJECTS]
    if not found and verb.dep_ == "conj" and verb.head.pos_ in _VERBS:
        found = [c for c in verb.head.children if c.dep_ in _SUBJECTS]
    if not found and verb.dep_ == "acl" and verb.tag_ == "VBN":
        found = [verb.head]  # "a journal published by X"
    if verb.dep_ == "relcl":  # "the man who founded X": "who" is the modified noun
        found = [verb.head if s.tag_ in _RELATIVE_TAGS else s for s in found]
    return [t for s in found for t in (s, *s.conjuncts)]


def _objects(verb: Token) -> list[tuple[str, Token]]:
    """``(predicate, object token)`` pairs: direct objects, attributes and prepositional ones."""
    base = _lemma(verb)
    particles = [c.lower_ for c in verb.children if c.dep_ == "prt"]
    if particles:
        base = " ".join([base, *particles])
    if any(c.dep_ == "neg" for c in verb.children):
        base = "not " + base
    found: list[tuple[str, Token]] = []
    for child in verb.children:
        if child.dep_ in _OBJECTS:
            found += [(base, t) for t in (child, *child.conjuncts)]
            if child.dep_ == "attr" and child.pos_ == "NOUN":  # "X is the capital of Y"
                for prep in child.children:
                    if prep.dep_ == "prep":
                        predicate = f"{base} {_lemma(child)} {prep.lower_}"
                        found += [(predicate, t) for t in _prepositional_objects(prep)]
        elif child.dep_ in _PREPOSITIONS:
            found += [(f"{base} {child.lower_}", t) for t in _prepositional_objects(child)]
    return found


def _prepositional_objects(prep: Token) -> list[Token]:
    return [t for c in prep.children if c.dep_ == "pobj" for t in (c, *c.conjuncts)]


class _Arguments:
    """Maps argument tokens to mentions, adding noun phrases as CONCEPTs on demand."""

    def __init__(self, mentions: _Mentions, noun_phrases: bool) -> None:
        self.mentions = mentions
        self.noun_phrases = noun_phrases
        self._chunk_of: dict[int, tuple[int, int]] | None = None
        self._concepts: dict[tuple[int, int], int] = {}

    def find(self, token: Token) -> _Argument | None:
        """Return the argument a token stands for, without adding anything."""
        mentions = self.mentions
        if token.pos_ == "PRON":
            return self._antecedent(token) if token.lower_ in _PERSONAL else None
        index = mentions.by_token[token.i]
        if index != _FREE:
            return index if index >= 0 else None
        if not self.noun_phrases or token.like_num or token.pos_ not in ("NOUN", "PROPN"):
            return None
        return self._concept_span(token)

    def commit(self, argument: _Argument) -> int | None:
        """Return the mention index of an argument, adding a CONCEPT mention if needed."""
        if isinstance(argument, int):
            return argument
        index = self._concepts.get(argument)
        if index is None:
            added = self.mentions.add_tokens(argument[0], argument[1], CONCEPT)
            if added is None:
                return None
            index = self._concepts[argument] = added
        return index

    def _antecedent(self, pronoun: Token) -> int | None:
        """The closest PERSON mentioned before a personal pronoun in the chunk."""
        best: int | None = None
        for index, mention in enumerate(self.mentions.items):
            if (
                mention.type == "PERSON"
                and mention.end <= pronoun.idx
                and (best is None or mention.start > self.mentions.items[best].start)
            ):
                best = index
        return best

    def _concept_span(self, token: Token) -> tuple[int, int] | None:
        doc = self.mentions.doc
        if self._chunk_of is None:
            self._chunk_of = {}
            for chunk in doc.noun_chunks:
                for i in range(chunk.start, chunk.end):
                    self._chunk_of[i] = (chunk.start, chunk.end)
        start, end = self._chunk_of.get(token.i, (token.i, token.i + 1))
        end = min(end, token.i + 1)
        for i in range(start, end):
            if self.mentions.by_token[i] != _FREE or doc[i].tag_ == "POS":
                start = i + 1
        span = _trim(doc, start, end, True)
        if span is None:
            return None
        words = doc[span[0] : span[1]]
        if not any(t.pos_ in ("NOUN", "PROPN") and t.is_alpha for t in words):
            return None
        return span


def _svo_relations(mentions: _Mentions, noun_phrases: bool) -> list[RawRelation]:
    """Subject-verb-object relations between mentions, from the dependency parse."""
    arguments = _Arguments(mentions, noun_phrases)
    found: dict[tuple[int, str, int], str] = {}
    for verb in mentions.doc:
        if verb.pos_ not in _VERBS or verb.dep_ in ("aux", "auxpass"):
            continue
        subjects = [a for t in _subjects(verb) if (a := arguments.find(t)) is not None]
        if not subjects:
            continue
        objects = [(p, a) for p, t in _objects(verb) if (a := arguments.find(t)) is not None]
        sentence = mentions.sentences[mentions.sentence_of[verb.i]].text.strip()
        for subject_arg in subjects:
            for predicate, object_arg in objects:
                if subject_arg == object_arg:
                    continue
                subject, obj = arguments.commit(subject_arg), arguments.commit(object_arg)
                if subject is None or obj is None or mentions.norms[subject] == mentions.norms[obj]:
                    continue
                found.setdefault((subject, predicate, obj), sentence)
    return [
        RawRelation(subject=s, object=o, predicate=p, kind=RelationKind.SVO, sentence=text)
        for (s, p, o), text in found.items()
    ]
