"""The evaluation job: index a dataset corpus, run every retrieval mode, score it.

The corpus is indexed into ``<out>/index.db`` (an embedded store) through the normal
:class:`~graphrag.build.GraphBuilder`. With ``reuse_index`` an existing index is kept when it
was built from exactly the same passages (recorded in ``<out>/index.json``); the builder then
skips every unchanged document. Otherwise the index is rebuilt from scratch, so extra passages
from an earlier, larger run never leak into the rankings.

Each question is retrieved with ``top_k=10`` (more when chunks of the same passage leave fewer
than 10 distinct passages); chunks map to their passages, keeping each passage's best rank.
Latency is the wall time of ``retrieve()`` after one untimed warm-up query per mode.

With ``answers`` (the default) each question is also answered by the extractive answerer
from its first context (outside the timed part), recording the answer's relevance and whether
it abstained under ``answer.min_relevance``: every dev-set question has an answer, so a mode
that abstains on some shows a relevance floor set too high (or a retrieval regression).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphrag.answer.extractive import ExtractiveAnswerer, abstained
from graphrag.build import IngestReport
from graphrag.config import EmbeddedStoreSettings, Settings, StoreKind
from graphrag.errors import EvaluationError, GraphRAGError
from graphrag.evaluation import EvalDataset, ModeScores, dedupe_ranking, score_mode
from graphrag.models import RetrievalMode, RetrievedContext
from graphrag.operations.ingest import ProgressCallback, ingest_documents
from graphrag.runtime import Components

logger = logging.getLogger(__name__)

ComponentOpener = Callable[[Settings], Awaitable[Components]]
PASSAGES = 10
_MAX_TOP_K = 40
_EVAL_TOKEN_BUDGET = 200_000


@dataclass
class QuestionResult:
    """One question's ranking under one mode.

    Attributes:
        id: The question id.
        gold: Gold passage (document) ids.
        ranking: Retrieved passage ids, best first.
        latency_ms: Retrieval wall time.
        error: Why retrieval failed, if it did.
        relevance: The extractive answer's relevance score (``None``: not answered, or no
            usable sentence).
        abstained: Whether the extractive answer abstained (relevance below the floor).
    """

    id: str
    gold: list[str]
    ranking: list[str]
    latency_ms: float
    error: str | None = None
    relevance: float | None = None
    abstained: bool = False


@dataclass
class EvalRun:
    """Everything an evaluation produced (written by :mod:`pipelines.report`)."""

    dataset: str
    questions: int
    passages: int
    out_dir: Path
    index: IngestReport
    index_reused: bool
    scores: list[ModeScores] = field(default_factory=list)
    details: dict[str, list[QuestionResult]] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (scores as fractions, latencies in milliseconds)."""
        return {
            "dataset": self.dataset,
            "created_at": self.created_at,
            "questions": self.questions,
            "passages": self.passages,
            "index": {
                "path": str(self.out_dir / "index.db"),
                "reused": self.index_reused,
                "written": self.index.written,
                "unchanged": self.index.unchanged,
                "failed": [list(f) for f in self.index.failed],
                "chunks": self.index.chunks,
                "seconds": round(self.index.seconds, 3),
            },
            "modes": [s.to_dict() for s in self.scores],
            "per_question": {
                mode: [vars(r) for r in results] for mode, results in self.details.items()
            },
        }


def eval_settings(settings: Settings, out_dir: Path) -> Settings:
    """Return ``settings`` for an evaluation run.

    The store is ``<out>/index.db`` (embedded), the context budget is unlimited (rankings are
    cut by passage count, not tokens) and the query-embedding cache is off, so each mode's
    latency includes encoding the question even after another mode has seen it.
    """
    retrieval = settings.retrieval.model_copy(update={"token_budget": _EVAL_TOKEN_BUDGET})
    embedding = settings.embedding.model_copy(update={"cache_size": 0})
    return settings.model_copy(
        update={
            "store": StoreKind.EMBEDDED,
            "embedded": EmbeddedStoreSettings(path=out_dir / "index.db"),
            "retrieval": retrieval,
            "embedding": embedding,
        }
    )


def parse_modes(text: str | Sequence[str] | None) -> list[RetrievalMode]:
    """Parse ``"naive,bm25"`` (or a list) into modes; ``None`` means all five.

    Raises:
        EvaluationError: If a mode is unknown.
    """
    if text is None:
        return list(RetrievalMode)
    names = text.split(",") if isinstance(text, str) else list(text)
    modes: list[RetrievalMode] = []
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            modes.append(RetrievalMode(name))
        except ValueError as exc:
            allowed = ", ".join(m.value for m in RetrievalMode)
            msg = f"unknown retrieval mode {name!r}; choose from {allowed}"
            raise EvaluationError(msg) from exc
    if not modes:
        msg = "no retrieval mode given; pass e.g. --modes naive,ppr"
        raise EvaluationError(msg)
    return list(dict.fromkeys(modes))


async def run_eval(
    dataset: EvalDataset,
    *,
    settings: Settings,
    opener: ComponentOpener,
    out_dir: Path,
    modes: Sequence[RetrievalMode] = tuple(RetrievalMode),
    reuse_index: bool = True,
    answers: bool = True,
    index_progress: ProgressCallback | None = None,
    query_progress: ProgressCallback | None = None,
) -> EvalRun:
    """Index the corpus, run every mode over every question and score the rankings.

    Args:
        dataset: The (possibly sliced) dataset.
        settings: The base settings; the store is replaced by ``<out>/index.db``.
        opener: Builds components from settings (``graphrag.runtime.open_components``).
        out_dir: Output folder (created).
        modes: Retrieval modes to score.
        reuse_index: Keep an existing index built from the same passages.
        answers: Also answer every question (untimed) and count abstentions per mode.
        index_progress: Callback ``(documents done, documents total)`` while indexing.
        query_progress: Callback ``(queries done, queries total)`` over all modes.

    Returns:
        The run; write it with :func:`pipelines.report.write_eval_report`.
    """
    reused = await asyncio.to_thread(_prepare_index, dataset, out_dir, reuse=reuse_index)
    components = await opener(eval_settings(settings, out_dir))
    try:
        index = await ingest_documents(components, dataset.documents(), progress=index_progress)
        if index.failed:
            logger.warning("%d passages failed to index", len(index.failed))
        await asyncio.to_thread(_write_manifest, dataset, out_dir)
        run = EvalRun(
            dataset=dataset.name,
            questions=len(dataset.questions),
            passages=len(dataset.passages),
            out_dir=out_dir,
            index=index,
            index_reused=reused,
        )
        answerer = (
            ExtractiveAnswerer(
                components.embedder, min_relevance=components.settings.answer.min_relevance
            )
            if answers
            else None
        )
        await _run_modes(components, dataset, modes, run, query_progress, answerer)
        return run
    finally:
        await components.close()


async def _run_modes(
    components: Components,
    dataset: EvalDataset,
    modes: Sequence[RetrievalMode],
    run: EvalRun,
    progress: ProgressCallback | None,
    answerer: ExtractiveAnswerer | None = None,
) -> None:
    total = len(modes) * len(dataset.questions)
    for position, mode in enumerate(modes):
        offset = position * len(dataset.questions)

        def tick(done: int, _total: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, total)

        results = await _run_mode(components, dataset, mode, tick, answerer)
        run.details[mode.value] = results
        run.scores.append(_score(mode, results, answered=answerer is not None))


async def _run_mode(
    components: Components,
    dataset: EvalDataset,
    mode: RetrievalMode,
    progress: ProgressCallback,
    answerer: ExtractiveAnswerer | None = None,
) -> list[QuestionResult]:
    if dataset.questions:  # warm-up: models, caches, first-query costs
        await _retrieve_passages(components, dataset.questions[0].question, mode)
    results: list[QuestionResult] = []
    for done, question in enumerate(dataset.questions, start=1):
        gold = sorted(dataset.gold_document_ids(question))
        start = time.perf_counter()
        context: RetrievedContext | None = None
        try:
            ranking, context = await _retrieve_passages(components, question.question, mode)
            error = None
        except GraphRAGError as exc:
            logger.warning("%s failed on %s: %s", mode.value, question.id, exc)
            ranking, error = [], str(exc)
        elapsed = (time.perf_counter() - start) * 1000.0
        result = QuestionResult(question.id, gold, ranking, round(elapsed, 3), error)
        if answerer is not None and context is not None:
            await _answer(answerer, question.question, context, result)
        results.append(result)
        progress(done, len(dataset.questions))
    return results


async def _answer(
    answerer: ExtractiveAnswerer, question: str, context: RetrievedContext, result: QuestionResult
) -> None:
    """Answer from the question's context; record the relevance and whether it abstained."""
    try:
        answer, relevance = await answerer.answer_with_relevance(question, context)
    except GraphRAGError as exc:
        logger.warning("answering %s failed: %s", result.id, exc)
        return
    result.relevance = None if relevance is None else round(relevance.score, 4)
    result.abstained = abstained(answer)


async def _retrieve_passages(
    components: Components, question: str, mode: RetrievalMode
) -> tuple[list[str], RetrievedContext]:
    """Return up to :data:`PASSAGES` distinct document ids, best first, and the first context.

    The first context (``top_k`` = :data:`PASSAGES`) is the one a query would answer from.
    """
    top_k = PASSAGES
    first: RetrievedContext | None = None
    while True:
        context = await components.retrieval.retrieve(question, mode=mode, top_k=top_k)
        first = first or context
        ranking = dedupe_ranking(chunk.document_id for chunk in context.chunks)
        exhausted = len(context.chunks) < top_k
        if len(ranking) >= PASSAGES or exhausted or top_k >= _MAX_TOP_K:
            return ranking[:PASSAGES], first
        top_k = min(top_k * 2, _MAX_TOP_K)


def _score(
    mode: RetrievalMode, results: list[QuestionResult], *, answered: bool = False
) -> ModeScores:
    scored = [r for r in results if r.error is None]
    scores = score_mode(
        mode.value,
        [r.ranking for r in scored],
        [set(r.gold) for r in scored],
        latency_ms=[r.latency_ms for r in scored],
    )
    scores.errors = [(r.id, r.error) for r in results if r.error is not None]
    if answered:
        scores.abstained = sum(r.abstained for r in scored)
        if scores.abstained:
            logger.warning(
                "%s: %d of %d answers abstained (answer.min_relevance)",
                mode.value,
                scores.abstained,
                len(scored),
            )
    return scores


def _fingerprint(dataset: EvalDataset) -> str:
    h = hashlib.sha256()
    for doc in dataset.documents():
        h.update(f"{doc.source}\x1f{doc.content_hash}\n".encode())
    return h.hexdigest()


def _prepare_index(dataset: EvalDataset, out_dir: Path, *, reuse: bool) -> bool:
    """Delete a stale index; return whether an existing one is kept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "index.db"
    manifest = out_dir / "index.json"
    if reuse and db.exists() and manifest.exists():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, json.JSONDecodeError):
            recorded = None
        if recorded == _fingerprint(dataset):
            logger.info("reusing the index at %s", db)
            return True
        logger.info("the corpus differs from the one indexed at %s; rebuilding", db)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    manifest.unlink(missing_ok=True)
    return False


def _write_manifest(dataset: EvalDataset, out_dir: Path) -> None:
    data = {
        "dataset": dataset.name,
        "passages": len(dataset.passages),
        "fingerprint": _fingerprint(dataset),
    }
    (out_dir / "index.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
