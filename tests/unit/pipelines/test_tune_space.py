"""The search space of graphrag tune: the table covers the settings, maps values exactly."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial

from graphrag.config import RetrievalSettings
from graphrag.errors import EvaluationError
from graphrag.evaluation import ModeScores
from graphrag.models import RetrievalMode
from pipelines.tune_space import (
    METRICS,
    NOT_SEARCHED,
    SEARCH_SPACE,
    Knob,
    apply_values,
    current_values,
    knobs_for,
    parse_metric,
    suggest_values,
    tunable_modes,
)

DEFAULTS = RetrievalSettings()


def test_every_retrieval_setting_is_searched_or_excluded_with_a_reason() -> None:
    searched = [k.name for k in SEARCH_SPACE]
    assert len(searched) == len(set(searched)), "a knob is listed twice"
    assert not set(searched) & set(NOT_SEARCHED), "a setting is both searched and excluded"
    fields = set(RetrievalSettings.model_fields)
    missing = sorted(fields - set(searched) - set(NOT_SEARCHED))
    assert not missing, (
        f"retrieval settings {missing} are neither searched nor excluded: give each a row in "
        "SEARCH_SPACE (pipelines/tune_space.py) and in docs/tuning.md, or a reason in NOT_SEARCHED"
    )
    unknown = sorted((set(searched) | set(NOT_SEARCHED)) - fields)
    assert not unknown, f"pipelines/tune_space.py names settings that do not exist: {unknown}"
    assert all(reason.strip() for reason in NOT_SEARCHED.values())


@pytest.mark.parametrize("knob", SEARCH_SPACE, ids=lambda k: k.name)
def test_each_range_lies_inside_the_settings_validation_bounds(knob: Knob) -> None:
    ends = list(knob.choices) if knob.kind == "choice" else [knob.low, knob.high]
    for value in ends:
        typed = int(value) if knob.kind == "int" else value
        settings = apply_values(DEFAULTS, {knob.name: typed})
        assert getattr(settings, knob.name) == typed


@pytest.mark.parametrize("knob", SEARCH_SPACE, ids=lambda k: k.name)
def test_each_default_lies_on_the_search_grid(knob: Knob) -> None:
    """The baseline (defaults) is a point of the space, so it informs the sampler."""
    default = getattr(DEFAULTS, knob.name)
    assert knob.distribution()._contains(knob.distribution().to_internal_repr(default))
    if knob.kind == "float":
        assert knob.rounded(default) == default


@pytest.mark.parametrize("knob", SEARCH_SPACE, ids=lambda k: k.name)
def test_each_knob_names_only_modes_that_rank(knob: Knob) -> None:
    assert knob.modes
    assert set(knob.modes) <= {RetrievalMode.LOCAL, RetrievalMode.HYBRID, RetrievalMode.PPR}


def test_knobs_per_mode() -> None:
    ppr = {k.name for k in knobs_for([RetrievalMode.PPR])}
    assert {"ppr_damping", "ppr_temperature", "link_threshold", "degree_cap"} <= ppr
    assert not ppr & {"hops", "hybrid_dense_weight", "local_dense_weight", "rrf_k"}
    local = {k.name for k in knobs_for([RetrievalMode.LOCAL])}
    assert "local_dense_weight" in local
    assert not any(name.startswith(("ppr_", "hybrid_")) for name in local)
    both = knobs_for([RetrievalMode.PPR, RetrievalMode.HYBRID])
    assert [k.name for k in both] == [
        k.name for k in SEARCH_SPACE if set(k.modes) & {RetrievalMode.PPR, RetrievalMode.HYBRID}
    ]
    assert knobs_for([RetrievalMode.NAIVE, RetrievalMode.BM25, RetrievalMode.GLOBAL]) == []
    assert tunable_modes() == [RetrievalMode.LOCAL, RetrievalMode.HYBRID, RetrievalMode.PPR]


def test_rounding_writes_what_was_scored() -> None:
    grid = Knob("ppr_damping", (RetrievalMode.PPR,), "float", 0.3, 0.85, step=0.05)
    assert grid.rounded(0.30000000000000004) == 0.3
    assert grid.rounded(0.6749999) == 0.65
    assert grid.rounded(0.6750001) == 0.7
    assert grid.rounded(0.85) == 0.85
    log = Knob("ppr_temperature", (RetrievalMode.PPR,), "float", 0.005, 0.1, log=True)
    assert log.rounded(0.023456) == 0.023
    assert log.rounded(0.0050001) == 0.005
    assert log.rounded(0.09996) == 0.1
    assert log.rounded(0.0) == 0.0


def test_suggested_values_are_rounded_and_conditional_knobs_follow_their_condition() -> None:
    knobs = knobs_for([RetrievalMode.HYBRID, RetrievalMode.PPR])
    base = {k.name: getattr(DEFAULTS, k.name) for k in knobs}
    minmax = suggest_values(FixedTrial({**base, "ppr_temperature": 0.0123456}), knobs)
    assert "rrf_k" not in minmax  # only searched with hybrid_fusion = rrf
    assert minmax["ppr_temperature"] == 0.012
    rrf = suggest_values(FixedTrial({**base, "hybrid_fusion": "rrf", "rrf_k": 17}), knobs)
    assert rrf["rrf_k"] == 17
    assert list(rrf) == [k.name for k in knobs]  # table order
    assert current_values(DEFAULTS, knobs) == minmax | {"ppr_temperature": 0.02}
    rrf_settings = apply_values(DEFAULTS, {"hybrid_fusion": "rrf", "rrf_k": 9})
    assert current_values(rrf_settings, knobs)["rrf_k"] == 9


def test_apply_values_validates_like_a_settings_file() -> None:
    changed = apply_values(DEFAULTS, {"ppr_damping": 0.35, "degree_cap": 12})
    assert (changed.ppr_damping, changed.degree_cap) == (0.35, 12)
    assert changed.top_k == DEFAULTS.top_k
    with pytest.raises(EvaluationError, match="hybrid_dense_weight"):
        apply_values(
            DEFAULTS,
            {"hybrid_dense_weight": 0.0, "hybrid_bm25_weight": 0.0, "hybrid_graph_weight": 0.0},
        )
    with pytest.raises(EvaluationError, match="ppr_damping"):
        apply_values(DEFAULTS, {"ppr_damping": 1.5})


def test_the_same_seed_asks_the_same_values() -> None:
    knobs = knobs_for([RetrievalMode.PPR, RetrievalMode.HYBRID])

    def asked(seed: int) -> list[dict[str, object]]:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=3)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        seen = []
        for _ in range(8):
            trial = study.ask()
            values = suggest_values(trial, knobs)
            study.tell(trial, float(values["ppr_damping"]) - float(values["link_threshold"]))
            seen.append(values)
        return seen

    first = asked(7)
    assert first == asked(7)
    assert first != asked(8)
    for values in first:
        apply_values(DEFAULTS, values)  # every asked combination is a valid setting


def test_metrics_parse_and_score() -> None:
    assert [m.name for m in METRICS] == [
        "recall@2",
        "recall@5",
        "recall@10",
        "all_gold@5",
        "all_gold@8",
    ]
    for text, name in [
        ("recall@5", "recall@5"),
        ("R@2", "recall@2"),
        (" Recall@10 ", "recall@10"),
        ("all-gold@5", "all_gold@5"),
        ("AG@8", "all_gold@8"),
    ]:
        assert parse_metric(text).name == name
    scores = ModeScores("ppr", 2, {2: 0.25, 5: 0.5, 10: 0.75}, {5: 0.1, 8: 0.2})
    assert parse_metric("recall@5").score(scores) == 0.5
    assert parse_metric("all_gold@8").score(scores) == 0.2


@pytest.mark.parametrize("text", ["precision@5", "recall@3", "recall", "", "ag@10"])
def test_an_unknown_metric_names_the_flag_and_the_choices(text: str) -> None:
    with pytest.raises(EvaluationError) as caught:
        parse_metric(text)
    message = str(caught.value)
    assert "--metric" in message
    assert "recall@5" in message
    assert "all_gold@8" in message


def test_range_text_matches_the_docs_table() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "tuning.md").read_text("utf-8")
    rows = {
        line.split("|")[1].strip(): line
        for line in docs.splitlines()
        if line.startswith("| `retrieval.")
    }
    for knob in SEARCH_SPACE:
        row = rows.get(f"`retrieval.{knob.name}`")
        assert row is not None, f"docs/tuning.md has no row for retrieval.{knob.name}"
        assert knob.range_text() in row, (knob.name, knob.range_text())
        for mode in knob.modes:
            assert mode.value in row
    for name in NOT_SEARCHED:
        assert f"`{name}`" in docs, f"docs/tuning.md does not say why {name} is not searched"
