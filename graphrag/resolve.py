"""Entity resolution: map extracted mentions to canonical entities, reversibly.

Candidates (one per normalised name and type) are resolved with these rules, in order:

1. An active merge in the store maps an alias to its canonical entity; an undone merge blocks
   that pair for good.
2. A candidate whose entity already exists in the store is itself.
3. Type adoption: an ``ENTITY``/``CONCEPT``/``TITLE`` candidate with the same normalised name
   as a typed candidate or stored entity joins the typed one (the most mentioned).
4. Acronyms: ``NASA`` joins ``National Aeronautics and Space Administration`` when both occur
   in one document.
5. Embedding similarity (``resolution.enabled``): a cosine of at least
   ``similarity_threshold`` between names joins a new candidate to a stored entity, or to
   another new candidate of the batch (the more mentioned one wins).

Merges happen only between compatible types (see :func:`graphrag.extract.types.compatible`);
a generic entity never absorbs a typed one, and two stored entities are never merged (that
would rewrite the store). Chains resolve to their final canonical (union-find). Every new merge
yields a :class:`~graphrag.models.MergeRecord`, so it can be undone with :func:`undo_merge`.

Example:
    >>> resolver = EntityResolver(ResolutionSettings(), store, embedder)  # doctest: +SKIP
    >>> resolution = await resolver.resolve(build_candidates(items))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag.config import ResolutionSettings
from graphrag.extract.types import CONCEPT, compatible, is_generic
from graphrag.ids import entity_id, merge_id, normalize_name
from graphrag.models import Entity, MergeRecord, RawMention
from graphrag.ports import Embedder, GraphStore

logger = logging.getLogger(__name__)

_ACRONYM = re.compile(r"[A-Z]{2,6}")
_ACRONYM_SKIP = frozenset({"of", "the", "and", "for"})
_WORDS = re.compile(r"[^\W\d_][\w']*")
_STORE_METHOD = "store"  # attached by an existing merge record: nothing new to record
_SEARCH_K = 5
_BLOCK_ROWS = 2048


@dataclass(frozen=True)
class Candidate:
    """Everything a batch says about one (normalised name, type).

    Attributes:
        key: ``entity_id(norm, type)``, the id the entity gets if nothing merges it.
        name: The most frequent surface form.
        norm: The normalised name.
        type: The coarse type.
        count: Number of mentions in the batch.
        document_ids: Documents that mention it.
    """

    key: str
    name: str
    norm: str
    type: str
    count: int
    document_ids: frozenset[str]


@dataclass
class Resolution:
    """The outcome of resolving a batch of candidates.

    Attributes:
        canonical: Candidate key -> canonical entity. New entities carry their name
            embedding; stored ones are as read from the store plus the new aliases.
        merges: Merge records decided now (existing merges are not repeated).
    """

    canonical: dict[str, Entity] = field(default_factory=dict)
    merges: list[MergeRecord] = field(default_factory=list)


def build_candidates(items: Iterable[tuple[str, RawMention]]) -> list[Candidate]:
    """Group raw mentions into candidates by normalised name and type.

    Args:
        items: ``(document_id, mention)`` pairs.

    Returns:
        One candidate per key, in order of first appearance; mentions whose name
        normalises to nothing are skipped.
    """
    surfaces: dict[str, Counter[str]] = {}
    documents: dict[str, set[str]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for document_id, mention in items:
        norm = normalize_name(mention.surface)
        if not norm:
            continue
        key = entity_id(norm, mention.type)
        if key not in meta:
            meta[key] = (norm, mention.type)
            surfaces[key] = Counter()
            documents[key] = set()
        surfaces[key][mention.surface.strip()] += 1
        documents[key].add(document_id)
    return [
        Candidate(
            key=key,
            name=surfaces[key].most_common(1)[0][0],
            norm=norm,
            type=kind,
            count=sum(surfaces[key].values()),
            document_ids=frozenset(documents[key]),
        )
        for key, (norm, kind) in meta.items()
    ]


def initials(name: str) -> str | None:
    """Return the acronym a multi-word name abbreviates to, or ``None`` for one word.

    ``of``, ``the``, ``and`` and ``for`` are skipped: ``"Bank of England"`` -> ``"BE"``.
    """
    words = [w for w in _WORDS.findall(name) if w.lower() not in _ACRONYM_SKIP]
    if len(words) < 2:
        return None
    return "".join(w[0] for w in words).upper()


@dataclass
class _Node:
    type: str
    count: int
    stored: bool


class _Forest:
    """Union-find over candidate keys and stored entity ids, with the merge constraints."""

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}
        self.parent: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.edge: dict[str, tuple[str, float]] = {}
        self.blocked: dict[str, set[str]] = {}

    def add(self, node_id: str, node: _Node) -> None:
        if node_id not in self.nodes:
            self.nodes[node_id] = node
            self.parent[node_id] = node_id
            self.members[node_id] = {node_id}

    def block(self, first: str, second: str) -> None:
        self.blocked.setdefault(first, set()).add(second)
        self.blocked.setdefault(second, set()).add(first)

    def find(self, node_id: str) -> str:
        root = node_id
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node_id] != root:
            self.parent[node_id], node_id = root, self.parent[node_id]
        return root

    def _is_blocked(self, first: str, second: str) -> bool:
        if not self.blocked:
            return False
        small, large = sorted((self.members[first], self.members[second]), key=len)
        return any(not self.blocked.get(m, set()).isdisjoint(large) for m in small)

    def _canonical(self, alias: str, target: str, prefer_target: bool) -> str | None:
        a, t = self.nodes[alias], self.nodes[target]
        if a.stored and t.stored:
            return None  # two stored entities: merging them would rewrite the store
        if a.stored or t.stored:
            keep, other = (alias, t) if a.stored else (target, a)
            # a stored generic entity cannot absorb a typed one (types are never lost)
            return (
                None if is_generic(self.nodes[keep].type) and not is_generic(other.type) else keep
            )
        if is_generic(a.type) != is_generic(t.type):
            return alias if is_generic(t.type) else target
        if prefer_target:
            return target
        return max((alias, target), key=lambda n: (self.nodes[n].count, _neg(n)))

    def union(
        self, alias: str, target: str, method: str, score: float, *, prefer_target: bool
    ) -> bool:
        """Merge the groups of ``alias`` and ``target``; return whether they were merged."""
        ra, rt = self.find(alias), self.find(target)
        if ra == rt or not compatible(self.nodes[ra].type, self.nodes[rt].type):
            return False
        keep = self._canonical(ra, rt, prefer_target)
        if keep is None or self._is_blocked(ra, rt):
            return False
        gone = rt if keep == ra else ra
        self.parent[gone] = keep
        self.edge[gone] = (method, score)
        absorbed, kept = self.members.pop(gone), self.members[keep]
        if len(absorbed) > len(kept):
            absorbed, kept = kept, absorbed
        kept |= absorbed  # the smaller set into the larger one
        self.members[keep] = kept
        return True


def _neg(key: str) -> tuple[int, ...]:
    """Sort key that makes the lexicographically smaller string win a ``max``."""
    return tuple(-ord(ch) for ch in key)


class EntityResolver:
    """Resolves candidates against each other and the store (see the module docstring).

    Args:
        settings: Similarity threshold, whether embedding merges and acronyms are on.
        store: The graph store holding existing entities and merge records.
        embedder: Embeds names; its vectors become the embeddings of new entities.

    Example:
        >>> resolver = EntityResolver(ResolutionSettings(), store, HashEmbedder(32))
        >>> resolution = await resolver.resolve(candidates)  # doctest: +SKIP
    """

    def __init__(self, settings: ResolutionSettings, store: GraphStore, embedder: Embedder) -> None:
        self._settings = settings
        self._store = store
        self._embedder = embedder

    async def resolve(self, candidates: Sequence[Candidate]) -> Resolution:
        """Map every candidate key to its canonical entity and record new merges.

        Args:
            candidates: The batch's candidates (duplicate keys: the first one counts).

        Returns:
            The canonical entity of every candidate and the merges decided now.

        Raises:
            StoreError: If the store cannot be read.
            EmbeddingError: If the names cannot be embedded.
        """
        started = time.perf_counter()
        unique: dict[str, Candidate] = {}
        for candidate in candidates:
            unique.setdefault(candidate.key, candidate)
        batch = list(unique.values())
        if not batch:
            return Resolution()
        forest = _Forest()
        stored = await self._load(batch, forest)
        await self._adopt_types(batch, forest, stored)
        if self._settings.acronyms:
            self._acronyms(batch, forest)
        new = [
            c
            for c in batch
            if forest.find(c.key) == c.key
            and not forest.nodes[c.key].stored
            and (self._settings.embed_concepts or c.type != CONCEPT)
        ]
        vectors = await self._embedder.embed([c.name for c in new]) if new else None
        if self._settings.enabled and new and vectors is not None:
            await self._similar_to_store(new, vectors, forest, stored)
            self._similar_in_batch(new, vectors, forest)
        resolution = _assemble(batch, forest, stored, new, vectors)
        logger.info(
            "resolved %d candidates into %d entities (%d new merges) in %.2f s",
            len(batch),
            len({e.id for e in resolution.canonical.values()}),
            len(resolution.merges),
            time.perf_counter() - started,
        )
        return resolution

    async def _load(self, batch: list[Candidate], forest: _Forest) -> dict[str, Entity]:
        """Rules 1 and 2: existing merges (active and undone) and existing entities."""
        keys = [c.key for c in batch]
        records = await self._store.merges(alias_ids=keys)
        active = [r for r in records if r.undone_at is None]
        stored = {
            e.id: e for e in await self._store.get_entities(keys + [r.canonical_id for r in active])
        }
        for c in batch:
            known = stored.get(c.key)
            count = c.count + (known.mention_count if known else 0)
            forest.add(c.key, _Node(c.type, count, known is not None))
        for entity in stored.values():
            forest.add(entity.id, _Node(entity.type, entity.mention_count, True))
        for record in records:
            if record.undone_at is not None and record.alias_id in forest.nodes:
                forest.block(record.alias_id, record.canonical_id)
        for record in active:
            alias = forest.nodes.get(record.alias_id)
            if alias is not None and not alias.stored and record.canonical_id in forest.nodes:
                forest.union(
                    record.alias_id,
                    record.canonical_id,
                    _STORE_METHOD,
                    record.score,
                    prefer_target=True,
                )
        return stored

    def _is_new_root(self, forest: _Forest, key: str) -> bool:
        return forest.find(key) == key and not forest.nodes[key].stored

    async def _adopt_types(
        self, batch: list[Candidate], forest: _Forest, stored: dict[str, Entity]
    ) -> None:
        """Rule 3: a generic candidate joins the most mentioned typed entity of the same name."""
        generic = [c for c in batch if is_generic(c.type) and self._is_new_root(forest, c.key)]
        if not generic:
            return
        typed: dict[str, list[str]] = {}
        for c in batch:
            if not is_generic(c.type):
                typed.setdefault(c.norm, []).append(c.key)
        found = await self._store.find_entities(sorted({c.norm for c in generic}))
        missing = sorted({i for ids in found.values() for i in ids if i not in stored})
        for entity in await self._store.get_entities(missing) if missing else []:
            stored[entity.id] = entity
            forest.add(entity.id, _Node(entity.type, entity.mention_count, True))
        for c in generic:
            targets = set(typed.get(c.norm, []))
            targets.update(
                i for i in found.get(c.norm, []) if i in stored and not is_generic(stored[i].type)
            )
            ranked = sorted(targets, key=lambda t: (-forest.nodes[t].count, t))
            for target in ranked:
                if forest.union(c.key, target, "type", 1.0, prefer_target=True):
                    break

    def _acronyms(self, batch: list[Candidate], forest: _Forest) -> None:
        """Rule 4: an all-caps candidate joins the long form it abbreviates (same document)."""
        long_forms: dict[str, list[Candidate]] = {}
        for c in batch:
            abbreviation = initials(c.name)
            if abbreviation is not None and 2 <= len(abbreviation) <= 6:
                long_forms.setdefault(abbreviation, []).append(c)
        for c in batch:
            if not _ACRONYM.fullmatch(c.name) or not self._is_new_root(forest, c.key):
                continue
            matches = [
                f
                for f in long_forms.get(c.name, [])
                if f.document_ids & c.document_ids and f.key != c.key
            ]
            for form in sorted(matches, key=lambda f: (-f.count, f.key)):
                if forest.union(c.key, form.key, "acronym", 1.0, prefer_target=True):
                    break

    async def _similar_to_store(
        self, new: list[Candidate], vectors: np.ndarray, forest: _Forest, stored: dict[str, Entity]
    ) -> None:
        """Rule 5a: join new candidates to stored entities with similar names."""
        if (await self._store.stats()).entities == 0:
            return
        threshold = self._settings.similarity_threshold
        neighbours = await self._store.vector_search_many("entities", vectors, _SEARCH_K)
        found = [[(h.id, h.score) for h in hits if h.score >= threshold] for hits in neighbours]
        missing = sorted({i for hits in found for i, _ in hits if i not in stored})
        for fetched in await self._store.get_entities(missing) if missing else []:
            stored[fetched.id] = fetched
            forest.add(fetched.id, _Node(fetched.type, fetched.mention_count, True))
        for c, hits in zip(new, found, strict=True):
            for hit_id, score in sorted(hits, key=lambda h: (-h[1], h[0])):
                entity = stored.get(hit_id)
                if entity is None or not _lexically_related(c.norm, normalize_name(entity.name)):
                    continue
                if forest.union(c.key, hit_id, "embedding", float(score), prefer_target=True):
                    break

    def _similar_in_batch(self, new: list[Candidate], vectors: np.ndarray, forest: _Forest) -> None:
        """Rule 5b: join similar new candidates, best pairs first.

        Only compatible pairs are compared: candidates are ordered generic types first, then
        by type, and each block of rows is multiplied with the columns after it that can hold
        a compatible partner (all later ones for generic rows, the rest of its type otherwise).
        """
        threshold = self._settings.similarity_threshold
        order = sorted(range(len(new)), key=lambda i: (not is_generic(new[i].type), new[i].type))
        matrix = np.ascontiguousarray(vectors[order], dtype=np.float32)
        pairs: list[tuple[float, int, int]] = []
        for first, last in _type_segments([new[i].type for i in order]):
            stop = len(order) if is_generic(new[order[first]].type) else last
            for start in range(first, last, _BLOCK_ROWS):
                end = min(start + _BLOCK_ROWS, last)
                block = matrix[start:end] @ matrix[start:stop].T
                rows, cols = np.nonzero(block >= threshold)
                keep = cols > rows  # each pair once, never a candidate with itself
                for r, c in zip(rows[keep].tolist(), cols[keep].tolist(), strict=True):
                    pairs.append((float(block[r, c]), order[start + r], order[start + c]))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        names = {c.key: c.norm for c in new}
        for score, i, j in pairs:
            a, b = new[i].key, new[j].key
            if _lexically_related(names[a], names[b]):
                forest.union(a, b, "embedding", min(score, 1.0), prefer_target=False)


def _type_segments(types: list[str]) -> list[tuple[int, int]]:
    """``[first, last)`` ranges of equal types in a sorted list, all generic types as one."""
    segments: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(types) + 1):
        if i == len(types) or (
            types[i] != types[first] and not (is_generic(types[i]) and is_generic(types[first]))
        ):
            segments.append((first, i))
            first = i
    return segments


def _trigrams(norm: str) -> set[str]:
    padded = f" {norm} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _lexically_related(first: str, second: str) -> bool:
    """Whether two normalised names share a character trigram.

    Guards embedding merges against names the model cannot read: MiniLM maps text in
    scripts it does not know to the same unknown tokens, so unrelated names get cosine 1.0.
    """
    return not _trigrams(first).isdisjoint(_trigrams(second))


def _assemble(
    batch: list[Candidate],
    forest: _Forest,
    stored: dict[str, Entity],
    new: list[Candidate],
    vectors: np.ndarray | None,
) -> Resolution:
    """Build the canonical entities (with aliases and embeddings) and the new merge records."""
    by_key = {c.key: c for c in batch}
    row_of = {c.key: i for i, c in enumerate(new)}
    entities: dict[str, Entity] = {}
    resolution = Resolution()
    for c in batch:
        root = forest.find(c.key)
        entity = entities.get(root)
        if entity is None:
            if root in stored:
                entity = stored[root].model_copy(update={"aliases": list(stored[root].aliases)})
            else:
                head = by_key[root]
                vector = vectors[row_of[root]] if vectors is not None and root in row_of else None
                entity = Entity(id=root, name=head.name, type=head.type, embedding=vector)
            entities[root] = entity
        resolution.canonical[c.key] = entity
        if root == c.key:
            continue
        if c.name != entity.name and c.name not in entity.aliases:
            entity.aliases.append(c.name)
        method, score = forest.edge.get(c.key, (_STORE_METHOD, 1.0))
        if method != _STORE_METHOD and not forest.nodes[c.key].stored:
            resolution.merges.append(
                MergeRecord(
                    id=merge_id(c.key, root),
                    alias_id=c.key,
                    alias_name=c.name,
                    alias_type=c.type,
                    canonical_id=root,
                    score=score,
                    method=method,
                )
            )
    return resolution


async def undo_merge(store: GraphStore, merge: str) -> list[str]:
    """Undo a merge and return the documents to re-process.

    The merge is marked undone (so the pair is never merged again); the caller re-processes
    the returned documents, whose chunks mention the canonical entity with a surface form
    whose normalised name equals the alias's, so the alias becomes an entity of its own.

    Args:
        store: The graph store.
        merge: The merge record's id.

    Returns:
        Sorted ids of the documents to re-process (empty if the canonical entity is gone).

    Raises:
        NotFoundError: If there is no such merge.
    """
    record = await store.mark_merge_undone(merge)
    entities = await store.get_entities([record.canonical_id])
    if not entities:
        return []
    alias = normalize_name(record.alias_name)
    if not alias:
        return []
    needle = f" {alias} "
    chunks = await store.get_chunks(entities[0].source_chunk_ids)
    return sorted({c.document_id for c in chunks if needle in f" {normalize_name(c.text)} "})
