"""The records of ``graphrag tune``: the request, each trial, the run's state and verdict.

:class:`TuneState` is filled while :func:`pipelines.tune_job.run_tune` runs, so an interrupted
run can still be reported and written. :func:`judge` is the over-fitting guard: the best trial
is recommended only when it beats the current settings on the tuning set and does not lose on
the held-out set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from graphrag.errors import EvaluationError
from graphrag.evaluation import EvalDataset
from graphrag.models import RetrievalMode
from pipelines.tune_space import Knob, Metric, Value, knobs_for, tunable_modes

__all__ = [
    "DEFAULT_INDEX_ROOT",
    "RECOMMENDED",
    "TrialCallback",
    "TrialResult",
    "TuneRequest",
    "TuneState",
    "Verdict",
    "judge",
]

Verdict = Literal["recommended", "unchecked", "overfit", "no_gain", "interrupted"]
RECOMMENDED: frozenset[Verdict] = frozenset({"recommended", "unchecked", "interrupted"})
"""Verdicts whose values the settings file sets (the others write them commented out)."""

DEFAULT_INDEX_ROOT = Path(".graphrag") / "eval"
"""Where the per-dataset indexes live: the same folders ``graphrag eval`` uses by default."""

_TIE = 1e-9


@dataclass(frozen=True)
class TuneRequest:
    """What to tune, on what.

    Attributes:
        dataset: The tuning set.
        metric: The objective.
        modes: Modes whose scores are averaged (each must have knobs).
        trials: Trials after the baseline (at least 1).
        seed: Seed of the TPE sampler.
        holdout: The held-out set, scored for the baseline and the best trial only.
        timeout: Seconds of search after which no new trial starts (indexing not counted).
        index_root: Parent folder of the per-dataset indexes.
        reuse_index: Keep an index built from the same passages.
    """

    dataset: EvalDataset
    metric: Metric
    modes: tuple[RetrievalMode, ...]
    trials: int
    seed: int = 0
    holdout: EvalDataset | None = None
    timeout: float | None = None
    index_root: Path = DEFAULT_INDEX_ROOT
    reuse_index: bool = True

    def __post_init__(self) -> None:
        if self.trials < 1:
            msg = f"--trials must be at least 1 (got {self.trials}); pass e.g. --trials 20"
            raise EvaluationError(msg)
        if self.timeout is not None and not self.timeout > 0:
            msg = f"--timeout must be a positive number of seconds (got {self.timeout})"
            raise EvaluationError(msg)
        if self.holdout is not None and self.holdout.name == self.dataset.name:
            msg = (
                f"--holdout names the same dataset as --dataset ({self.dataset.name}); hold "
                "out another dev set (e.g. tune on musique_train, hold out hotpotqa_train)"
            )
            raise EvaluationError(msg)
        if not self.modes:
            msg = "no retrieval mode given; pass e.g. --modes ppr"
            raise EvaluationError(msg)
        for mode in self.modes:
            if not knobs_for([mode]):
                msg = (
                    f"--modes: {mode.value} has no retrieval setting to tune; choose among "
                    f"{', '.join(m.value for m in tunable_modes())}"
                )
                raise EvaluationError(msg)

    @property
    def knobs(self) -> list[Knob]:
        """The knobs searched: those of the chosen modes."""
        return knobs_for(self.modes)

    def index_dir(self, dataset: EvalDataset) -> Path:
        """The folder of ``dataset``'s index (``<index_root>/<name>``)."""
        return self.index_root / dataset.name


@dataclass
class TrialResult:
    """One scored trial.

    Attributes:
        number: 0 for the baseline (the current settings), then 1, 2, ...
        values: The knobs' values, as written to a settings file.
        score: The objective on the tuning set (``None``: the values were refused).
        per_mode: The metric per mode.
        seconds: Wall time of the trial.
        error: Why the values were refused.
    """

    number: int
    values: dict[str, Value]
    score: float | None
    per_mode: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "trial": self.number,
            "settings": dict(self.values),
            "score": self.score,
            "per_mode": dict(self.per_mode),
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


TrialCallback = Callable[[TrialResult, "TuneState"], None]


@dataclass
class TuneState:
    """Everything a run measured so far (complete after :func:`run_tune` returns).

    Attributes:
        request: The request.
        baseline: Trial 0, the current settings.
        trials: The searched trials, in order.
        holdout_baseline: The baseline's score on the held-out set.
        holdout_best: The best trial's score on the held-out set.
        interrupted: The run was stopped (Ctrl-C) before it finished.
        timed_out: ``--timeout`` ended the search before every trial ran.
        started_at: UTC start time (ISO 8601).
        index_seconds: Time spent indexing (or checking reused indexes).
        search_seconds: Time spent in trials on the tuning set.
        holdout_seconds: Time spent scoring on the held-out set.
    """

    request: TuneRequest
    baseline: TrialResult | None = None
    trials: list[TrialResult] = field(default_factory=list)
    holdout_baseline: float | None = None
    holdout_best: float | None = None
    interrupted: bool = False
    timed_out: bool = False
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    index_seconds: float = 0.0
    search_seconds: float = 0.0
    holdout_seconds: float = 0.0

    def best(self) -> TrialResult | None:
        """The searched trial with the highest score (the first of equals); ``None`` if none."""
        best: TrialResult | None = None
        best_score = -math.inf
        for trial in self.trials:
            if trial.score is not None and trial.score > best_score + _TIE:
                best, best_score = trial, trial.score
        return best

    def verdict(self) -> tuple[Verdict, str]:
        """Whether to recommend the best trial, and why (see :func:`judge`)."""
        holdout = self.request.holdout
        return judge(
            self.baseline,
            self.best(),
            self.holdout_baseline,
            self.holdout_best,
            dataset=self.request.dataset.name,
            holdout=None if holdout is None else holdout.name,
            interrupted=self.interrupted,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON summary (scores as fractions)."""
        request = self.request
        verdict, message = self.verdict()
        best = self.best()
        holdout = request.holdout
        return {
            "dataset": request.dataset.name,
            "questions": len(request.dataset.questions),
            "holdout": None if holdout is None else holdout.name,
            "holdout_questions": None if holdout is None else len(holdout.questions),
            "metric": request.metric.name,
            "modes": [m.value for m in request.modes],
            "seed": request.seed,
            "trials_requested": request.trials,
            "trials_run": len(self.trials),
            "started_at": self.started_at,
            "interrupted": self.interrupted,
            "timed_out": self.timed_out,
            "verdict": verdict,
            "recommended": verdict in RECOMMENDED,
            "message": message,
            "baseline": _with_holdout(self.baseline, self.holdout_baseline),
            "best": _with_holdout(best, self.holdout_best),
            "seconds": {
                "index": round(self.index_seconds, 1),
                "search": round(self.search_seconds, 1),
                "holdout": round(self.holdout_seconds, 1),
            },
            "trials": [t.to_dict() for t in self.trials],
        }


def _with_holdout(trial: TrialResult | None, holdout: float | None) -> dict[str, Any] | None:
    if trial is None:
        return None
    return {**trial.to_dict(), "holdout_score": holdout}


def judge(
    baseline: TrialResult | None,
    best: TrialResult | None,
    holdout_baseline: float | None,
    holdout_best: float | None,
    *,
    dataset: str,
    holdout: str | None,
    interrupted: bool = False,
) -> tuple[Verdict, str]:
    """Decide whether the best trial is recommended (the over-fitting guard).

    Returns:
        ``no_gain`` when no trial beat the baseline on the tuning set; ``interrupted`` when
        the run stopped before the held-out check; ``unchecked`` without a held-out set;
        ``overfit`` when the best trial loses on the held-out set; else ``recommended``.
        ``recommended``, ``unchecked`` and ``interrupted`` write the values; the message
        says why, with the scores.
    """
    if baseline is None or baseline.score is None or best is None or best.score is None:
        return "no_gain", "no trial completed; the current settings stay"
    tuned = f"{_pct(best.score)} vs {_pct(baseline.score)} for the current settings"
    if best.score <= baseline.score + _TIE:
        return "no_gain", (
            f"no trial beat the current settings on {dataset} (best {tuned}); keep them"
        )
    if interrupted or (holdout is not None and (holdout_best is None or holdout_baseline is None)):
        return "interrupted", (
            f"interrupted: trial {best.number} is the best so far on {dataset} ({tuned}) "
            "but was not checked on the held-out set; re-run to check it"
        )
    if holdout is None or holdout_best is None or holdout_baseline is None:
        return "unchecked", (
            f"trial {best.number} beats the current settings on {dataset} ({tuned}) but was "
            "not checked on a held-out set (pass --holdout): it may be over-fitted"
        )
    held = f"{_pct(holdout_best)} vs {_pct(holdout_baseline)}"
    if holdout_best < holdout_baseline - _TIE:
        return "overfit", (
            f"trial {best.number} beats the current settings on {dataset} ({tuned}) but loses "
            f"on the held-out set {holdout} ({held}): over-fitted, not recommended; keep the "
            "current settings"
        )
    return "recommended", (
        f"trial {best.number} beats the current settings on {dataset} ({tuned}) and does not "
        f"lose on the held-out set {holdout} ({held}): recommended"
    )


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"
