"""Acronyms join one long form only when the choice is unambiguous."""

from __future__ import annotations

import numpy as np

from graphrag.ids import entity_id, normalize_name
from graphrag.resolution.cluster import acronym_edges, acronym_pairs, cluster, type_edges
from graphrag.resolution.models import KeyInfo


def info(name: str, kind: str) -> KeyInfo:
    norm = normalize_name(name)
    return KeyInfo(key=entity_id(norm, kind), norm=norm, type=kind, support=1,
                   surfaces={name: 1}, embedding=np.ones(4, dtype=np.float32) / 2)  # fmt: skip


def grouped(*infos: KeyInfo) -> dict[str, KeyInfo]:
    return {i.key: i for i in infos}


def test_an_acronym_with_several_fitting_long_forms_joins_none() -> None:
    pa = info("PA", "ENTITY")
    forms = [info("Press Association", "ORG"), info("Prince Albert", "PERSON"),
             info("Peter Alexander", "PERSON")]  # fmt: skip
    keys = grouped(pa, *forms)
    pairs = acronym_pairs(keys)
    edges = acronym_edges(pairs, set(pairs))  # all mentioned together in one document
    assert edges == []
    result = cluster(keys, type_edges(keys) + edges, set())
    assert len(set(result.canonical.values())) == 4  # nothing merged: no false facts


def test_a_noun_phrase_is_never_a_long_form() -> None:
    pa, phrase = info("PA", "ENTITY"), info("public areas", "CONCEPT")
    press = info("Press Association", "ORG")
    keys = grouped(pa, phrase, press)
    pairs = acronym_pairs(keys)
    assert (pa.key, phrase.key) not in pairs
    [edge] = acronym_edges(pairs, set(pairs))
    assert {edge.a, edge.b} == {pa.key, press.key}


def test_two_long_forms_never_meet_through_one_acronym() -> None:
    lp = info("LP", "ENTITY")
    parry, parrish = info("Lorae Parry", "PERSON"), info("Leslie Parrish", "PERSON")
    keys = grouped(lp, parry, parrish)
    pairs = acronym_pairs(keys)
    result = cluster(keys, acronym_edges(pairs, set(pairs)), set())
    assert result.canonical[parry.key] != result.canonical[parrish.key]


def test_the_fitting_long_form_must_share_a_document() -> None:
    nasa = info("NASA", "ORG")
    long_form = info("National Aeronautics and Space Administration", "ORG")
    other = info("North American Sheet Association", "ORG")
    keys = grouped(nasa, long_form, other)
    pairs = acronym_pairs(keys)
    shared = {(nasa.key, long_form.key)}  # only this one is ever in a document with NASA
    [edge] = acronym_edges(pairs, shared)
    assert {edge.a, edge.b} == {nasa.key, long_form.key}
