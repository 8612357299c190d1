"""Deterministic entity resolution over a region of keys (pure functions, no I/O).

Keys are joined by three kinds of evidence, each a property of the two keys alone:

* ``type``: the same normalised name, one of them generic (``ENTITY``, ``CONCEPT``,
  ``TITLE``): an unlabelled mention adopts the typed entity of that name.
* ``acronym``: one key is written as an acronym (``NASA``), the other's initials spell it,
  at least one stored document mentions both, and no other name of the region fits that
  acronym the same way (an ambiguous acronym joins nothing; a noun phrase is never a long
  form).
* ``embedding``: name embeddings with a cosine of at least the threshold, compatible types
  and a shared character trigram (the stored :class:`~graphrag.resolution.models.KeyLink`).

Edges are applied greedily in one global order (type, then acronym, then embedding; higher
scores and better-supported pairs first; ties by key), skipping a join that would put two
different entity types in one group or reunite a pair whose merge was undone. Each group's
canonical key is its typed key with the most support (chunks mentioning it), ties by the
smaller key; the group becomes one entity with that key as id.

Because every input is a function of the stored documents (and of the undone merges), the
result does not depend on the order or batch size in which documents were ingested.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from graphrag.extract.types import CONCEPT, compatible, is_generic
from graphrag.ids import merge_id
from graphrag.models import Entity, MergeRecord
from graphrag.resolution.keys import acronym_norm, initials, is_acronym, linkable
from graphrag.resolution.models import KeyInfo, KeyLink

METHOD_RANK = {"type": 0, "acronym": 1, "embedding": 2}


@dataclass(frozen=True)
class Edge:
    """Evidence that keys ``a`` and ``b`` name the same entity (``a < b``)."""

    a: str
    b: str
    method: str
    score: float


def _edge(first: str, second: str, method: str, score: float) -> Edge:
    a, b = sorted((first, second))
    return Edge(a, b, method, score)


def type_edges(infos: Mapping[str, KeyInfo]) -> list[Edge]:
    """Same normalised name, compatible types (at least one generic)."""
    by_norm: dict[str, list[KeyInfo]] = defaultdict(list)
    for info in infos.values():
        by_norm[info.norm].append(info)
    edges: list[Edge] = []
    for group in by_norm.values():
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                if compatible(first.type, second.type):
                    edges.append(_edge(first.key, second.key, "type", 1.0))
    return edges


def acronym_pairs(infos: Mapping[str, KeyInfo]) -> list[tuple[str, str]]:
    """``(acronym key, long-form key)`` pairs of the region, before the shared-document check.

    The acronym key must be written in capitals (its display name) and the long form's
    initials must spell it; types must be compatible, and a noun phrase (``CONCEPT``, such as
    "public areas") is never a long form.
    """
    long_forms: dict[str, list[KeyInfo]] = defaultdict(list)
    for info in infos.values():
        abbreviation = initials(info.norm)
        if abbreviation is not None and info.type != CONCEPT:
            long_forms[abbreviation].append(info)
    pairs: list[tuple[str, str]] = []
    for info in infos.values():
        if not acronym_norm(info.norm) or not is_acronym(info.name):
            continue
        for form in long_forms.get(info.name, []):
            if form.key != info.key and compatible(info.type, form.type):
                pairs.append((info.key, form.key))
    return sorted(pairs)


def acronym_edges(pairs: Iterable[tuple[str, str]], shared: set[tuple[str, str]]) -> list[Edge]:
    """An acronym joins its long form only when exactly one long form fits.

    Of the pairs, those mentioned together in at least one document count; an acronym with
    two or more such long forms ("PA": Press Association, Prince Albert, Peter Alexander) is
    ambiguous and joins none, so an acronym never ties unrelated names together.
    """
    fitting: dict[str, list[str]] = defaultdict(list)
    for acronym, form in pairs:
        if (acronym, form) in shared:
            fitting[acronym].append(form)
    return [
        _edge(acronym, forms[0], "acronym", 1.0)
        for acronym, forms in sorted(fitting.items())
        if len(forms) == 1
    ]


def link_edges(
    links: Iterable[KeyLink], infos: Mapping[str, KeyInfo], threshold: float
) -> list[Edge]:
    """Stored similarity links between live keys of the region, at or above ``threshold``."""
    edges: list[Edge] = []
    for link in links:
        a, b = infos.get(link.a), infos.get(link.b)
        if a is None or b is None or link.score < threshold:
            continue
        if linkable(a.norm, a.type, b.norm, b.type):
            edges.append(_edge(a.key, b.key, "embedding", min(link.score, 1.0)))
    return edges


@dataclass
class Clustering:
    """The outcome of :func:`cluster`.

    Attributes:
        canonical: Key -> the canonical key of its group (itself when alone).
        joined: Key -> the edge that justifies its membership: its best direct edge to the
            canonical key when there is one, else the edge through which it joined.
    """

    canonical: dict[str, str] = field(default_factory=dict)
    joined: dict[str, Edge] = field(default_factory=dict)

    def groups(self) -> dict[str, list[str]]:
        """Canonical key -> its members (sorted, canonical included)."""
        out: dict[str, list[str]] = defaultdict(list)
        for key in sorted(self.canonical):
            out[self.canonical[key]].append(key)
        return dict(out)


class _Groups:
    """Union-find over keys that never mixes two entity types or an undone pair."""

    def __init__(self, infos: Mapping[str, KeyInfo], blocked: set[frozenset[str]]) -> None:
        self.parent = {k: k for k in infos}
        self.members: dict[str, set[str]] = {k: {k} for k in infos}
        self.typed: dict[str, str | None] = {
            k: None if is_generic(i.type) else i.type for k, i in infos.items()
        }
        self.blocked: dict[str, set[str]] = defaultdict(set)
        for pair in blocked:
            first, second = sorted(pair)
            self.blocked[first].add(second)
            self.blocked[second].add(first)

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, first: str, second: str) -> set[str] | None:
        """Join the groups of two keys; return the keys that were alone before, or ``None``."""
        ra, rb = self.find(first), self.find(second)
        if ra == rb:
            return None
        ta, tb = self.typed[ra], self.typed[rb]
        if ta is not None and tb is not None and ta != tb:
            return None
        small, large = sorted((self.members[ra], self.members[rb]), key=len)
        if any(not self.blocked[m].isdisjoint(large) for m in small if m in self.blocked):
            return None
        fresh = {m for m in (ra, rb) if len(self.members[m]) == 1}
        keep, gone = (ra, rb) if len(self.members[ra]) >= len(self.members[rb]) else (rb, ra)
        self.parent[gone] = keep
        self.members[keep] |= self.members.pop(gone)
        self.typed[keep] = ta or tb
        return fresh


def _order(edge: Edge, infos: Mapping[str, KeyInfo]) -> tuple[int, float, int, str, str]:
    support = infos[edge.a].support + infos[edge.b].support
    return (METHOD_RANK[edge.method], -edge.score, -support, edge.a, edge.b)


def cluster(
    infos: Mapping[str, KeyInfo], edges: Iterable[Edge], blocked: set[frozenset[str]]
) -> Clustering:
    """Group keys into entities (see the module docstring for the rules).

    Args:
        infos: The live keys of a region (every edge endpoint must be among them).
        edges: Evidence between keys.
        blocked: Pairs of keys whose merge was undone; they never share a group.

    Returns:
        The canonical key of every key and the edge each grouped key joined by.
    """
    groups = _Groups(infos, blocked)
    result = Clustering()
    ordered = sorted(edges, key=lambda e: _order(e, infos))
    for edge in ordered:
        fresh = groups.join(edge.a, edge.b)
        for key in fresh or ():
            result.joined.setdefault(key, edge)
    # every member of a group of two or more left its singleton group through exactly one
    # join, recorded above as the edge it joined by
    for members in groups.members.values():
        best = min(members, key=lambda k: (is_generic(infos[k].type), -infos[k].support, k))
        for key in members:
            result.canonical[key] = best
    direct: dict[str, Edge] = {}
    for edge in ordered:
        for key, other in ((edge.a, edge.b), (edge.b, edge.a)):
            if result.canonical[key] == other and key not in direct:
                direct[key] = edge
    result.joined.update(direct)
    return result


def entity_view(canonical: KeyInfo, members: Sequence[KeyInfo]) -> Entity:
    """The entity a group of keys becomes: the canonical key's id, type, name and vector.

    Aliases are the display names of the other members (sorted, without the entity's name).
    """
    name = canonical.name
    aliases = sorted({m.name for m in members if m.key != canonical.key} - {name})
    return Entity(
        id=canonical.key,
        name=name,
        type=canonical.type,
        aliases=aliases,
        embedding=canonical.embedding,
    )


def merge_records(clustering: Clustering, infos: Mapping[str, KeyInfo]) -> list[MergeRecord]:
    """One active merge record per grouped key that is not its group's canonical key."""
    records: list[MergeRecord] = []
    for key in sorted(clustering.canonical):
        canonical = clustering.canonical[key]
        if canonical == key:
            continue
        edge = clustering.joined[key]
        alias = infos[key]
        records.append(
            MergeRecord(
                id=merge_id(key, canonical),
                alias_id=key,
                alias_name=alias.name,
                alias_type=alias.type,
                canonical_id=canonical,
                score=edge.score,
                method=edge.method,
            )
        )
    return records
