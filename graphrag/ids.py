"""Deterministic identifiers and name normalisation.

Every identifier is a short hex digest with a one-letter prefix, so it is a valid ArangoDB
``_key`` (only ``[A-Za-z0-9_]``, well under 254 bytes) and re-running a pipeline produces the
same ids.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"(?:'s|'|’s|’)(?=\s|$)")
_PUNCT = re.compile(r"[^\w\s&+-]")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_KEY_OK = re.compile(r"^[A-Za-z0-9_\-.@()+,=;$!*'%]{1,254}$")


def digest(*parts: str, size: int = 32) -> str:
    """Return a hex digest of the joined parts.

    Args:
        *parts: Strings to hash; joined with a unit separator so ``("a", "bc")`` and
            ``("ab", "c")`` differ.
        size: Number of hex characters to keep.

    Returns:
        A lower-case hex string of ``size`` characters.
    """
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8"), usedforsecurity=False)
    return h.hexdigest()[:size]


def content_hash(text: str) -> str:
    """Return the SHA-256 hex digest of a text, used to detect changed documents."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_name(name: str) -> str:
    """Normalise an entity name for identity and matching.

    Applies NFKC, case folding, possessive and punctuation stripping, a leading article drop
    and whitespace collapsing: ``"The  Beatles'"`` and ``"the beatles"`` normalise alike.

    Args:
        name: A surface form.

    Returns:
        The normalised name (may be empty if the name was only punctuation).

    Example:
        >>> normalize_name("The  Beatles'"), normalize_name("Marie Curie’s")
        ('beatles', 'marie curie')
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    text = text.replace("’", "'")
    text = _POSSESSIVE.sub("", text)
    text = _PUNCT.sub(" ", text)
    text = _WS.sub(" ", text).strip()
    text = _LEADING_ARTICLE.sub("", text)
    return text


def document_id(source: str) -> str:
    """Return the id of a document from its source URI (path, URL or dataset key).

    Example:
        >>> document_id("notes.txt")
        'd_83348d283c1ba0b3b4d55fdc04c39a16'
    """
    return "d_" + digest(source)


def chunk_id(doc_id: str, ordinal: int) -> str:
    """Return the id of the ``ordinal``-th chunk of a document."""
    return "c_" + digest(doc_id, str(ordinal))


def entity_id(normalized_name: str, entity_type: str) -> str:
    """Return the id of an entity from its normalised name and type (case-insensitive).

    Example:
        >>> entity_id("marie curie", "person") == entity_id("marie curie", "PERSON")
        True
    """
    return "e_" + digest(normalized_name, entity_type.upper())


def relation_id(source_id: str, predicate: str, target_id: str) -> str:
    """Return the id of a relation from its endpoints and predicate."""
    return "r_" + digest(source_id, predicate, target_id)


def mention_id(chunk: str, entity: str) -> str:
    """Return the id of the mention edge between a chunk and an entity."""
    return "m_" + digest(chunk, entity)


def merge_id(alias_id: str, canonical_id: str) -> str:
    """Return the id of a merge record."""
    return "x_" + digest(alias_id, canonical_id)


def is_valid_key(key: str) -> bool:
    """Return whether ``key`` is a valid ArangoDB document key.

    Keys are 1-254 bytes of ``A-Z a-z 0-9 _ - . @ ( ) + , = ; $ ! * ' % :``; this check also
    rejects ``:`` because SmartGraphs reserve it.

    Example:
        >>> is_valid_key("e_1f3a"), is_valid_key("a:b"), is_valid_key("a/b")
        (True, False, False)
    """
    return bool(_KEY_OK.match(key))
