"""The search space of ``graphrag tune``: one table of the ``retrieval.*`` knobs, and the metrics.

:data:`SEARCH_SPACE` holds one :class:`Knob` per setting of
:class:`~graphrag.config.RetrievalSettings` that changes a ranking: the retrieval modes whose
ranking it changes, the range searched (inside the setting's validation bounds; a unit test
checks both ends against the settings model) and the scale. Every other retrieval setting is
in :data:`NOT_SEARCHED` with the reason, so a new setting cannot be forgotten (a test checks
that the two tables cover the settings model). docs/tuning.md shows the same table.

Floats are searched on a grid (``step``) or, for a log-scale knob, rounded to two significant
digits, so the values written to a settings file are exactly the values that were scored.
A knob with ``when`` is searched only while another knob has the given value (``rrf_k`` only
when ``hybrid_fusion`` is ``rrf``); otherwise it keeps its current value.

Example:
    >>> from graphrag.models import RetrievalMode
    >>> [k.name for k in knobs_for([RetrievalMode.PPR])][:3]
    ['link_threshold', 'degree_cap', 'ppr_damping']
    >>> parse_metric("R@5").name
    'recall@5'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from graphrag.config import RetrievalSettings
from graphrag.errors import EvaluationError
from graphrag.evaluation import ALL_GOLD_KS, RECALL_KS, ModeScores
from graphrag.models import RetrievalMode

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = [
    "METRICS",
    "NOT_SEARCHED",
    "SEARCH_SPACE",
    "Knob",
    "Metric",
    "apply_values",
    "current_values",
    "knobs_for",
    "parse_metric",
    "suggest_values",
    "tunable_modes",
]

KnobKind = Literal["float", "int", "choice"]
Value = float | int | str

_LOCAL, _HYBRID, _PPR = RetrievalMode.LOCAL, RetrievalMode.HYBRID, RetrievalMode.PPR
_GRAPH = (_LOCAL, _HYBRID, _PPR)


@dataclass(frozen=True)
class Knob:
    """One searched setting of ``retrieval``.

    Attributes:
        name: The setting's name in :class:`~graphrag.config.RetrievalSettings`.
        modes: The modes whose ranking it changes.
        kind: ``float``, ``int`` or ``choice``.
        low: Lowest value searched (``float`` and ``int``).
        high: Highest value searched (``float`` and ``int``).
        step: Grid step of a ``float`` on a linear scale.
        log: Search on a log scale (floats then keep two significant digits).
        choices: The values of a ``choice``.
        when: ``(knob, value)``: searched only while that knob has that value.
    """

    name: str
    modes: tuple[RetrievalMode, ...]
    kind: KnobKind
    low: float = 0.0
    high: float = 1.0
    step: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()
    when: tuple[str, Value] | None = None

    def suggest(self, trial: BaseTrial) -> Value:
        """Ask ``trial`` (an optuna trial) for this knob's value."""
        if self.kind == "choice":
            value = trial.suggest_categorical(self.name, list(self.choices))
            if value is None:  # never: the choices hold no None
                msg = f"{self.name}: optuna suggested no value"
                raise EvaluationError(msg)
            return value
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return self.rounded(
            trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        )

    def rounded(self, value: float) -> float:
        """Round a float the way it is written: to the grid, or to two significant digits."""
        if self.step is not None:
            decimals = max(0, -math.floor(math.log10(self.step)) + 1)
            return round(round(value / self.step) * self.step, decimals)
        if value == 0:
            return 0.0
        return round(value, 1 - math.floor(math.log10(abs(value))))

    def distribution(self) -> BaseDistribution:
        """The optuna distribution of this knob (to record the current settings as a trial)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, step=self.step, log=self.log)

    def range_text(self) -> str:
        """The searched range as docs/tuning.md shows it, e.g. ``0.1-0.9, step 0.05``."""
        if self.kind == "choice":
            return " or ".join(str(c) for c in self.choices)
        if self.kind == "int":
            span = f"{int(self.low)}-{int(self.high)}"
        else:
            span = f"{self.low:g}-{self.high:g}"
        if self.log:
            return f"{span}, log scale"
        return f"{span}, step {self.step:g}" if self.step is not None else span


SEARCH_SPACE: tuple[Knob, ...] = (
    Knob("link_threshold", _GRAPH, "float", 0.5, 0.85, step=0.05),
    Knob("degree_cap", _GRAPH, "int", 5, 100, log=True),
    Knob("hops", (_LOCAL, _HYBRID), "int", 1, 3),
    Knob("max_entities", (_LOCAL, _HYBRID), "int", 10, 100, log=True),
    Knob("k_entities", (_LOCAL, _HYBRID), "int", 1, 16),
    Knob("k_chunks", (_LOCAL, _HYBRID), "int", 10, 60, log=True),
    Knob("local_dense_weight", (_LOCAL,), "float", 0.2, 0.9, step=0.05),
    Knob("hybrid_fusion", (_HYBRID,), "choice", choices=("minmax", "rrf")),
    Knob("hybrid_dense_weight", (_HYBRID,), "float", 0.0, 1.0, step=0.05),
    Knob("hybrid_bm25_weight", (_HYBRID,), "float", 0.0, 1.0, step=0.05),
    Knob("hybrid_graph_weight", (_HYBRID,), "float", 0.0, 1.0, step=0.05),
    Knob("rrf_k", (_HYBRID,), "int", 5, 200, log=True, when=("hybrid_fusion", "rrf")),
    Knob("ppr_damping", (_PPR,), "float", 0.3, 0.85, step=0.05),
    Knob("ppr_temperature", (_PPR,), "float", 0.005, 0.1, log=True),
    Knob("ppr_dense_weight", (_PPR,), "float", 0.2, 0.8, step=0.05),
    Knob("ppr_dense_candidates", (_PPR,), "int", 20, 100, log=True),
    Knob("ppr_expand_mass", (_PPR,), "choice", choices=(0.9, 0.99, 0.999, 1.0)),
    Knob("ppr_relation_weight", (_PPR,), "float", 0.0, 1.0, step=0.05),
    Knob("ppr_rerank_temperature", (_PPR,), "float", 0.0, 0.5, step=0.05),
    Knob("ppr_rerank_candidates", (_PPR,), "int", 50, 400, log=True),
)
"""The searched knobs, in the order they are asked (the order is part of reproducibility).
Ranges: the retrieval settings' suggested search ranges (docs/configuration.md), inside
their validation bounds."""

NOT_SEARCHED: dict[str, str] = {
    "mode": "which mode answers a query, not how a mode ranks (tune picks modes with --modes)",
    "top_k": "how many chunks a query returns; the evaluation ranks 10 passages",
    "token_budget": "cuts the context by tokens; the evaluation cuts by passage count",
    "max_question_chars": "input validation only",
    "ppr_max_iterations": "a convergence cap of the PageRank iterations, not a preference",
    "ppr_context_entities": "the entities reported with a ppr context; no effect on ranking",
    "global_communities": "global ranks community summaries: passage recall does not measure it",
    "global_member_weight": "global ranks community summaries: passage recall does not measure it",
}
"""Retrieval settings that are not searched, with the reason."""


def knobs_for(modes: Iterable[RetrievalMode]) -> list[Knob]:
    """Return the knobs that change the ranking of any of ``modes``, in table order."""
    wanted = set(modes)
    return [k for k in SEARCH_SPACE if wanted.intersection(k.modes)]


def tunable_modes() -> list[RetrievalMode]:
    """Return the modes that have at least one knob (in :class:`RetrievalMode` order)."""
    return [m for m in RetrievalMode if knobs_for([m])]


def _active(knob: Knob, values: Mapping[str, Any]) -> bool:
    return knob.when is None or values.get(knob.when[0]) == knob.when[1]


def suggest_values(trial: BaseTrial, knobs: Iterable[Knob]) -> dict[str, Value]:
    """Ask ``trial`` for every knob (a ``when`` knob only while its condition holds).

    Returns:
        Setting name -> value, exactly as they will be scored and written.
    """
    values: dict[str, Value] = {}
    for knob in knobs:
        if _active(knob, values):
            values[knob.name] = knob.suggest(trial)
    return values


def current_values(retrieval: RetrievalSettings, knobs: Iterable[Knob]) -> dict[str, Value]:
    """Return the current value of every knob (a ``when`` knob only while it is active)."""
    values: dict[str, Value] = {}
    for knob in knobs:
        if _active(knob, values):
            values[knob.name] = getattr(retrieval, knob.name)
    return values


def apply_values(retrieval: RetrievalSettings, values: Mapping[str, Value]) -> RetrievalSettings:
    """Return ``retrieval`` with ``values`` set, validated like a settings file.

    Raises:
        EvaluationError: If the combination is invalid (e.g. every hybrid weight 0).
    """
    try:
        return RetrievalSettings.model_validate({**retrieval.model_dump(), **values})
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        msg = f"invalid retrieval settings {dict(values)}: {problems}"
        raise EvaluationError(msg) from None


@dataclass(frozen=True)
class Metric:
    """The objective: one of the evaluation's retrieval scores, averaged over the modes.

    Attributes:
        kind: ``recall`` (mean recall@k) or ``all_gold`` (share with every gold in the top k).
        k: The cut-off.
    """

    kind: Literal["recall", "all_gold"]
    k: int

    @property
    def name(self) -> str:
        """The metric's name as ``--metric`` takes it (``recall@5``)."""
        return f"{self.kind}@{self.k}"

    def score(self, scores: ModeScores) -> float:
        """Return this metric from one mode's scores (a fraction, 0-1)."""
        return scores.recall[self.k] if self.kind == "recall" else scores.all_gold[self.k]


METRICS: tuple[Metric, ...] = (
    *(Metric("recall", k) for k in RECALL_KS),
    *(Metric("all_gold", k) for k in ALL_GOLD_KS),
)
_ALIASES = {"r": "recall", "recall": "recall", "ag": "all_gold", "all_gold": "all_gold"}


def parse_metric(text: str) -> Metric:
    """Parse ``recall@5`` (also ``R@5``, ``all_gold@5``, ``all-gold@5``, ``AG@5``).

    Raises:
        EvaluationError: If the metric is unknown; the message names ``--metric`` and lists
            the valid ones.
    """
    kind, _, k = text.strip().lower().replace("-", "_").partition("@")
    for metric in METRICS:
        if _ALIASES.get(kind) == metric.kind and k == str(metric.k):
            return metric
    valid = ", ".join(m.name for m in METRICS)
    msg = f"unknown --metric {text!r}; use one of: {valid}"
    raise EvaluationError(msg)
