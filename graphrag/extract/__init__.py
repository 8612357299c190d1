"""Entity and relation extraction tiers.

``spacy`` (:class:`graphrag.extract.spacy_extractor.SpacyExtractor`) is the offline default.
Importing this package loads no model and does not import spaCy; import the tier module when
it is chosen.
"""

from __future__ import annotations

from graphrag.extract.types import (
    CONCEPT,
    ENTITY,
    GENERIC_TYPES,
    NER_TYPES,
    TITLE,
    compatible,
    is_generic,
)

__all__ = ["CONCEPT", "ENTITY", "GENERIC_TYPES", "NER_TYPES", "TITLE", "compatible", "is_generic"]
