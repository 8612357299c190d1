"""The tuning job behind ``graphrag tune``: search the ``retrieval.*`` settings with optuna.

1. Each dataset (the tuning set, and the held-out set if given) is indexed once, exactly as
   ``graphrag eval`` indexes it (:func:`pipelines.eval_job.run_eval` with no modes), into
   ``<index_root>/<name>/index.db``; an index built from the same passages is reused, so a
   tune after an eval (or another tune) starts searching at once.
2. The current settings (defaults, or what ``--config`` and the environment set) are scored
   first: that is trial 0, the baseline. Then ``trials`` trials are asked from optuna's TPE
   sampler, seeded, in one process, so a run with the same seed, data and code asks the same
   values. Each trial builds a :class:`~graphrag.retrieve.modes.RetrievalService` with its
   values and retrieves every question in every chosen mode (retrieval only, no answers),
   ranking passages like ``graphrag eval`` (10 distinct passages); the objective is the
   metric averaged over the modes. Combinations the settings refuse are failed trials.
3. With a held-out set, the baseline and the best trial are scored on it. The verdict
   (:func:`~pipelines.tune_result.judge`) recommends the best trial only when it beats the
   baseline on the tuning set and does not lose on the held-out set.

Everything measured is kept in a :class:`~pipelines.tune_result.TuneState` as it happens, so
after Ctrl-C the command writes the best trial so far (:mod:`pipelines.tune_report`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from graphrag.config import Settings
from graphrag.errors import ConfigError, EvaluationError, GraphRAGError
from graphrag.evaluation import EvalDataset, dedupe_ranking, score_mode
from graphrag.models import RetrievalMode
from graphrag.operations.ingest import ProgressCallback
from graphrag.retrieve.modes import RetrievalService
from graphrag.retrieve.question import QuestionAnalyzer
from graphrag.runtime import Components
from pipelines.eval_job import PASSAGES, eval_settings, run_eval
from pipelines.tune_result import TrialCallback, TrialResult, TuneRequest, TuneState
from pipelines.tune_space import Metric, Value, apply_values, current_values, suggest_values

if TYPE_CHECKING:
    from optuna import Study

logger = logging.getLogger(__name__)


ComponentOpener = Callable[[Settings], Awaitable[Components]]
_MAX_TOP_K = 40


async def run_tune(
    request: TuneRequest,
    *,
    settings: Settings,
    opener: ComponentOpener,
    state: TuneState | None = None,
    index_progress: ProgressCallback | None = None,
    on_trial: TrialCallback | None = None,
) -> TuneState:
    """Index the sets, search the settings on the tuning set, check the best on the held-out.

    Args:
        request: What to tune.
        settings: The current settings (the baseline); the store is replaced per dataset.
        opener: Builds components from settings (``graphrag.runtime.open_components``).
        state: Where to record progress (pass one to read it after an interrupt).
        index_progress: ``(documents done, total)`` while indexing.
        on_trial: Called after every trial (the baseline too).

    Returns:
        The completed state.

    Raises:
        ConfigError: If optuna is not installed.
        GraphRAGError: If indexing or the store fails.
    """
    study = _new_study(request)
    state = state or TuneState(request)
    start = time.perf_counter()
    for dataset in (request.dataset, request.holdout):
        if dataset is not None:
            await _index(request, dataset, settings, opener, index_progress)
    state.index_seconds = time.perf_counter() - start
    analyzer = QuestionAnalyzer(settings.extraction)
    components = await opener(_search_settings(settings, request.index_dir(request.dataset)))
    try:
        await _search(request, study, components, analyzer, state, on_trial)
    finally:
        await components.close()
    if request.holdout is not None and state.best() is not None:
        await _check_holdout(request, request.holdout, settings, opener, analyzer, state)
    return state


def _new_study(request: TuneRequest) -> Study:
    try:
        import optuna
    except ImportError as exc:
        msg = (
            "graphrag tune needs optuna, which is not installed; install the 'tune' extra: "
            "pip install 'arango-graphrag-platform[tune]' (requirements.lock has it)"
        )
        raise ConfigError(msg) from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=request.seed, multivariate=True, n_startup_trials=max(1, min(10, request.trials // 3))
    )
    return optuna.create_study(direction="maximize", sampler=sampler)


async def _index(
    request: TuneRequest,
    dataset: EvalDataset,
    settings: Settings,
    opener: ComponentOpener,
    progress: ProgressCallback | None,
) -> None:
    out_dir = request.index_dir(dataset)
    run = await run_eval(
        dataset,
        settings=settings,
        opener=opener,
        out_dir=out_dir,
        modes=(),
        reuse_index=request.reuse_index,
        answers=False,
        index_progress=progress,
    )
    if run.index.failed:
        logger.warning("%s: %d passages failed to index", dataset.name, len(run.index.failed))


def _search_settings(settings: Settings, index_dir: Path) -> Settings:
    """The evaluation's settings on ``index_dir``, with the query-embedding cache kept on.

    Every trial asks the same questions, so their embeddings are computed once.
    """
    return eval_settings(settings, index_dir).model_copy(update={"embedding": settings.embedding})


async def _search(
    request: TuneRequest,
    study: Study,
    components: Components,
    analyzer: QuestionAnalyzer,
    state: TuneState,
    on_trial: TrialCallback | None,
) -> None:
    from optuna.trial import TrialState, create_trial

    knobs = request.knobs
    base = components.settings.retrieval
    start = time.perf_counter()
    state.baseline = await _trial(0, current_values(base, knobs), request, components, analyzer)
    _notify(on_trial, state.baseline, state)
    try:  # the baseline informs the sampler when it lies on the search grid
        distributions = {k.name: k.distribution() for k in knobs if k.name in state.baseline.values}
        study.add_trial(
            create_trial(
                params=state.baseline.values,
                distributions=distributions,
                value=state.baseline.score,
            )
        )
    except ValueError as exc:
        logger.info("the current settings lie outside the search grid (%s)", exc)
    for number in range(1, request.trials + 1):
        elapsed = time.perf_counter() - start
        if request.timeout is not None and elapsed >= request.timeout:
            state.timed_out = True
            logger.info("--timeout reached after %d trials", number - 1)
            break
        asked = study.ask()
        values = suggest_values(asked, knobs)
        result = await _trial(number, values, request, components, analyzer)
        if result.score is None:
            study.tell(asked, state=TrialState.FAIL)
        else:
            study.tell(asked, result.score)
        state.trials.append(result)
        state.search_seconds = time.perf_counter() - start
        _notify(on_trial, result, state)
    state.search_seconds = time.perf_counter() - start


def _notify(callback: TrialCallback | None, result: TrialResult, state: TuneState) -> None:
    if callback is not None:
        callback(result, state)


async def _trial(
    number: int,
    values: dict[str, Value],
    request: TuneRequest,
    components: Components,
    analyzer: QuestionAnalyzer,
) -> TrialResult:
    """Score ``values`` on the tuning set (a refused combination is a failed trial)."""
    start = time.perf_counter()
    try:
        retrieval = apply_values(components.settings.retrieval, values)
    except EvaluationError as exc:
        logger.info("trial %d refused: %s", number, exc)
        return TrialResult(number, values, None, error=str(exc))
    service = RetrievalService(components.store, components.embedder, retrieval, analyzer)
    per_mode = await score_modes(service, request.dataset, request.modes, request.metric)
    score = math.fsum(per_mode.values()) / len(per_mode)
    return TrialResult(number, values, score, per_mode, time.perf_counter() - start)


async def _check_holdout(
    request: TuneRequest,
    holdout: EvalDataset,
    settings: Settings,
    opener: ComponentOpener,
    analyzer: QuestionAnalyzer,
    state: TuneState,
) -> None:
    """Score the baseline and the best trial on the held-out set."""
    best, baseline = state.best(), state.baseline
    if best is None or baseline is None:
        return
    start = time.perf_counter()
    components = await opener(_search_settings(settings, request.index_dir(holdout)))
    try:
        scores: list[float] = []
        for trial in (baseline, best):
            retrieval = apply_values(components.settings.retrieval, trial.values)
            service = RetrievalService(components.store, components.embedder, retrieval, analyzer)
            per_mode = await score_modes(service, holdout, request.modes, request.metric)
            scores.append(math.fsum(per_mode.values()) / len(per_mode))
    finally:
        await components.close()
    state.holdout_baseline, state.holdout_best = scores
    state.holdout_seconds = time.perf_counter() - start


async def score_modes(
    service: RetrievalService,
    dataset: EvalDataset,
    modes: Sequence[RetrievalMode],
    metric: Metric,
) -> dict[str, float]:
    """Return ``metric`` per mode over every question of ``dataset`` (retrieval only).

    A question whose retrieval fails scores 0 (a setting that breaks retrieval must lose).
    """
    golds = [dataset.gold_document_ids(q) for q in dataset.questions]
    result: dict[str, float] = {}
    for mode in modes:
        rankings: list[list[str]] = []
        for question in dataset.questions:
            try:
                rankings.append(await passage_ranking(service, question.question, mode))
            except GraphRAGError as exc:
                logger.warning("%s failed on %s: %s", mode.value, question.id, exc)
                rankings.append([])
        result[mode.value] = metric.score(score_mode(mode.value, rankings, golds))
    return result


async def passage_ranking(
    service: RetrievalService, question: str, mode: RetrievalMode
) -> list[str]:
    """Return up to 10 distinct passage (document) ids, best first, as ``graphrag eval`` does.

    ``top_k`` starts at 10 chunks and doubles (up to 40) while chunks of the same passage
    leave fewer than 10 distinct passages.
    """
    top_k = PASSAGES
    while True:
        context = await service.retrieve(question, mode=mode, top_k=top_k)
        ranking = dedupe_ranking(chunk.document_id for chunk in context.chunks)
        exhausted = len(context.chunks) < top_k
        if len(ranking) >= PASSAGES or exhausted or top_k >= _MAX_TOP_K:
            return ranking[:PASSAGES]
        top_k = min(top_k * 2, _MAX_TOP_K)
