"""The evaluation job: index a dataset corpus, run every retrieval mode, score it.

The corpus is indexed into ``<out>/index.db`` (an embedded store) through the normal
:class:`~graphrag.build.GraphBuilder`. With ``reuse_index`` an existing index is kept when it
was built from exactly the same passages (recorded in ``<out>/index.json``); the builder then
skips every unchanged document. Otherwise the index is rebuilt from scratch, so extra passages
from an earlier, larger run never leak into the rankings.

Each question is retrieved with ``top_k=10`` (more when chunks of the same passage leave fewer
than 10 distinct passages); chunks map to their passages, keeping each passage's best rank.
Latency is the wall time of ``retrieve()`` after one untimed warm-up query per mode.

The ``global`` mode ranks community summaries: when it is among the modes, the graph
analysis (PageRank, communities, embedded summaries) runs on the index first, unless the
index holds an analysis that is still current. It answers questions about whole themes of
the corpus, so its passage recall on multi-hop questions is expected to be low.

With ``answers`` (the default) each question is also answered by the extractive answerer
from its first context (outside the timed part), recording the answer's relevance and whether
it abstained under ``answer.min_relevance``: every dev-set question has an answer, so a mode
that abstains on some shows a relevance floor set too high (or a retrieval regression).

Answer containment needs no LLM: for every question with a gold answer, whether the
extractive answer's text contains the gold answer or an alias (SQuAD normalisation, whole
tokens; :func:`~graphrag.evaluation.contains_answer`), whether one of the top
:data:`CONTAINMENT_CHUNKS` chunks of the context does (the ceiling of a perfect reader of
those chunks), and the exact match and F1 of the answer's short answer span
(:attr:`~graphrag.models.Answer.short_answer`). With an LLM, the share of its answers that
contain the gold is reported beside them.

When an LLM is configured (the components' answerer is an
:class:`~graphrag.answer.LLMAnswerer`), each question with a gold answer is also answered by
the model from the same context, and the answers are scored against the gold answer and its
aliases: SQuAD exact match and token F1 per mode (:mod:`graphrag.evaluation.answers`). A
failed call is recorded per question; a budget stop ends the answering for the rest of the
run (retrieval scores are still complete). Failed and stopped answers are summarised for the
whole run (:class:`AnswerSummary`, :meth:`EvalRun.answer_problems`): the CLI prints the
summary, ``results.md`` shows it under the table and the command exits with code 1, since
EM and F1 over part of the questions are not the mode's scores. Without an LLM there are no
EM/F1 figures: the extractive answers are whole sentences, which EM and F1 against short gold
answers would only measure as sentence length.
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
from graphrag.evaluation import (
    EvalDataset,
    EvalQuestion,
    ModeScores,
    best_scores,
    dedupe_ranking,
    score_answers,
    score_mode,
)
from graphrag.evaluation.answers import (
    AnswerScores,
    ContainmentScores,
    answer_span,
    contains_answer,
    score_containment,
)
from graphrag.llm import BudgetExceededError
from graphrag.models import RetrievalMode, RetrievedContext
from graphrag.operations.ingest import ProgressCallback, ingest_documents
from graphrag.ports import Answerer
from graphrag.runtime import Components
from pipelines.analyze_job import run_analysis

logger = logging.getLogger(__name__)

ComponentOpener = Callable[[Settings], Awaitable[Components]]
PASSAGES = 10
CONTAINMENT_CHUNKS = 5
"""The top chunks whose texts the ``top5`` containment ceiling reads."""
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
        prediction: The LLM's answer text (``None``: no LLM, or not answered).
        em: Its exact match with the gold answer or an alias.
        f1: Its best token F1 over the gold answer and aliases.
        answer_error: Why the LLM could not answer, if it failed.
        answer: The extractive answer's text (``None``: not answered).
        short_answer: Its short answer span, when it found one.
        answer_contains: Whether the extractive answer contains the gold answer or an alias
            (``None``: not answered, or no gold answer).
        top5_contains: Whether one of the top :data:`CONTAINMENT_CHUNKS` chunks contains it.
        llm_contains: Whether the LLM's answer contains it (``None``: no LLM answer).
    """

    id: str
    gold: list[str]
    ranking: list[str]
    latency_ms: float
    error: str | None = None
    relevance: float | None = None
    abstained: bool = False
    prediction: str | None = None
    em: float | None = None
    f1: float | None = None
    answer_error: str | None = None
    answer: str | None = None
    short_answer: str | None = None
    answer_contains: bool | None = None
    top5_contains: bool | None = None
    llm_contains: bool | None = None


@dataclass
class AnswerSummary:
    """How the LLM's answers went over the whole run (every mode).

    Attributes:
        expected: Questions with a gold answer, times the modes run: the answers wanted.
        answered: Answers the LLM gave (scored).
        failed: Answers whose call failed (after its retries), budget stop aside.
        first_error: The first failure's message.
        stopped: Why the budget stopped the answering for the rest of the run, if it did.
        stopped_after: Answers tried (given or failed) before the budget stop.
    """

    expected: int
    answered: int = 0
    failed: int = 0
    first_error: str | None = None
    stopped: str | None = None
    stopped_after: int | None = None

    def problems(self) -> list[str]:
        """One line per problem: failed answers, a budget stop (empty when all answered)."""
        lines: list[str] = []
        if self.failed:
            lines.append(
                f"LLM answers: {self.failed} of {self.expected} failed "
                f"(first error: {self.first_error})"
            )
        if self.stopped is not None:
            lines.append(
                f"LLM answers stopped by the budget after {self.stopped_after} of "
                f"{self.expected}: {self.stopped}"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "expected": self.expected,
            "answered": self.answered,
            "failed": self.failed,
            "first_error": self.first_error,
            "stopped": self.stopped,
            "stopped_after": self.stopped_after,
        }


@dataclass
class AnswerGenerator:
    """Answers the evaluation questions with the LLM; stops for the run at a budget stop.

    Attributes:
        answerer: The components' answerer (the LLM's, per mode).
        summary: Counts of the whole run (``expected`` is set by the caller).
    """

    answerer: Answerer
    summary: AnswerSummary = field(default_factory=lambda: AnswerSummary(expected=0))

    @property
    def stopped(self) -> str | None:
        """Why answering stopped for the rest of the run (the budget), if it did."""
        return self.summary.stopped

    async def answer(
        self, question: EvalQuestion, context: RetrievedContext, result: QuestionResult
    ) -> None:
        """Answer one question from its context and score it against the gold answers."""
        if not question.gold_answers:
            return
        summary = self.summary
        if summary.stopped is not None:
            result.answer_error = summary.stopped
            return
        try:
            answer = await self.answerer.answer(question.question, context)
        except BudgetExceededError as exc:
            logger.warning("LLM budget reached: no more answers in this run (%s)", exc)
            summary.stopped = result.answer_error = str(exc)
            summary.stopped_after = summary.answered + summary.failed
            return
        except GraphRAGError as exc:
            logger.warning("the LLM could not answer %s: %s", question.id, exc)
            result.answer_error = str(exc)
            summary.failed += 1
            if summary.first_error is None:
                summary.first_error = str(exc)
            return
        summary.answered += 1
        result.prediction = answer.text
        em, f1 = best_scores(answer_span(answer.text), question.gold_answers)
        result.em, result.f1 = em, round(f1, 4)
        result.llm_contains = contains_answer(answer.text, question.gold_answers)


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
    llm_answers: AnswerSummary | None = None
    """How the LLM's answers went (``None``: no LLM, or answers off)."""

    def answer_problems(self) -> list[str]:
        """The summary lines of failed or budget-stopped LLM answers (empty: none)."""
        return [] if self.llm_answers is None else self.llm_answers.problems()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (scores as fractions, latencies in milliseconds).

        With an LLM, ``llm_answers`` summarises its answers over the run (counts, the first
        error, a budget stop) and ``answer_problems`` holds the summary lines.
        """
        extra: dict[str, Any] = {}
        if self.llm_answers is not None:
            extra["llm_answers"] = self.llm_answers.to_dict()
            extra["answer_problems"] = self.answer_problems()
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
            **extra,
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


async def ensure_analysis(components: Components) -> bool:
    """Run the graph analysis unless the store holds a current one with embedded summaries.

    Returns:
        Whether the analysis ran.
    """
    state = await components.store.analysis_state()
    if state is not None and not state.stale and state.embedded > 0:
        logger.info("reusing the community analysis of %s", state.analyzed_at.isoformat())
        return False
    report = await run_analysis(components)
    logger.info(
        "analysed the index for the global mode: %d communities in %.1f s",
        report.communities,
        report.seconds,
    )
    return True


def parse_modes(text: str | Sequence[str] | None) -> list[RetrievalMode]:
    """Parse ``"naive,bm25"`` (or a list) into modes; ``None`` means all of them.

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
        if answers and components.llm is not None:
            await components.llm.check()  # a wrong URL, key or model fails before indexing
        index = await ingest_documents(components, dataset.documents(), progress=index_progress)
        if index.failed:
            logger.warning("%d passages failed to index", len(index.failed))
        if RetrievalMode.GLOBAL in modes:
            await ensure_analysis(components)
        await asyncio.to_thread(_write_manifest, dataset, out_dir)
        run = EvalRun(
            dataset=dataset.name,
            questions=len(dataset.questions),
            passages=len(dataset.passages),
            out_dir=out_dir,
            index=index,
            index_reused=reused,
        )
        answerer, generator = _answerers(components) if answers else (None, None)
        if generator is not None:
            wanted = sum(1 for q in dataset.questions if q.gold_answers)
            generator.summary.expected = wanted * len(modes)
            run.llm_answers = generator.summary
        await _run_modes(components, dataset, modes, run, query_progress, answerer, generator)
        return run
    finally:
        await components.close()


def _answerers(components: Components) -> tuple[ExtractiveAnswerer, AnswerGenerator | None]:
    """The extractive answerer (relevance, abstentions) and, with an LLM, the generator."""
    settings = components.settings
    extractive = ExtractiveAnswerer(
        components.embedder,
        min_relevance=settings.answer.min_relevance,
        spacy_model=settings.extraction.spacy_model,
    )
    if components.llm is None:
        return extractive, None
    return extractive, AnswerGenerator(components.answerer)


async def _run_modes(
    components: Components,
    dataset: EvalDataset,
    modes: Sequence[RetrievalMode],
    run: EvalRun,
    progress: ProgressCallback | None,
    answerer: ExtractiveAnswerer | None = None,
    generator: AnswerGenerator | None = None,
) -> None:
    total = len(modes) * len(dataset.questions)
    for position, mode in enumerate(modes):
        offset = position * len(dataset.questions)

        def tick(done: int, _total: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, total)

        results = await _run_mode(components, dataset, mode, tick, answerer, generator)
        run.details[mode.value] = results
        scores = _score(mode, results, answered=answerer is not None)
        if generator is not None:
            scores.answers = _answer_scores(dataset, results)
        if answerer is not None:
            scores.containment = _containment(dataset, results, llm=generator is not None)
        run.scores.append(scores)


async def _run_mode(
    components: Components,
    dataset: EvalDataset,
    mode: RetrievalMode,
    progress: ProgressCallback,
    answerer: ExtractiveAnswerer | None = None,
    generator: AnswerGenerator | None = None,
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
            await _answer(answerer, question, context, result)
        if generator is not None and context is not None:
            await generator.answer(question, context, result)
        results.append(result)
        progress(done, len(dataset.questions))
    return results


async def _answer(
    answerer: ExtractiveAnswerer,
    question: EvalQuestion,
    context: RetrievedContext,
    result: QuestionResult,
) -> None:
    """Answer from the question's context; record the relevance, abstention and containment."""
    try:
        answer, relevance = await answerer.answer_with_relevance(question.question, context)
    except GraphRAGError as exc:
        logger.warning("answering %s failed: %s", result.id, exc)
        return
    result.relevance = None if relevance is None else round(relevance.score, 4)
    result.abstained = abstained(answer)
    result.answer, result.short_answer = answer.text, answer.short_answer
    golds = question.gold_answers
    if golds:
        result.answer_contains = contains_answer(answer.text, golds)
        top = context.chunks[:CONTAINMENT_CHUNKS]
        result.top5_contains = any(contains_answer(c.text, golds) for c in top)


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


def _answer_scores(dataset: EvalDataset, results: list[QuestionResult]) -> AnswerScores:
    """EM and F1 of the LLM's answers of one mode (failed answers counted apart)."""
    golds = {q.id: q.gold_answers for q in dataset.questions}
    answered = [r for r in results if r.prediction is not None]
    failed = sum(1 for r in results if r.answer_error is not None)
    scores = score_answers(
        [r.prediction or "" for r in answered], [golds[r.id] for r in answered], errors=failed
    )
    logger.info(
        "answers: EM %.3f, F1 %.3f over %d questions (%d failed, %d not supported)",
        scores.em, scores.f1, scores.questions, failed, scores.not_supported,
    )  # fmt: skip
    return scores


def _containment(
    dataset: EvalDataset, results: list[QuestionResult], *, llm: bool
) -> ContainmentScores | None:
    """Answer and top-chunk containment of one mode (questions with a gold answer)."""
    golds = {q.id: q.gold_answers for q in dataset.questions}
    scored = [r for r in results if r.answer is not None and golds[r.id]]
    if not scored:
        return None
    scores = score_containment(
        [bool(r.answer_contains) for r in scored],
        [bool(r.top5_contains) for r in scored],
        [r.short_answer for r in scored],
        [golds[r.id] for r in scored],
    )
    if llm:
        judged = [r.llm_contains for r in results if r.llm_contains is not None]
        scores.generated = sum(judged) / len(judged) if judged else None
    logger.info(
        "containment: answer %.3f, top-%d chunks %.3f, span EM %.3f over %d questions",
        scores.answer, CONTAINMENT_CHUNKS, scores.top_chunks, scores.span_em, scores.questions,
    )  # fmt: skip
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
