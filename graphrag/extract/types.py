"""Coarse entity types and which of them may be merged.

Extractors keep spaCy's NER labels as types (``PERSON``, ``ORG``, ``GPE``, ``LOC``, ``NORP``,
``FAC``, ``EVENT``, ``WORK_OF_ART``, ``LAW``, ``LANGUAGE``, ``PRODUCT``) and add three generic
ones: ``ENTITY`` (an unlabelled proper-noun run), ``CONCEPT`` (a noun phrase that is a relation
argument) and ``TITLE`` (a document or section title). A generic type is compatible with every
type; two typed entities are compatible only when their types are equal.
"""

from __future__ import annotations

ENTITY = "ENTITY"
CONCEPT = "CONCEPT"
TITLE = "TITLE"

GENERIC_TYPES: frozenset[str] = frozenset({ENTITY, CONCEPT, TITLE})
"""Types that carry no NER label and may adopt a typed entity's identity."""

NER_TYPES: frozenset[str] = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "NORP",
        "FAC",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
        "PRODUCT",
    }
)
"""spaCy's (OntoNotes) non-numeric entity labels, kept as entity types."""


def is_generic(entity_type: str) -> bool:
    """Return whether ``entity_type`` is one of the generic types (ENTITY, CONCEPT, TITLE)."""
    return entity_type in GENERIC_TYPES


def compatible(first: str, second: str) -> bool:
    """Return whether entities of these two types may be merged.

    Args:
        first: A coarse type.
        second: Another coarse type.

    Returns:
        ``True`` if the types are equal or at least one of them is generic.

    Example:
        >>> compatible("PERSON", "ENTITY"), compatible("PERSON", "ORG")
        (True, False)
    """
    return first == second or first in GENERIC_TYPES or second in GENERIC_TYPES
