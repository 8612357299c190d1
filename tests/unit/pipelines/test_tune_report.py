"""graphrag tune's verdict (the over-fitting guard) and the settings file it writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from graphrag.config import RetrievalSettings, load_settings
from graphrag.errors import ConfigError, EvaluationError
from graphrag.evaluation import EvalDataset, EvalQuestion, Passage
from graphrag.models import RetrievalMode
from pipelines.tune_report import (
    MARKER,
    check_out_path,
    render_settings,
    summary_lines,
    trial_line,
    write_settings,
)
from pipelines.tune_result import TrialResult, TuneRequest, TuneState, judge
from pipelines.tune_space import parse_metric

BASE = {"link_threshold": 0.6, "ppr_damping": 0.5, "ppr_temperature": 0.02}
TUNED = {"link_threshold": 0.7, "ppr_damping": 0.35, "ppr_temperature": 0.031}


def dataset(name: str, questions: int = 3) -> EvalDataset:
    passages = [Passage(f"T{i}", f"Passage {i}.", i) for i in range(questions)]
    return EvalDataset(
        name=name,
        passages=passages,
        questions=[
            EvalQuestion(f"q{i}", f"Question {i}?", [(p.title, p.text)], [i])
            for i, p in enumerate(passages)
        ],
    )


def request(with_holdout: bool = True, **changes: object) -> TuneRequest:
    fields: dict[str, object] = {
        "dataset": dataset("musique_train"),
        "metric": parse_metric("recall@5"),
        "modes": (RetrievalMode.PPR,),
        "trials": 3,
        "seed": 4,
        "holdout": dataset("hotpotqa_train", 2) if with_holdout else None,
    }
    return TuneRequest(**{**fields, **changes})  # type: ignore[arg-type]


def state(
    best: float,
    *,
    base: float = 0.70,
    held: tuple[float, float] | None = (0.80, 0.82),
    interrupted: bool = False,
) -> TuneState:
    """A run whose trial 2 scored ``best`` (held: the held-out baseline and best)."""
    run = TuneState(request(with_holdout=held is not None), interrupted=interrupted)
    run.baseline = TrialResult(0, dict(BASE), base, {"ppr": base}, 1.0)
    run.trials = [
        TrialResult(1, dict(BASE) | {"ppr_damping": 0.8}, base - 0.1, {"ppr": base - 0.1}, 0.5),
        TrialResult(2, dict(TUNED), best, {"ppr": best}, 0.5),
        TrialResult(3, {"ppr_damping": 2.0}, None, error="invalid retrieval settings"),
        TrialResult(4, dict(BASE) | {"ppr_damping": 0.4}, best, {"ppr": best}, 0.5),
    ]
    if held is not None and not interrupted:
        run.holdout_baseline, run.holdout_best = held
    return run


def test_the_best_trial_is_the_first_of_the_highest_scores() -> None:
    run = state(0.75)
    best = run.best()
    assert best is not None
    assert best.number == 2  # trial 4 ties: the first wins
    assert TuneState(request()).best() is None


@pytest.mark.parametrize(
    ("run", "verdict", "words"),
    [
        (state(0.75), "recommended", ["trial 2", "75.00 vs 70.00", "82.00 vs 80.00"]),
        (state(0.75, held=(0.80, 0.80)), "recommended", ["does not lose"]),
        (state(0.75, held=(0.80, 0.78)), "overfit", ["loses", "78.00 vs 80.00", "not recommended"]),
        (state(0.70), "no_gain", ["no trial beat", "keep them"]),
        (state(0.65), "no_gain", ["no trial beat"]),
        (state(0.75, held=None), "unchecked", ["--holdout", "over-fitted"]),
        (state(0.75, interrupted=True), "interrupted", ["interrupted", "not checked"]),
        (state(0.60, interrupted=True), "no_gain", ["no trial beat"]),
    ],
)
def test_verdicts(run: TuneState, verdict: str, words: list[str]) -> None:
    got, message = run.verdict()
    assert got == verdict
    for word in words:
        assert word in message


def test_judge_without_any_trial() -> None:
    assert judge(None, None, None, None, dataset="a", holdout="b")[0] == "no_gain"


def test_a_recommended_file_loads_with_config_and_changes_the_settings(tmp_path: Path) -> None:
    run = state(0.75)
    path = write_settings(run, tmp_path / "deep" / "tuned.toml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    assert "verdict: recommended" in text
    assert "tuning set musique_train (3 questions): best trial 2 75.00, current settings 70.00" in (
        text
    )
    assert (
        "held-out set hotpotqa_train (2 questions): best trial 82.00, current settings 80.00"
        in (text)
    )
    assert "TPE sampler, seed 4" in text
    assert tomllib.loads(text) == {"retrieval": TUNED}  # only the tuned retrieval values
    settings = load_settings(path)
    assert settings.retrieval.ppr_damping == 0.35
    assert settings.retrieval.ppr_temperature == 0.031
    assert settings.retrieval.link_threshold == 0.7
    assert settings.retrieval.top_k == RetrievalSettings().top_k
    assert not list(path.parent.glob(".tune-*"))  # the temporary file was renamed


@pytest.mark.parametrize(
    "run", [state(0.75, held=(0.80, 0.70)), state(0.65)], ids=["overfit", "no_gain"]
)
def test_a_file_that_is_not_recommended_keeps_the_settings(run: TuneState, tmp_path: Path) -> None:
    path = write_settings(run, tmp_path / "tuned.toml")
    text = path.read_text(encoding="utf-8")
    assert "commented out" in text
    assert "# ppr_damping = 0.35" in text or "# ppr_damping = 0.8" in text
    assert tomllib.loads(text) == {"retrieval": {}}
    assert load_settings(path).retrieval == RetrievalSettings()


def test_an_interrupted_file_says_so_and_sets_the_best_so_far(tmp_path: Path) -> None:
    path = write_settings(state(0.75, interrupted=True), tmp_path / "t.toml")
    text = path.read_text(encoding="utf-8")
    assert "interrupted" in text
    assert "held-out set hotpotqa_train (2 questions): not scored" in text
    assert load_settings(path).retrieval.ppr_damping == 0.35


def test_strings_are_quoted(tmp_path: Path) -> None:
    run = state(0.75)
    run.trials[1].values = {"hybrid_fusion": "rrf", "rrf_k": 17, "hybrid_bm25_weight": 0.0}
    data = tomllib.loads(render_settings(run))
    assert data == {"retrieval": {"hybrid_fusion": "rrf", "rrf_k": 17, "hybrid_bm25_weight": 0.0}}


def test_out_path_checks(tmp_path: Path) -> None:
    assert check_out_path(tmp_path / "new.toml") == tmp_path / "new.toml"
    with pytest.raises(ConfigError, match=r"--out .*\.toml"):
        check_out_path(tmp_path / "tuned.yaml")
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        check_out_path(folder)
    mine = tmp_path / "graphrag.toml"
    mine.write_text("[retrieval]\ntop_k = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by graphrag tune"):
        check_out_path(mine)
    assert mine.read_text(encoding="utf-8") == "[retrieval]\ntop_k = 5\n"
    previous = write_settings(state(0.75), tmp_path / "again.toml")
    assert check_out_path(previous) == previous  # a tune file may be replaced


def test_progress_and_summary_lines() -> None:
    run = state(0.75)
    assert run.baseline is not None
    assert trial_line(run.baseline, run).startswith("trial 0 (current settings): recall@5 70.00")
    line = trial_line(run.trials[1], run)
    assert line.startswith("trial 2/3: recall@5 75.00 (best 75.00 at trial 2; current 70.00)")
    assert "ppr_damping=0.35" in line
    assert "refused (invalid retrieval settings)" in trial_line(run.trials[2], run)
    summary = "\n".join(summary_lines(run, Path("t.toml")))
    assert "current settings" in summary
    assert "best (trial 2)" in summary
    assert "hotpotqa_train (held out) 82.00" in summary
    assert "settings: t.toml" in summary
    data = run.to_dict()
    assert data["verdict"] == "recommended"
    assert data["recommended"] is True
    assert data["best"]["trial"] == 2
    assert data["best"]["holdout_score"] == 0.82
    assert data["baseline"]["holdout_score"] == 0.80
    assert [t["trial"] for t in data["trials"]] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"trials": 0}, ["--trials", "at least 1"]),
        ({"timeout": 0.0}, ["--timeout", "positive"]),
        ({"holdout": dataset("musique_train")}, ["--holdout", "same dataset"]),
        ({"modes": (RetrievalMode.NAIVE,)}, ["--modes", "naive", "local, hybrid, ppr"]),
        ({"modes": ()}, ["--modes"]),
    ],
)
def test_bad_requests(changes: dict[str, object], words: list[str]) -> None:
    with pytest.raises(EvaluationError) as caught:
        request(**changes)
    for word in words:
        assert word in str(caught.value)
