"""Extractive community summaries: top members with types, key relations, key sentences.

No LLM is involved. A community's summary names its highest-ranked members with their types,
its strongest SVO relations and the sentences that best connect its members, each quoted
verbatim from a supporting chunk and cited by chunk id::

    Extractive summary: 12 entities: Marie Curie (PERSON), Warsaw (GPE), Paris (GPE)
    (+9 more). Key relations: Marie Curie –bear in→ Warsaw. Key sentences: “Marie Curie was
    born in Warsaw and moved to Paris.” [c_1a2b]; “...” [c_3c4d].

The supporting chunks of a community are those whose relations connect the most members
(:func:`support_chunks`); a sentence scores by the number of distinct members it names
(highest-ranked first on ties). :func:`embedding_text` is what gets embedded for the
``global`` retrieval mode (title, member names, key sentences; no ids), and
:func:`parse_key_sentences` reads the cited sentences back from a summary.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graphrag.models import Chunk, Entity, Relation

__all__ = [
    "SUMMARY_PREFIX",
    "KeySentence",
    "embedding_text",
    "key_sentences",
    "parse_key_sentences",
    "split_sentences",
    "summarize",
    "support_chunks",
]

SUMMARY_PREFIX = "Extractive summary:"
"""Start of every summary: it is built from stored names, relations and chunk text."""

SUMMARY_ENTITIES = 8
"""Members named (with their types) in a summary."""
SUMMARY_RELATIONS = 3
"""Strongest SVO relations inside the community shown in a summary."""
SUMMARY_SENTENCES = 3
"""Key sentences quoted in a summary."""
SUPPORT_CHUNKS = 5
"""Supporting chunks kept per community (the ``global`` mode returns them)."""
MATCH_MEMBERS = 25
"""Highest-ranked members whose names are looked for in the supporting chunks' sentences."""
MAX_SENTENCE_CHARS = 280
"""Longer sentences are cut (with an ellipsis) in summaries."""
MIN_SENTENCE_WORDS = 3
"""Shorter sentences are not key sentences."""
MIN_LINE_WORDS = 8
"""A line without closing punctuation (a title, a heading) needs this many words."""
PER_CHUNK = 2
"""Most key sentences quoted from one chunk."""
EMBED_NAMES = 10
"""Member names in the embedded text."""
EMBED_CHARS = 512
"""The embedded text is cut here (about 110 MiniLM tokens): title, member names and the
first key sentences. Embedding cost grows with the text (800 characters took 2.4x the time
of 400 on musique_train), and the names carry most of what a question can match."""
GENERIC_TYPES = frozenset({"CONCEPT"})
"""Member types whose names (common noun phrases: "city", "customers") match sentences only
when a community has no other member to match."""

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_CLOSED = re.compile(r"[.!?][\"”’')\]]*$")
_CITED = re.compile(r"“(.*?)” \[([A-Za-z0-9_\-]+)\]")


@dataclass(frozen=True)
class KeySentence:
    """A sentence that connects members of a community.

    Attributes:
        chunk_id: The chunk it is quoted from.
        text: The sentence, verbatim (cut to :data:`MAX_SENTENCE_CHARS`).
        members: Distinct members it names.
    """

    chunk_id: str
    text: str
    members: int


def support_chunks(
    relations: Sequence[Relation],
    groups: Sequence[Sequence[str]],
    ranks: Mapping[str, float],
    limit: int = SUPPORT_CHUNKS,
) -> list[list[str]]:
    """Return, per group, the chunks whose relations connect the most of its members.

    A chunk supports a group when it is evidence of a relation between two members (SVO or
    co-occurrence). Chunks are ordered by the number of distinct members they connect, then
    the sum of those members' ranks, then id.

    Args:
        relations: Every relation, with ``source_chunk_ids``.
        groups: Member ids of each community.
        ranks: Entity id to PageRank.
        limit: Chunks kept per group.

    Returns:
        Chunk ids per group, best first (empty for a group without supported relations).
    """
    group_of = {entity: index for index, group in enumerate(groups) for entity in group}
    connected: list[dict[str, set[str]]] = [defaultdict(set) for _ in groups]
    for relation in relations:
        group = group_of.get(relation.source_id)
        if group is None or relation.source_id == relation.target_id:
            continue
        if group != group_of.get(relation.target_id):
            continue
        for chunk_id in relation.source_chunk_ids:
            connected[group][chunk_id].update((relation.source_id, relation.target_id))
    result: list[list[str]] = []
    for found in connected:
        ordered = sorted(
            found.items(),
            key=lambda item: (-len(item[1]), -sum(ranks.get(e, 0.0) for e in item[1]), item[0]),
        )
        result.append([chunk_id for chunk_id, _ in ordered[:limit]])
    return result


def split_sentences(text: str) -> list[str]:
    """Split chunk text into sentences: at line breaks and after ``.``, ``!`` or ``?``.

    A sentence end needs whitespace and then a capital, digit or opening quote, so that
    abbreviations such as ``e.g. the`` stay whole: ``"Lantern Bridge"`` and ``"It opened in
    1931. Its cables were spun on site."`` on two lines give three sentences.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def _pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    words = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=lambda n: (-len(n), n))
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _matchable(members: Sequence[Entity]) -> list[Entity]:
    specific = [e for e in members if e.type not in GENERIC_TYPES]
    return specific or list(members)


def _quotable(sentence: str) -> bool:
    words = len(sentence.split())
    if _CLOSED.search(sentence):
        return words >= MIN_SENTENCE_WORDS
    return words >= MIN_LINE_WORDS


def _cut(sentence: str) -> str:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return sentence
    return sentence[: MAX_SENTENCE_CHARS - 1].rstrip() + "…"


def key_sentences(
    chunks: Sequence[Chunk],
    members: Sequence[Entity],
    ranks: Mapping[str, float],
    limit: int = SUMMARY_SENTENCES,
) -> list[KeySentence]:
    """Return the sentences of ``chunks`` that name the most members, best first.

    Args:
        chunks: The community's supporting chunks, best first.
        members: Its highest-ranked members (names and aliases are matched, any case, as
            whole words); generic types (:data:`GENERIC_TYPES`) only if nothing else is left.
        ranks: Entity id to PageRank (ties: sentences naming higher-ranked members first).
        limit: Sentences returned (at most :data:`PER_CHUNK` per chunk).

    Returns:
        Sentences naming at least one member, by distinct members named, then the sum of
        their ranks, then chunk order and position. Identical sentences count once.
    """
    matchable = _matchable(members)
    owner: dict[str, str] = {}
    for entity in matchable:
        for name in (entity.name, *entity.aliases):
            owner.setdefault(name.strip().lower(), entity.id)
    pattern = _pattern(list(owner))
    if pattern is None:
        return []
    scored: list[tuple[tuple[int, float, int], KeySentence]] = []
    seen: set[str] = set()
    position = 0
    for chunk in chunks:
        for sentence in split_sentences(chunk.text):
            position += 1
            if sentence in seen or not _quotable(sentence):
                continue
            found = (owner.get(m.group(0).lower()) for m in pattern.finditer(sentence))
            named = {entity_id for entity_id in found if entity_id is not None}
            if not named:
                continue
            seen.add(sentence)
            weight = sum(ranks.get(e, 0.0) for e in named)
            key = (-len(named), -weight, position)
            scored.append((key, KeySentence(chunk.id, _cut(sentence), len(named))))
    chosen: list[KeySentence] = []
    per_chunk: dict[str, int] = defaultdict(int)
    for _, candidate in sorted(scored, key=lambda item: item[0]):
        if per_chunk[candidate.chunk_id] >= PER_CHUNK:
            continue
        per_chunk[candidate.chunk_id] += 1
        chosen.append(candidate)
        if len(chosen) >= limit:
            break
    return chosen


def _name(entity_id: str, entities: Mapping[str, Entity]) -> str:
    found = entities.get(entity_id)
    return found.name if found is not None else entity_id


def summarize(
    members: Sequence[str],
    relations: Sequence[Relation],
    entities: Mapping[str, Entity],
    sentences: Sequence[KeySentence],
) -> str:
    """Return the extractive summary of a community.

    Args:
        members: Member ids, highest rank first.
        relations: Its strongest SVO relations, strongest first (the first
            :data:`SUMMARY_RELATIONS` are shown).
        entities: Entity rows by id (names and types; missing ids are shown as ids).
        sentences: Its key sentences (:func:`key_sentences`).
    """
    shown = []
    for entity_id in members[:SUMMARY_ENTITIES]:
        found = entities.get(entity_id)
        shown.append(f"{found.name} ({found.type})" if found is not None else entity_id)
    more = len(members) - len(shown)
    count = f"{len(members):,} {'entity' if len(members) == 1 else 'entities'}"
    names = ", ".join(shown) + (f" (+{more:,} more)" if more > 0 else "")
    facts = ", ".join(
        f"{_name(r.source_id, entities)} –{r.predicate}→ {_name(r.target_id, entities)}"
        for r in relations[:SUMMARY_RELATIONS]
    )
    quotes = "; ".join(f"“{s.text}” [{s.chunk_id}]" for s in sentences)
    return (
        f"{SUMMARY_PREFIX} {count}: {names}. Key relations: {facts or 'none found'}. "
        f"Key sentences: {quotes or 'none found'}."
    )


def embedding_text(
    title: str,
    members: Sequence[str],
    entities: Mapping[str, Entity],
    sentences: Sequence[KeySentence],
) -> str:
    """Return the text embedded for a community: title, member names and key sentences."""
    names = ", ".join(_name(e, entities) for e in members[:EMBED_NAMES])
    quoted = " ".join(s.text for s in sentences)
    return f"{title}. {names}. {quoted}".strip()[:EMBED_CHARS]


def parse_key_sentences(summary: str | None) -> list[tuple[str, str]]:
    """Return the ``(sentence, chunk id)`` pairs quoted in a summary, in order.

    ``Key sentences: “It opened in 1931.” [c_1a]; “Cables.” [c_2b].`` gives
    ``[("It opened in 1931.", "c_1a"), ("Cables.", "c_2b")]``.
    """
    if not summary:
        return []
    return [(m.group(1), m.group(2)) for m in _CITED.finditer(summary)]
