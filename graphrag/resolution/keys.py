"""Resolution keys: one per (normalised name, type), the unit entity resolution works on.

A *key* is ``entity_id(normalize_name(surface), type)``: the id an entity gets when nothing
merges it. Stores index, for every chunk, the keys its extraction mentions and how often
each surface form occurs (:func:`surface_rows`); resolution reads those counts to choose
canonical entities and their names, so the result depends only on what is stored, never on
the order in which documents arrived.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from graphrag.extract.types import CONCEPT, compatible
from graphrag.ids import entity_id, normalize_name
from graphrag.models import ChunkExtraction, RawMention

_ACRONYM = re.compile(r"[A-Z]{2,6}")
_ACRONYM_NORM = re.compile(r"[a-z]{2,6}")
_ACRONYM_SKIP = frozenset({"of", "the", "and", "for"})
_WORDS = re.compile(r"[^\W\d_][\w']*")


@dataclass(frozen=True)
class SurfaceRow:
    """How often one surface form of one key occurs in one chunk.

    Attributes:
        key: The resolution key.
        norm: The normalised name.
        type: The extracted type.
        surface: The surface form as written (stripped).
        n: Occurrences in the chunk.
    """

    key: str
    norm: str
    type: str
    surface: str
    n: int


def mention_key(raw: RawMention) -> str | None:
    """Return the key of a raw mention (``None`` if its name normalises to nothing)."""
    norm = normalize_name(raw.surface)
    return entity_id(norm, raw.type) if norm else None


def surface_rows(extraction: ChunkExtraction | None) -> list[SurfaceRow]:
    """Count the surface forms of every key an extraction mentions.

    Args:
        extraction: One chunk's extraction (``None``: nothing).

    Returns:
        One row per (key, surface), in order of first appearance.
    """
    if extraction is None:
        return []
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for raw in extraction.mentions:
        norm = normalize_name(raw.surface)
        if norm:
            counts[(entity_id(norm, raw.type), norm, raw.type, raw.surface.strip())] += 1
    return [SurfaceRow(k, norm, kind, surface, n) for (k, norm, kind, surface), n in counts.items()]


def top_surface(surfaces: Mapping[str, int], default: str) -> str:
    """Return the most frequent surface form (ties: the smallest string), or ``default``."""
    if not surfaces:
        return default
    return min(surfaces.items(), key=lambda item: (-item[1], item[0]))[0]


def initials(name: str) -> str | None:
    """Return the acronym a multi-word name abbreviates to, or ``None``.

    ``of``, ``the``, ``and`` and ``for`` are skipped: ``"Bank of England"`` -> ``"BE"``.
    Only acronyms of 2 to 6 letters are returned.

    Example:
        >>> initials("National Aeronautics and Space Administration"), initials("Paris")
        ('NASA', None)
    """
    words = [w for w in _WORDS.findall(name) if w.lower() not in _ACRONYM_SKIP]
    if len(words) < 2 or len(words) > 6:
        return None
    return "".join(w[0] for w in words).upper()


def is_acronym(surface: str) -> bool:
    """Whether a surface form is written as an acronym (2 to 6 capital letters)."""
    return _ACRONYM.fullmatch(surface) is not None


def acronym_norm(norm: str) -> bool:
    """Whether a normalised name could be an acronym (2 to 6 letters, one word)."""
    return _ACRONYM_NORM.fullmatch(norm) is not None


def embeddable(entity_type: str, *, embed_concepts: bool) -> bool:
    """Whether names of this type get an embedding (noun phrases only on request)."""
    return embed_concepts or entity_type != CONCEPT


def _trigrams(norm: str) -> set[str]:
    padded = f" {norm} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def lexically_related(first: str, second: str) -> bool:
    """Whether two normalised names share a character trigram.

    Guards embedding merges against names the model cannot read: MiniLM maps text in
    scripts it does not know to the same unknown tokens, so unrelated names get cosine 1.0.
    """
    return not _trigrams(first).isdisjoint(_trigrams(second))


def linkable(norm_a: str, type_a: str, norm_b: str, type_b: str) -> bool:
    """Whether two keys may be joined by name similarity (compatible types, shared trigram)."""
    return compatible(type_a, type_b) and lexically_related(norm_a, norm_b)
