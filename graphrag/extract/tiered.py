"""The tiered mode: spaCy on every chunk, the LLM only on the chunks a rule picks.

``extraction.tier = tiered``. spaCy runs first on every chunk; the rule then picks chunks
for the LLM from what spaCy found (:func:`select_chunks`):

- ``extraction.llm_min_entities`` = N: chunks where spaCy found at least N distinct named
  entities (mentions that are not noun-phrase ``CONCEPT``s or ``TITLE`` lines);
- ``extraction.llm_top_share`` = s: of each document's chunks, the ``ceil(s x n)`` with the
  highest entity density (distinct named entities per 100 tokens; ties: earlier chunk).

With both set a chunk needs both. The two extractions of a picked chunk are merged
(:func:`merge_extractions`) with provenance: every mention and relation keeps its
``extractor`` (``spacy`` or ``llm``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from graphrag.config import ExtractionSettings
from graphrag.extract.llm_extractor import ExtractionStats, LLMExtractor
from graphrag.extract.types import CONCEPT, TITLE
from graphrag.ids import normalize_name
from graphrag.models import Chunk, ChunkExtraction, RawMention
from graphrag.ports import Extractor
from graphrag.resolution.keys import mention_key


def named_entities(extraction: ChunkExtraction) -> int:
    """Distinct named entities (normalised name and type) of an extraction.

    ``CONCEPT`` (noun phrases) and ``TITLE`` mentions do not count.
    """
    keys = {
        (normalize_name(m.surface), m.type)
        for m in extraction.mentions
        if m.type not in (CONCEPT, TITLE) and normalize_name(m.surface)
    }
    return len(keys)


def density(chunk: Chunk, extraction: ChunkExtraction) -> float:
    """Distinct named entities per 100 tokens of the chunk."""
    return 100.0 * named_entities(extraction) / max(chunk.token_count, 1)


def select_chunks(
    chunks: Sequence[Chunk],
    extractions: Sequence[ChunkExtraction],
    *,
    min_entities: int | None,
    top_share: float | None,
) -> list[int]:
    """Indexes of the chunks the LLM should read (see the module docstring).

    Example:
        ```python
        # four chunks of one document, 100 tokens each, with 1, 4, 2 and 0 named entities
        select_chunks(chunks, found, min_entities=2, top_share=None)  # [1, 2]
        select_chunks(chunks, found, min_entities=None, top_share=0.25)  # [1]
        ```
    """
    picked = [
        i
        for i, found in enumerate(extractions)
        if min_entities is None or named_entities(found) >= min_entities
    ]
    if top_share is None:
        return picked
    by_document: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_document.setdefault(chunk.document_id, []).append(i)
    top: set[int] = set()
    for indexes in by_document.values():
        ranked = sorted(
            indexes, key=lambda i: (-density(chunks[i], extractions[i]), chunks[i].ordinal)
        )
        top.update(ranked[: math.ceil(top_share * len(indexes))])
    return [i for i in picked if i in top]


def merge_extractions(base: ChunkExtraction, extra: ChunkExtraction) -> ChunkExtraction:
    """Merge the LLM's extraction of a chunk into spaCy's.

    - One mention per name and place: an LLM mention of a name whose span overlaps a spaCy
      mention of the same name (``the Lantern Bridge`` / ``Lantern Bridge``) is not added.
    - One type per name: where the LLM typed a name (with the ontology's types), spaCy's
      mentions of that name in the chunk take the LLM's type (a schema-guided type wins over
      the small NER model's guess) and keep ``extractor="spacy"``.
    - Relations keep their extractor; an LLM relation equal to one already there (same
      endpoints and predicate) is dropped. ``error`` is the LLM's.
    """
    llm_types = {
        key: m.type for m in extra.mentions if (key := normalize_name(m.surface)) and m.type
    }
    mentions: list[RawMention] = []
    for mention in base.mentions:
        typed = llm_types.get(normalize_name(mention.surface))
        if typed is not None and typed != mention.type and not _keeps_own_type(mention):
            mention = mention.model_copy(update={"type": typed})
        mentions.append(mention)
    remap: list[int] = []
    for mention in extra.mentions:
        index = _same_place(mentions, mention)
        if index is None:
            index = len(mentions)
            mentions.append(mention)
        remap.append(index)
    relations = list(base.relations)
    seen = {(r.subject, r.predicate, r.object) for r in relations}
    for relation in extra.relations:
        subject, obj = remap[relation.subject], remap[relation.object]
        if (subject, relation.predicate, obj) in seen or subject == obj:
            continue
        seen.add((subject, relation.predicate, obj))
        relations.append(relation.model_copy(update={"subject": subject, "object": obj}))
    return ChunkExtraction(
        chunk_id=base.chunk_id, mentions=mentions, relations=relations, error=extra.error
    )


def _keeps_own_type(mention: RawMention) -> bool:
    """A title line stays a title: it names the document, not what the LLM typed."""
    return mention.type == TITLE


def _same_place(mentions: Sequence[RawMention], mention: RawMention) -> int | None:
    """Index of a mention with the same key whose span overlaps ``mention``'s."""
    key = mention_key(mention)
    for index, other in enumerate(mentions):
        if other.start < mention.end and mention.start < other.end and mention_key(other) == key:
            return index
    return None


class TieredExtractor:
    """spaCy on every chunk, the LLM on the chunks the rule picks (``extraction.tier``).

    Args:
        spacy: The spaCy extractor.
        llm: The LLM extractor.
        settings: ``llm_min_entities`` and ``llm_top_share``.
    """

    def __init__(self, spacy: Extractor, llm: LLMExtractor, settings: ExtractionSettings) -> None:
        self.spacy = spacy
        self.llm = llm
        self._settings = settings
        self.considered = 0
        """Chunks spaCy extracted (the LLM read :attr:`stats` ``.chunks`` of them)."""

    @property
    def name(self) -> str:
        """The tier's name: ``tiered``."""
        return "tiered"

    @property
    def stats(self) -> ExtractionStats:
        """The LLM extractor's statistics."""
        return self.llm.stats

    def select(self, chunks: Sequence[Chunk], found: Sequence[ChunkExtraction]) -> list[int]:
        """Indexes of the chunks the LLM reads, given spaCy's extractions."""
        return select_chunks(
            chunks,
            found,
            min_entities=self._settings.llm_min_entities,
            top_share=self._settings.llm_top_share,
        )

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        """Run spaCy on every chunk and the LLM on the picked ones; merge.

        Raises:
            BudgetExceededError: If the budget stopped the LLM (see :class:`LLMExtractor`).
            LLMError: If the model cannot be used.
            ExtractionError: If spaCy fails.
        """
        found = await self.spacy.extract(chunks)
        self.considered += len(chunks)
        picked = self.select(chunks, found)
        extra = await self.llm.extract([chunks[i] for i in picked])
        merged = list(found)
        for index, extraction in zip(picked, extra, strict=True):
            merged[index] = merge_extractions(found[index], extraction)
        return merged
