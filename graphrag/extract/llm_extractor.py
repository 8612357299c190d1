"""The LLM extraction tier: a schema-guided graph per chunk from the configured chat model.

:class:`LLMExtractor` implements the :class:`~graphrag.ports.Extractor` port. For each chunk
it asks the model (through an engine, see :mod:`.llm_engines`) for the nodes and
relationships of the ontology's types, then maps them onto the chunk's raw mentions (with
character spans) and relations (with the evidence sentence), ``extractor="llm"`` (see
:mod:`.llm_mapping`). Every call goes through the chat-model stack: persistent cache, usage
meter and budget, retries on 429/5xx/timeouts, bounded concurrency.

Bad output never stops a batch: a malformed reply is retried ``extraction.llm_retries``
times with the failure added to the prompt; after that the chunk's extraction comes back
**empty with ``error`` set** (logged, counted in :attr:`LLMExtractor.stats`), and the other
chunks go on. Errors that retrying the chunk cannot fix are raised: a wrong key or model
(:class:`~graphrag.llm.errors.LLMConfigError`), an endpoint still failing after the
stack's retries, and the budget (:class:`~graphrag.llm.errors.BudgetExceededError`). On a
budget stop no new call starts, the calls in flight finish (and are cached), then the error
is raised: a rerun replays the finished chunks from the cache for free and continues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphrag.config import ExtractionSettings
from graphrag.extract.llm_engines import Engine, Failure, Request, make_engine
from graphrag.extract.llm_mapping import LLM, to_extraction
from graphrag.extract.llm_parse import MalformedOutputError
from graphrag.extract.ontology import Ontology
from graphrag.llm.base import ChatMessage, ChatModel, usage_tag
from graphrag.llm.errors import BudgetExceededError
from graphrag.llm.usage import UsageMeter
from graphrag.models import Chunk, ChunkExtraction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkOutcome:
    """What LLM extraction made of one chunk (see :class:`ExtractionStats`)."""

    retries: int = 0
    mentions: int = 0
    relations: int = 0
    dropped_nodes: int = 0
    dropped_relations: int = 0
    ungrounded: int = 0
    error: str | None = None


@dataclass
class ExtractionStats:
    """What LLM extraction did in this extractor's lifetime (one run of a command).

    Counted once per chunk, however often a chunk was extracted (a builder that retries a
    batch document by document extracts its chunks again, from the cache).

    Attributes:
        outcomes: Per chunk id, the outcome of its last extraction.
        unsent: Chunk ids left out because the budget stopped the run.
        budget_stop: The budget error's message, if the budget stopped the run.
    """

    outcomes: dict[str, ChunkOutcome] = field(default_factory=dict)
    unsent: set[str] = field(default_factory=set)
    budget_stop: str | None = None

    def _sum(self, name: str) -> int:
        return sum(int(getattr(o, name)) for o in self.outcomes.values())

    @property
    def chunks(self) -> int:
        """Chunks the LLM extracted (parsed or failed)."""
        return len(self.outcomes)

    @property
    def parsed(self) -> int:
        """Chunks whose reply was used (after retries if needed)."""
        return sum(1 for o in self.outcomes.values() if o.error is None)

    @property
    def failed(self) -> int:
        """Chunks recorded as failed (malformed after every retry)."""
        return self.chunks - self.parsed

    @property
    def failures(self) -> list[tuple[str, str]]:
        """``(chunk id, reason)`` of the failed chunks."""
        return [(c, o.error) for c, o in self.outcomes.items() if o.error is not None]

    @property
    def not_sent(self) -> int:
        """Chunks the budget kept from the LLM (and not extracted since)."""
        return len(self.unsent - self.outcomes.keys())

    @property
    def retries(self) -> int:
        """Extra calls made because a reply was malformed."""
        return self._sum("retries")

    @property
    def mentions(self) -> int:
        """Mentions kept."""
        return self._sum("mentions")

    @property
    def relations(self) -> int:
        """Relations kept."""
        return self._sum("relations")

    @property
    def dropped_nodes(self) -> int:
        """Nodes of types outside the ontology (strict mode)."""
        return self._sum("dropped_nodes")

    @property
    def dropped_relations(self) -> int:
        """Relations outside the ontology, or with an endpoint left out."""
        return self._sum("dropped_relations")

    @property
    def ungrounded(self) -> int:
        """Nodes whose name is not in the chunk text (dropped)."""
        return self._sum("ungrounded")


class LLMExtractor:
    """Extractor backed by a chat model and an ontology (``extraction.tier = llm``).

    Args:
        model: The chat model, built by :func:`graphrag.llm.make_chat_model` (cache, meter,
            budget, retries); tests wrap a :class:`~graphrag.llm.ScriptedChatModel`.
        ontology: The allowed node and relation types.
        settings: Extraction settings (engine, strict mode, reply limit, retries).
        temperature: Sampling temperature (``llm.temperature``).
        concurrency: Chunks in flight at once (``llm.max_concurrency``): a chunk reserves
            its budget only when it starts, so queued chunks do not hold budget.

    Example:
        ```python
        model = make_chat_model(settings)
        extractor = LLMExtractor(model, load_ontology(path), settings.extraction)
        extractions = await extractor.extract(chunks)
        extractor.stats.failed, extractor.meter.totals().calls
        ```
    """

    def __init__(
        self,
        model: ChatModel,
        ontology: Ontology,
        settings: ExtractionSettings,
        *,
        temperature: float = 0.0,
        concurrency: int = 4,
    ) -> None:
        self.model = model
        self.ontology = ontology
        self._settings = settings
        request = Request(settings.llm_max_tokens, temperature, settings.llm_json_mode)
        self.engine: Engine = make_engine(
            settings.llm_engine, ontology, request, strict=settings.strict_mode
        )
        self._concurrency = max(concurrency, 1)
        self.stats = ExtractionStats()

    @property
    def name(self) -> str:
        """The tier's name: ``llm``."""
        return LLM

    @property
    def meter(self) -> UsageMeter | None:
        """The usage meter of the model's stack (calls, tokens, cost), if it has one."""
        meter = getattr(self.model, "meter", None)
        return meter if isinstance(meter, UsageMeter) else None

    def prompts(self, chunks: Sequence[Chunk]) -> list[list[ChatMessage]]:
        """The first call's messages for each chunk (what a dry run estimates)."""
        return [self.engine.messages(chunk.text) for chunk in chunks]

    async def check(self) -> None:
        """Validate the endpoint, key and model with one cheap request (start-up check)."""
        await self.model.check()

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        """Extract every chunk, at most ``concurrency`` at a time.

        Returns:
            One extraction per chunk, in order; a chunk whose reply stayed malformed has
            none of its own mentions and ``error`` set.

        Raises:
            BudgetExceededError: If the budget stopped the run (after the calls in flight).
            LLMError: If the model cannot be used (configuration, endpoint down).
        """
        semaphore = asyncio.Semaphore(self._concurrency)
        errors: list[Exception] = []

        async def one(chunk: Chunk) -> ChunkExtraction | None:
            async with semaphore:
                if errors:
                    return None
                try:
                    with usage_tag(chunk.document_id):
                        return await self._chunk(chunk)
                except Exception as exc:  # raised below, once the calls in flight are done
                    errors.append(exc)
                    return None

        results = await asyncio.gather(*(one(chunk) for chunk in chunks))
        if errors:
            raise self._stopped(errors, chunks, results)
        return [r for r in results if r is not None]

    def _stopped(
        self,
        errors: list[Exception],
        chunks: Sequence[Chunk],
        results: Sequence[ChunkExtraction | None],
    ) -> Exception:
        fatal = [e for e in errors if not isinstance(e, BudgetExceededError)]
        if fatal:
            return fatal[0]
        missing = [c.id for c, r in zip(chunks, results, strict=True) if r is None]
        self.stats.unsent.update(missing)
        self.stats.budget_stop = str(errors[0])
        logger.warning(
            "LLM budget reached: %d of %d chunks extracted, %d not sent",
            len(chunks) - len(missing), len(chunks), len(missing),
        )  # fmt: skip
        return errors[0]

    async def _chunk(self, chunk: Chunk) -> ChunkExtraction:
        """One chunk: call, parse, retry a malformed reply, map; or record the failure."""
        tries = self._settings.llm_retries + 1
        failures: list[Failure] = []
        for attempt in range(tries):
            try:
                graph = await self.engine.run(self.model, chunk.text, failures)
            except MalformedOutputError as exc:
                failures.append(Failure(exc.reply, exc.reason))
                logger.info(
                    "chunk %s: malformed LLM reply (try %d of %d): %s",
                    chunk.id, attempt + 1, tries, exc.reason,
                )  # fmt: skip
                continue
            mapped = to_extraction(
                chunk.id, chunk.text, graph, self.ontology, strict=self._settings.strict_mode
            )
            self.stats.outcomes[chunk.id] = ChunkOutcome(
                retries=attempt,
                mentions=len(mapped.extraction.mentions),
                relations=len(mapped.extraction.relations),
                dropped_nodes=mapped.dropped_nodes,
                dropped_relations=mapped.dropped_relations,
                ungrounded=mapped.ungrounded,
            )
            return mapped.extraction
        reason = f"LLM reply unusable after {tries} tries: {failures[-1].reason}"
        logger.warning(
            "chunk %s of document %s: %s; recorded as failed, the batch goes on",
            chunk.id, chunk.document_id, reason,
        )  # fmt: skip
        self.stats.outcomes[chunk.id] = ChunkOutcome(retries=tries - 1, error=reason)
        return ChunkExtraction(chunk_id=chunk.id, error=reason)
