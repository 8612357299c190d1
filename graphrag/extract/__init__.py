"""Entity and relation extraction tiers (``extraction.tier``).

- ``spacy`` (:class:`graphrag.extract.spacy_extractor.SpacyExtractor`): the offline default.
- ``llm`` (:class:`graphrag.extract.llm_extractor.LLMExtractor`): the configured chat model on
  every chunk, guided by an ontology (:mod:`graphrag.extract.ontology`); see docs/llm.md.
- ``tiered`` (:class:`graphrag.extract.tiered.TieredExtractor`): spaCy on every chunk, the
  LLM on the chunks a rule picks, merged with provenance.

:func:`graphrag.extract.factory.build_extractor` builds the configured one. Importing this
package loads no model and imports neither spaCy nor LangChain; import the tier module when
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
