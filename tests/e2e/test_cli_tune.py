"""graphrag tune end to end: tiny dev sets built here, real spaCy and MiniLM, a few trials.

The two datasets are in the MuSiQue format (what ``graphrag eval`` reads): two-hop questions
over a dozen passages each. The runs are short (3 trials of 4 questions); what is checked is
the plumbing: indexes reused, the baseline equal to ``graphrag eval``'s figure, the same seed
asking the same values, a settings file that ``--config`` reads, Ctrl-C writing the best so
far, and every bad input named.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrag.config import RetrievalSettings
from pipelines.cli import app
from pipelines.tune_report import MARKER

TRACEBACK = "Traceback (most recent call last)"

# (title, text); questions below name passages by position.
SET_A = [
    ("Halden Observatory", "The Halden Observatory was founded by Sigrid Aas in 1911."),
    ("Sigrid Aas", "Sigrid Aas was born in Bergen and studied astronomy in Uppsala."),
    ("Bergen", "Bergen is a city on the west coast of Norway, known for its harbour."),
    ("Uppsala University", "Uppsala University is the oldest university in Sweden."),
    ("Marek Lind", "Marek Lind composed the Winter Cantata while living in Gdansk."),
    ("Winter Cantata", "The Winter Cantata was first performed at the Vasa Concert Hall."),
    ("Vasa Concert Hall", "The Vasa Concert Hall stands in Stockholm beside the old port."),
    ("Gdansk", "Gdansk is a port city in Poland on the Baltic Sea."),
    ("Toren Press", "Toren Press published the Atlas of Northern Lights in 1954."),
    ("Atlas of Northern Lights", "The Atlas of Northern Lights was edited by Ingrid Moe."),
    ("Ingrid Moe", "Ingrid Moe taught geography at the University of Tromso."),
    ("Tromso", "Tromso lies north of the Arctic Circle in Norway."),
]
QUESTIONS_A = [
    ("Where was the founder of the Halden Observatory born?", "Bergen", [0, 1]),
    (
        "In which city is the hall where the Winter Cantata was first performed?",
        "Stockholm",
        [5, 6],
    ),
    (
        "Where did the editor of the Atlas of Northern Lights teach?",
        "University of Tromso",
        [9, 10],
    ),
    ("Who composed the cantata first performed at the Vasa Concert Hall?", "Marek Lind", [4, 5]),
]
SET_B = [
    ("Karsk Bridge", "The Karsk Bridge was designed by the engineer Olaf Brenn."),
    ("Olaf Brenn", "Olaf Brenn graduated from the Technical College of Delft."),
    ("Technical College of Delft", "The Technical College of Delft trains engineers."),
    ("Lena Hart", "Lena Hart wrote the novel Grey Harbour in Aberdeen."),
    ("Grey Harbour", "Grey Harbour won the Northern Book Prize in 1988."),
    ("Northern Book Prize", "The Northern Book Prize is awarded in Edinburgh each spring."),
    ("Aberdeen", "Aberdeen is a port city in the north-east of Scotland."),
    ("Delft", "Delft is a city in the Netherlands known for its blue pottery."),
]
QUESTIONS_B = [
    ("Where did the designer of the Karsk Bridge graduate?", "Technical College of Delft", [0, 1]),
    ("Which prize did the novel by Lena Hart win?", "Northern Book Prize", [3, 4]),
    ("Where is the prize won by Grey Harbour awarded?", "Edinburgh", [4, 5]),
]


def write_dataset(folder: Path, corpus: list[tuple[str, str]], questions: list[Any]) -> Path:
    """Write ``<folder>/<name>.json`` and ``<name>_corpus.json`` in the MuSiQue format."""
    folder.mkdir(parents=True, exist_ok=True)
    name = folder.name
    records = []
    for n, (question, answer, gold) in enumerate(questions):
        paragraphs = [
            {"idx": i, "title": t, "paragraph_text": x, "is_supporting": i in gold}
            for i, (t, x) in enumerate(corpus)
        ]
        records.append(
            {"id": f"{name}_{n}", "question": question, "answer": answer, "paragraphs": paragraphs}
        )
    corpus_json = [{"title": t, "text": x} for t, x in corpus]
    (folder / f"{name}.json").write_text(json.dumps(records), encoding="utf-8")
    (folder / f"{name}_corpus.json").write_text(json.dumps(corpus_json), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tune")
    empty = root / "empty"
    empty.mkdir()
    (empty / "empty.json").write_text("[]", encoding="utf-8")
    (empty / "empty_corpus.json").write_text("[]", encoding="utf-8")
    return {
        "a": write_dataset(root / "tiny_a", SET_A, QUESTIONS_A),
        "b": write_dataset(root / "tiny_b", SET_B, QUESTIONS_B),
        "empty": empty,
        "indexes": root / "indexes",
        "root": root,
    }


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def tune_args(sets: dict[str, Path], out: Path, *extra: str | Path) -> list[str | Path]:
    return [
        "tune",
        "--dataset",
        sets["a"],
        "--holdout",
        sets["b"],
        "--trials",
        "3",
        "--seed",
        "5",
        "--index-root",
        sets["indexes"],
        "--out",
        out,
        *extra,
    ]


def test_tune_writes_a_settings_file_that_config_reads(sets: dict[str, Path]) -> None:
    out = sets["root"] / "tuned" / "tiny.toml"
    result = invoke(*tune_args(sets, out, "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dataset"] == "tiny_a"
    assert summary["holdout"] == "tiny_b"
    assert (summary["questions"], summary["holdout_questions"]) == (4, 3)
    assert (summary["metric"], summary["modes"], summary["seed"]) == ("recall@5", ["ppr"], 5)
    assert summary["trials_run"] == 3
    assert [t["trial"] for t in summary["trials"]] == [1, 2, 3]
    baseline = summary["baseline"]
    assert 0.0 <= baseline["score"] <= 1.0
    assert baseline["holdout_score"] is not None
    assert summary["best"]["holdout_score"] is not None
    assert summary["verdict"] in {"recommended", "overfit", "no_gain"}
    assert summary["out"] == str(out)
    # progress: one line per trial on stderr, the baseline first
    assert "trial 0 (current settings): recall@5" in result.stderr
    assert "trial 3/3: recall@5" in result.stderr

    text = out.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    assert "seed 5" in text
    assert "tuning set tiny_a (4 questions)" in text
    assert "held-out set tiny_b (3 questions)" in text
    shown = invoke("config", "show", "--config", out, "--json")
    assert shown.exit_code == 0, shown.output
    retrieval = json.loads(shown.stdout)["settings"]["retrieval"]
    best = summary["best"]["settings"]
    if summary["recommended"]:
        assert tomllib.loads(text)["retrieval"] == best
        assert {k: retrieval[k] for k in best} == best
    else:
        assert tomllib.loads(text) == {"retrieval": {}}
        assert retrieval == RetrievalSettings().model_dump()

    # Same seed, same data: the same values are asked and score the same (indexes reused).
    again = invoke(*tune_args(sets, out, "--json"))
    assert again.exit_code == 0, again.output
    repeat = json.loads(again.stdout)
    assert [t["settings"] for t in repeat["trials"]] == [t["settings"] for t in summary["trials"]]
    assert [t["score"] for t in repeat["trials"]] == [t["score"] for t in summary["trials"]]
    assert repeat["baseline"]["score"] == baseline["score"]
    assert repeat["seconds"]["index"] < summary["seconds"]["index"] + 30

    # The baseline is graphrag eval's figure for the same mode (same index, same ranking).
    evaluated = invoke(
        "eval", "--dataset", sets["a"], "--modes", "ppr", "--out", sets["indexes"] / "tiny_a",
        "--json",
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)
    ppr = next(m for m in scores["modes"] if m["mode"] == "ppr")
    assert scores["index"]["reused"] is True
    assert ppr["recall"]["R@5"] == pytest.approx(baseline["score"])


def test_human_output_and_a_second_mode(sets: dict[str, Path]) -> None:
    out = sets["root"] / "local.toml"
    result = invoke(*tune_args(sets, out, "--modes", "local,ppr", "--metric", "R@2"))
    assert result.exit_code == 0, result.output
    assert "recall@2 (local,ppr) tuned on tiny_a: 3 trials, seed 5" in result.stdout
    assert "current settings" in result.stdout
    assert f"settings: {out}" in " ".join(result.stdout.split())
    text = out.read_text(encoding="utf-8")
    assert "local_dense_weight" in text  # local's knobs are searched too
    assert "ppr_damping" in text
    assert "hybrid_dense_weight" not in text


def test_ctrl_c_writes_the_best_trial_so_far(
    sets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.tune_report as report

    real = report.trial_line

    def interrupt_after_two(result: Any, state: Any) -> str:
        if result.number == 2:
            raise KeyboardInterrupt
        return real(result, state)

    monkeypatch.setattr(report, "trial_line", interrupt_after_two)
    out = sets["root"] / "interrupted.toml"
    result = invoke(*tune_args(sets, out, "--trials", "10"))
    assert result.exit_code == 130, result.output
    assert "wrote the best trial so far" in result.stderr
    assert "interrupted" in result.stderr
    assert TRACEBACK not in result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    assert "2 of 10 trials" in text
    assert "; interrupted" in text
    assert "held-out set tiny_b (3 questions): not scored" in text


def test_without_holdout_the_file_says_it_is_unchecked(sets: dict[str, Path]) -> None:
    out = sets["root"] / "alone.toml"
    args = ["tune", "--dataset", sets["a"], "--trials", "1", "--index-root", sets["indexes"]]
    result = invoke(*args, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["holdout"] is None
    assert summary["verdict"] in {"unchecked", "no_gain"}
    assert "held-out set: none" in out.read_text(encoding="utf-8")


BAD = [
    ("--dataset {root}/nowhere", "--dataset {root}/nowhere: no such dataset folder"),
    ("--dataset {a} --holdout {root}/nowhere", "--holdout {root}/nowhere: no such dataset"),
    ("--dataset {empty}", "--dataset: {empty}/empty.json: holds no questions"),
    ("--dataset {a} --holdout {empty}", "--holdout: {empty}/empty.json: holds no questions"),
    ("--dataset {a} --holdout {a}", "--holdout names the same dataset as --dataset"),
    ("--dataset {a} --trials 0", "--trials must be at least 1 (got 0); pass e.g. --trials 20"),
    ("--dataset {a} --trials -3", "--trials must be at least 1"),
    ("--dataset {a} --timeout 0", "--timeout must be a positive number of seconds"),
    ("--dataset {a} --metric precision@5", "unknown --metric 'precision@5'; use one of: recall@2"),
    ("--dataset {a} --modes ppr,psychic", "unknown retrieval mode 'psychic'"),
    ("--dataset {a} --modes naive", "--modes: naive has no retrieval setting to tune"),
    ("--dataset {a} --out {root}/t.yaml", "the settings file is TOML; give a path ending in .toml"),
    ("--dataset {a} --out {root}/mine.toml", "exists and was not written by graphrag tune"),
    ("--dataset {a} --limit 0", "--limit"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_flag(sets: dict[str, Path], args: str, message: str) -> None:
    mine = sets["root"] / "mine.toml"
    mine.write_text("[retrieval]\ntop_k = 5\n", encoding="utf-8")
    places = {k: str(v) for k, v in sets.items()}
    result = invoke("tune", *[part.format(**places) for part in args.split()])
    assert result.exit_code == 2, result.output
    assert TRACEBACK not in result.output
    assert message.format(**places) in " ".join(result.stderr.split())
    assert result.stdout == ""
    assert mine.read_text(encoding="utf-8") == "[retrieval]\ntop_k = 5\n"


@pytest.mark.slow
def test_a_real_sigint_writes_the_best_so_far_and_exits_130(sets: dict[str, Path]) -> None:
    """The installed command, a real Ctrl-C (SIGINT) mid-search: the file is written in time."""
    import signal
    import subprocess
    import sys
    import time

    out = sets["root"] / "sigint.toml"
    command = [str(Path(sys.executable).with_name("graphrag")), *map(str, tune_args(sets, out))]
    command[command.index("3")] = "500"  # --trials: far more than will run
    process = subprocess.Popen(
        [*command, "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 240
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            if line.startswith("trial 2/500") or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert "wrote the best trial so far" in stderr
    assert TRACEBACK not in stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith(MARKER)
    assert "; interrupted" in text
    assert "of 500 trials" in text


def test_a_refused_trial_is_failed_and_the_search_goes_on(
    sets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.tune_job as job

    real = job.suggest_values
    calls: list[int] = []

    def second_is_invalid(trial: Any, knobs: Any) -> Any:
        values = real(trial, knobs)
        calls.append(1)
        return {**values, "ppr_damping": 1.5} if len(calls) == 2 else values

    monkeypatch.setattr(job, "suggest_values", second_is_invalid)
    out = sets["root"] / "refused.toml"
    result = invoke(*tune_args(sets, out, "--json"))
    assert result.exit_code == 0, result.output
    trials = json.loads(result.stdout)["trials"]
    assert [t["score"] is None for t in trials] == [False, True, False]
    assert "ppr_damping" in trials[1]["error"]
    assert "trial 2/3: refused (invalid retrieval settings" in result.stderr


def test_current_settings_off_the_search_grid_are_the_baseline(sets: dict[str, Path]) -> None:
    config = sets["root"] / "mine-off-grid.toml"
    config.write_text("[retrieval]\nppr_damping = 0.47\ntop_k = 5\n", encoding="utf-8")
    out = sets["root"] / "off-grid.toml"
    result = invoke(*tune_args(sets, out, "--trials", "1", "--config", config, "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["baseline"]["settings"]["ppr_damping"] == 0.47
    assert "top_k" not in summary["baseline"]["settings"]  # not a knob: never written


def test_without_optuna_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from graphrag.errors import ConfigError
    from pipelines.tune_job import _new_study

    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r"arango-graphrag-platform\[tune\]"):
        _new_study(None)  # type: ignore[arg-type]


def test_ctrl_c_while_indexing_writes_no_file(
    sets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.tune_job as job

    async def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "run_eval", interrupted)
    out = sets["root"] / "never.toml"
    result = invoke(*tune_args(sets, out))
    assert result.exit_code == 130, result.output
    assert "interrupted before the first trial: no settings file written" in result.stderr
    assert not out.exists()
