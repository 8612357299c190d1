"""The deterministic grouping of keys into entities (pure functions, no store)."""

from __future__ import annotations

import itertools
import random
import time

import numpy as np

from graphrag.ids import entity_id, merge_id, normalize_name
from graphrag.models import ChunkExtraction, MergeRecord, RawMention
from graphrag.resolution.cluster import (
    Edge,
    acronym_edges,
    acronym_pairs,
    cluster,
    entity_view,
    link_edges,
    merge_records,
    type_edges,
)
from graphrag.resolution.keys import (
    initials,
    lexically_related,
    linkable,
    surface_rows,
    top_surface,
)
from graphrag.resolution.models import KeyInfo, KeyLink


def info(name: str, kind: str, support: int = 1, surfaces: dict[str, int] | None = None) -> KeyInfo:
    norm = normalize_name(name)
    return KeyInfo(
        key=entity_id(norm, kind),
        norm=norm,
        type=kind,
        support=support,
        surfaces=surfaces or {name: support},
        embedding=np.ones(4, dtype=np.float32) / 2,
    )


def grouped(*infos: KeyInfo) -> dict[str, KeyInfo]:
    return {i.key: i for i in infos}


def edge(first: str, second: str, method: str, score: float) -> Edge:
    a, b = sorted((first, second))
    return Edge(a, b, method, score)


def summary(records: list[MergeRecord]) -> list[tuple[str, str, str, float]]:
    return [(m.alias_id, m.canonical_id, m.method, m.score) for m in records]


def test_surface_rows_count_each_form_of_each_key() -> None:
    mentions = [
        RawMention(surface="Marie Curie", type="PERSON", start=0, end=11),
        RawMention(surface="marie curie", type="PERSON", start=20, end=31),
        RawMention(surface="Marie Curie", type="PERSON", start=40, end=51),
        RawMention(surface="...", type="ENTITY", start=60, end=63),
    ]
    rows = surface_rows(ChunkExtraction(chunk_id="c", mentions=mentions))
    assert [(r.surface, r.n) for r in rows] == [("Marie Curie", 2), ("marie curie", 1)]
    assert {r.key for r in rows} == {entity_id("marie curie", "PERSON")}
    assert surface_rows(None) == []


def test_top_surface_is_the_most_frequent_then_the_smallest() -> None:
    assert top_surface({"b": 2, "a": 2, "c": 1}, "x") == "a"
    assert top_surface({}, "fallback") == "fallback"


def test_initials_skip_function_words() -> None:
    assert initials("bank of england") == "BE"
    assert initials("national aeronautics and space administration") == "NASA"
    assert initials("paris") is None


def test_generic_key_adopts_the_best_supported_typed_one() -> None:
    person, country = info("Jordan", "PERSON", 5), info("Jordan", "GPE", 2)
    generic = info("JORDAN", "ENTITY", 9)
    keys = grouped(person, country, generic)
    result = cluster(keys, type_edges(keys), set())
    assert result.canonical[generic.key] == person.key
    assert result.canonical[country.key] == country.key  # incompatible types stay apart
    [record] = merge_records(result, keys)
    assert (record.alias_id, record.canonical_id, record.method) == (
        generic.key,
        person.key,
        "type",
    )
    assert record.id == merge_id(generic.key, person.key)


def test_a_generic_key_is_never_canonical_over_a_typed_one() -> None:
    title, person = info("Marie Curie", "TITLE", 10), info("Marie Curie", "PERSON", 1)
    keys = grouped(title, person)
    result = cluster(keys, type_edges(keys), set())
    assert result.canonical[title.key] == person.key
    view = entity_view(person, [title, person])
    assert (view.id, view.type, view.aliases) == (person.key, "PERSON", [])  # same name


def test_support_then_smaller_key_choose_the_canonical() -> None:
    a, b = info("Radium Institute", "ORG", 2), info("Radium Institutes", "ORG", 5)
    keys = grouped(a, b)
    edges = [edge(a.key, b.key, "embedding", 0.97)]
    assert cluster(keys, edges, set()).canonical[a.key] == b.key
    a.support = b.support = 3
    assert cluster(keys, edges, set()).canonical[a.key] == min(a.key, b.key)


def test_undone_pair_never_shares_a_group_even_through_a_chain() -> None:
    a, b, c = info("Radium Institute", "ORG"), info("Radium Inst", "ORG"), info("Radium", "ORG")
    keys = grouped(a, b, c)
    edges = [edge(a.key, b.key, "embedding", 0.96), edge(b.key, c.key, "embedding", 0.96)]
    result = cluster(keys, edges, {frozenset((a.key, c.key))})
    assert result.canonical[a.key] != result.canonical[c.key]


def test_result_does_not_depend_on_the_order_of_edges_or_keys() -> None:
    names = [
        ("Radium Institute", "ORG"), ("Radium Institutes", "ORG"),
        ("radium institute", "ENTITY"), ("Radium", "ENTITY"), ("Radium", "PRODUCT"),
        ("Radium", "ORG"),
    ]  # fmt: skip
    infos = [info(n, t, support=i + 1) for i, (n, t) in enumerate(names)]
    keys = grouped(*infos)
    edges = type_edges(keys) + [
        edge(x.key, y.key, "embedding", 0.95 + 0.001 * i)
        for i, (x, y) in enumerate(itertools.combinations(infos, 2))
        if linkable(x.norm, x.type, y.norm, y.type)
    ]
    expected = cluster(keys, edges, set())
    rng = random.Random(3)
    for _ in range(20):
        shuffled = list(edges)
        rng.shuffle(shuffled)
        items = list(keys.items())
        rng.shuffle(items)
        again = cluster(dict(items), shuffled, set())
        assert again.canonical == expected.canonical
        assert summary(merge_records(again, keys)) == summary(merge_records(expected, keys))


def test_acronym_pairs_need_capitals_and_matching_initials() -> None:
    long_form = info("National Aeronautics and Space Administration", "ORG")
    written = info("NASA", "ORG")
    lower = info("nasa", "ENTITY", surfaces={"nasa": 1})
    keys = grouped(long_form, written, lower)
    pairs = acronym_pairs(keys)
    assert pairs == [(written.key, long_form.key)]
    assert acronym_edges(pairs, set()) == []
    [edge] = acronym_edges(pairs, set(pairs))
    assert edge.method == "acronym"


def test_links_need_the_threshold_compatible_types_and_a_shared_trigram() -> None:
    a, b = info("Radium Institute", "ORG"), info("Radium Institutes", "ORG")
    person, place = info("Paris", "PERSON"), info("Paris", "GPE")
    thai, cherokee = info("วิกฤตต้มยำกุ้ง", "ENTITY"), info("ᏔᎾᏏ", "ENTITY")
    keys = grouped(a, b, person, place, thai, cherokee)
    links = [
        KeyLink(a=min(a.key, b.key), b=max(a.key, b.key), score=0.97),
        KeyLink(a=min(person.key, place.key), b=max(person.key, place.key), score=1.0),
        KeyLink(a=min(thai.key, cherokee.key), b=max(thai.key, cherokee.key), score=1.0),
    ]
    edges = link_edges(links, keys, threshold=0.95)
    assert [(e.a, e.b) for e in edges] == [(min(a.key, b.key), max(a.key, b.key))]
    assert link_edges(links, keys, threshold=0.98) == []
    assert not lexically_related(thai.norm, cherokee.norm)


def test_many_keys_cluster_quickly() -> None:
    rng = random.Random(1)
    infos = [
        info(f"Entity {i} {rng.randrange(10**6)}", "ORG" if i % 2 else "ENTITY")
        for i in range(20000)
    ]
    keys = grouped(*infos)
    edges = [edge(infos[i].key, infos[i + 1].key, "embedding", 0.96) for i in range(0, 19999, 3)]
    started = time.perf_counter()
    result = cluster(keys, edges + type_edges(keys), set())
    assert time.perf_counter() - started < 5
    assert len(result.canonical) == 20000
