"""Answer EM/F1 (SQuAD normalisation, aliases) and the evaluation job's LLM answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from graphrag.errors import InvalidArgumentError
from graphrag.evaluation import (
    ModeScores,
    answer_span,
    best_scores,
    contains_answer,
    exact_match,
    f1_score,
    load_dataset,
    normalize_answer,
    score_answers,
    score_containment,
)
from graphrag.evaluation.datasets import EvalDataset, EvalQuestion, Passage
from graphrag.llm import BudgetExceededError, LLMConfigError
from graphrag.models import RetrievalMode
from tests.conftest import SHARED_DATA


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The G. Stanley  Hall!", "g stanley hall"),
        ("  An apple, a pear and THE plum. ", "apple pear and plum"),
        ("Theatre of the Absurd", "theatre of absurd"),  # "the" only as a word
        ("U.S.A.", "usa"),
        ("rock'n'roll", "rocknroll"),
        ("\tline\nbreaks\r\n", "line breaks"),
        ("", ""),
    ],
)
def test_normalisation_is_squads(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_exact_match_compares_normalised_texts() -> None:
    assert exact_match("The Velmora Institute.", "velmora institute") == 1.0
    assert exact_match("Velmora Polytechnic Institute", "Velmora Institute") == 0.0


def test_f1_counts_shared_tokens() -> None:
    assert f1_score("Stanley Hall, the psychologist", "G. Stanley Hall") == pytest.approx(2 / 3)
    assert f1_score("Paris", "Paris") == 1.0
    assert f1_score("London", "Paris") == 0.0
    assert f1_score("the", "Paris") == 0.0  # empty after normalisation
    assert f1_score("a", "the") == 1.0  # both empty
    assert f1_score("paris paris", "paris") == pytest.approx(2 / 3)  # counts, not sets


def test_aliases_count_and_the_best_score_wins() -> None:
    assert best_scores("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"]) == (1.0, 1.0)
    em, f1 = best_scores("G. Stanley Hall was first", ["G. Stanley Hall", "Stanley Hall"])
    assert em == 0.0
    assert f1 == pytest.approx(2 * 0.6 * 1.0 / 1.6)
    assert best_scores("x", []) == (0.0, 0.0)
    assert best_scores("x", ["", "  "]) == (0.0, 0.0)


def test_generated_answers_are_scored_without_markers() -> None:
    assert answer_span("G. Stanley Hall [2][3].") == "G. Stanley Hall."
    assert answer_span("Paris [1, 2]") == "Paris"
    assert answer_span("The context does not say.") == ""
    assert exact_match(answer_span("Stanley Hall [1]."), "Stanley Hall") == 1.0


@pytest.mark.parametrize(
    ("text", "golds", "inside"),
    [
        ("G. Stanley Hall was its first president [2].", ["G. Stanley Hall"], True),
        ("Hall, who led the APA [1].", ["G. Stanley Hall", "Stanley Hall"], False),
        ("Hall, who led the APA [1].", ["the APA"], True),  # articles and punctuation go
        ("Stanley Hall's term", ["Stanley Hall"], False),  # "halls" is another token
        ("Hallam was there.", ["Hall"], False),  # whole tokens only
        ("It rose 35 % in 1990 [35].", ["35"], True),
        ("See the source [35].", ["35"], False),  # a citation marker is not text
        ("THE   Anglican\nCommunion, mostly", ["the Anglican Communion"], True),
        ("anything", ["", "  ", "the"], False),  # golds empty after normalisation
        ("anything", [], False),
    ],
)
def test_containment_is_a_whole_token_run_after_normalisation(
    text: str, golds: list[str], inside: bool
) -> None:
    assert contains_answer(text, golds) is inside


def test_score_containment_averages_judgements_and_scores_spans() -> None:
    scores = score_containment(
        [True, False, False, True],
        [True, True, False, True],
        ["G. Stanley Hall", "Lyon", None, "Paris, France"],
        [["G. Stanley Hall", "Stanley Hall"], ["Bern"], ["Oslo"], ["Paris"]],
    )
    assert (scores.questions, scores.answer, scores.top_chunks) == (4, 0.5, 0.75)
    assert scores.spans == 3
    assert scores.span_em == pytest.approx(1 / 4)
    assert scores.span_f1 == pytest.approx((1.0 + 2 * 0.5 / 1.5) / 4)
    assert scores.to_dict() == {
        "questions": 4,
        "answer_contains_gold": 0.5,
        "top5_contains_gold": 0.75,
        "span_EM": scores.span_em,
        "span_F1": scores.span_f1,
        "spans": 3,
    }
    scores.generated = 0.25
    assert scores.to_dict()["llm_answer_contains_gold"] == 0.25
    empty = score_containment([], [], [], [])
    assert (empty.questions, empty.answer, empty.top_chunks, empty.spans) == (0, 0.0, 0.0, 0)
    with pytest.raises(InvalidArgumentError, match="one of each per question"):
        score_containment([True], [True, False], [None], [["x"]])


def test_score_answers_averages_and_counts_not_supported() -> None:
    scores = score_answers(
        ["G. Stanley Hall [1].", "The context does not say.", "Lyon [2]"],
        [["G. Stanley Hall", "Stanley Hall"], ["Bern"], ["Paris"]],
        errors=1,
    )
    assert scores.questions == 3
    assert scores.em == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(1 / 3)
    assert scores.not_supported == 1
    assert scores.to_dict() == {
        "questions": 3,
        "EM": scores.em,
        "F1": scores.f1,
        "not_supported": 1,
        "errors": 1,
    }
    empty = score_answers([], [])
    assert (empty.questions, empty.em, empty.f1) == (0, 0.0, 0.0)
    with pytest.raises(InvalidArgumentError):
        score_answers(["a"], [])


def test_mode_scores_list_answers_only_when_measured() -> None:
    plain = ModeScores(mode="ppr", questions=1, recall={}, all_gold={})
    assert "answers" not in plain.to_dict()
    assert "containment" not in plain.to_dict()
    plain.containment = score_containment([True], [True], [None], [["Paris"]])
    assert plain.to_dict()["containment"]["answer_contains_gold"] == 1.0
    plain.answers = score_answers(["Paris [1]"], [["Paris"]])
    assert plain.to_dict()["answers"] == {
        "questions": 1,
        "EM": 1.0,
        "F1": 1.0,
        "not_supported": 0,
        "errors": 0,
    }


def write_musique(folder: Path) -> Path:
    corpus = [{"title": "Hall", "text": "G. Stanley Hall led the APA."}]
    questions = [
        {
            "id": "q1",
            "question": "Who led the APA first?",
            "answer": "G. Stanley Hall",
            "answer_aliases": ["Stanley Hall", 7],
            "paragraphs": [
                {"title": "Hall", "paragraph_text": corpus[0]["text"], "is_supporting": True}
            ],
        }
    ]
    folder.mkdir()
    (folder / "tiny.json").write_text(json.dumps(questions), encoding="utf-8")
    (folder / "tiny_corpus.json").write_text(json.dumps(corpus), encoding="utf-8")
    return folder


def test_musique_aliases_are_read(tmp_path: Path) -> None:
    question = load_dataset(write_musique(tmp_path / "tiny")).questions[0]
    assert question.answer == "G. Stanley Hall"
    assert question.aliases == ["Stanley Hall"]
    assert question.gold_answers == ["G. Stanley Hall", "Stanley Hall"]
    assert EvalQuestion("q", "?", [("t", "x")]).gold_answers == []


@pytest.mark.skipif(
    not (SHARED_DATA / "musique_train").is_dir(), reason="the shared dev sets are not here"
)
def test_the_dev_sets_gold_answers() -> None:
    musique = load_dataset(SHARED_DATA / "musique_train")
    first = musique.questions[0]
    assert first.gold_answers == ["G. Stanley Hall", "Stanley Hall"]
    assert sum(1 for q in musique.questions if q.aliases) >= 20
    assert all(q.gold_answers for q in musique.questions)
    hotpot = load_dataset(SHARED_DATA / "hotpotqa_train")
    assert all(q.gold_answers and not q.aliases for q in hotpot.questions)


class NoExtractor:
    """An extractor that finds nothing (answers here only need chunks)."""

    name = "none"

    async def extract(self, chunks: Sequence[Any]) -> list[Any]:
        from graphrag.models import ChunkExtraction

        return [ChunkExtraction(chunk_id=chunk.id) for chunk in chunks]


class NoEntities:
    def entities(self, question: str) -> list[str]:
        return []


def tiny_dataset() -> EvalDataset:
    texts = [
        ("Hall", "G. Stanley Hall was the first president of the APA."),
        ("Bern", "Albert Einstein worked at the patent office in Bern."),
    ]
    passages = [Passage(title=t, text=x, index=i) for i, (t, x) in enumerate(texts)]
    questions = [
        EvalQuestion(
            "q1", "Who was the first APA president?", [texts[0]], [0], "G. Stanley Hall",
            aliases=["Stanley Hall"],
        ),
        EvalQuestion("q2", "Where did Einstein work?", [texts[1]], [1], "Bern"),
        EvalQuestion("q3", "No gold answer here?", [texts[1]], [1], None),
    ]  # fmt: skip
    return EvalDataset(name="tiny", passages=passages, questions=questions)


async def run_with_llm(tmp_path: Path, hash_embedder: Any, script: list[Any], **llm: Any) -> Any:
    from graphrag.config import load_settings
    from graphrag.llm import ScriptedChatModel, make_chat_model
    from graphrag.runtime import open_components
    from pipelines.eval_job import run_eval

    inner = ScriptedChatModel(script)
    section = {"cache": False, "retry_base_delay": 0.0, "retry_max_delay": 0.0, **llm}
    model = make_chat_model(load_settings(llm=section), inner=inner)

    async def opener(settings: Any) -> Any:
        return await open_components(
            settings,
            embedder=hash_embedder,
            extractor=NoExtractor(),
            analyzer=NoEntities(),  # type: ignore[arg-type]
            chat_model=model,
        )

    run = await run_eval(
        tiny_dataset(),
        settings=load_settings(),
        opener=opener,
        out_dir=tmp_path / "eval",
        modes=[RetrievalMode.NAIVE, RetrievalMode.BM25],
    )
    return run, inner


async def test_eval_scores_the_llm_answers_per_mode(tmp_path: Path, hash_embedder: Any) -> None:
    script = ["Stanley Hall [1].", "He worked in Bern [1]", "The context does not say.", "Zurich"]
    run, inner = await run_with_llm(tmp_path, hash_embedder, script)

    assert len(inner.calls) == 4  # two questions with a gold answer, two modes
    naive, bm25 = run.scores
    assert naive.answers is not None
    assert bm25.answers is not None
    assert (naive.answers.questions, naive.answers.em) == (2, 0.5)
    assert naive.answers.f1 == pytest.approx((1.0 + 2 * (1 / 4) * 1.0 / (1 / 4 + 1.0)) / 2)
    assert (bm25.answers.em, bm25.answers.f1, bm25.answers.not_supported) == (0.0, 0.0, 1)
    first = run.details["naive"][0]
    assert (first.prediction, first.em, first.f1) == ("Stanley Hall [1].", 1.0, 1.0)
    assert run.details["naive"][2].prediction is None  # no gold answer: not asked
    data = run.to_dict()
    assert data["modes"][0]["answers"]["EM"] == 0.5
    assert data["per_question"]["naive"][0]["prediction"] == "Stanley Hall [1]."
    from pipelines.report import eval_markdown

    table = eval_markdown(run).splitlines()
    assert table[4].endswith("| p95 ms | answered | EM | F1 | not supported |")
    assert table[6].startswith("| naive |")
    assert table[6].endswith("| 2/2 | 50.0 | 70.0 | 0/2 |")
    assert table[7].endswith("| 2/2 | 0.0 | 0.0 | 1/2 |")
    assert len(table) == 8  # nothing under the table: every answer came
    assert run.answer_problems() == []
    assert data["llm_answers"]["answered"] == 4
    assert data["answer_problems"] == []
    assert inner.checks == 1  # the endpoint was checked once, before indexing
    # the LLM's answers that contain the gold (or an alias), beside the extractive answers'
    assert naive.containment is not None
    assert bm25.containment is not None
    assert (naive.containment.generated, bm25.containment.generated) == (1.0, 0.0)
    assert (first.llm_contains, run.details["bm25"][0].llm_contains) == (True, False)
    assert "| ans⊇gold | top5⊇gold | span EM | span F1 | LLM⊇gold | p50 ms |" in table[4]


async def test_a_budget_stop_ends_the_answers_not_the_evaluation(
    tmp_path: Path, hash_embedder: Any
) -> None:
    run, inner = await run_with_llm(tmp_path, hash_embedder, ["x"], max_tokens_per_run=10)
    assert inner.calls == []
    for scores in run.scores:
        assert scores.answers is not None
        assert (scores.answers.questions, scores.answers.errors) == (0, 2)
        assert scores.recall  # retrieval is still scored
    assert "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN" in str(run.details["bm25"][1].answer_error)
    (line,) = run.answer_problems()
    assert line.startswith("LLM answers stopped by the budget after 0 of 4: ")
    assert "GRAPHRAG_LLM__MAX_TOKENS_PER_RUN" in line
    from pipelines.report import eval_markdown

    markdown = eval_markdown(run)
    assert "| 0/2 | n/a | n/a | n/a |" in markdown
    assert f"**{line}**" in markdown
    assert run.to_dict()["answer_problems"] == [line]


BUDGET = BudgetExceededError(used=900, needed=500, limit=1000, unit="tokens")
UNAUTHORIZED = LLMConfigError("the LLM endpoint answered HTTP 401: set GRAPHRAG_LLM__API_KEY")


@pytest.mark.parametrize(
    ("script", "lines", "cells"),
    [
        (
            [UNAUTHORIZED] * 4,
            [f"LLM answers: 4 of 4 failed (first error: {UNAUTHORIZED})"],
            ["| 0/2 | n/a | n/a | n/a |", "| 0/2 | n/a | n/a | n/a |"],
        ),
        (
            ["Stanley Hall [1].", UNAUTHORIZED, "Stanley Hall", "Bern [1]"],
            [f"LLM answers: 1 of 4 failed (first error: {UNAUTHORIZED})"],
            ["| 1/2 | 100.0 | 100.0 | 0/1 |", "| 2/2 | 100.0 | 100.0 | 0/2 |"],
        ),
        (
            ["Stanley Hall [1].", BUDGET],
            [f"LLM answers stopped by the budget after 1 of 4: {BUDGET}"],
            ["| 1/2 | 100.0 | 100.0 | 0/1 |", "| 0/2 | n/a | n/a | n/a |"],
        ),
        (
            [UNAUTHORIZED, "Bern [1]", BUDGET],
            [
                f"LLM answers: 1 of 4 failed (first error: {UNAUTHORIZED})",
                f"LLM answers stopped by the budget after 2 of 4: {BUDGET}",
            ],
            ["| 1/2 | 100.0 | 100.0 | 0/1 |", "| 0/2 | n/a | n/a | n/a |"],
        ),
    ],
)
async def test_failed_or_stopped_answers_are_summarised(
    tmp_path: Path, hash_embedder: Any, script: list[Any], lines: list[str], cells: list[str]
) -> None:
    from pipelines.report import eval_markdown, eval_table

    run, _ = await run_with_llm(tmp_path, hash_embedder, script)

    assert run.answer_problems() == lines
    markdown = eval_markdown(run).splitlines()
    assert markdown[6].endswith(cells[0])
    assert markdown[7].endswith(cells[1])
    assert markdown[8:] == [
        "",
        *(f"**{line}**" for line in lines),
        "",
        "EM and F1 are over the answered questions only (see `answered`).",
    ]
    assert run.to_dict()["answer_problems"] == lines
    assert all(scores.recall for scores in run.scores)  # retrieval is still scored
    table = eval_table(run.scores)
    assert [column.header for column in table.columns][-4:] == [
        "answered",
        "EM",
        "F1",
        "not supported",
    ]
    assert list(table.columns[-4].cells) == [c.split(" | ")[0][2:] for c in cells]


@pytest.fixture
def eval_cli(monkeypatch: pytest.MonkeyPatch, hash_embedder: Any) -> dict[str, Any]:
    """The CLI's components get a scripted LLM (``state["script"]``) and the fake models."""
    import pipelines.cli_common as cli
    from graphrag.config import load_settings
    from graphrag.llm import ScriptedChatModel, make_chat_model
    from graphrag.runtime import open_components

    state: dict[str, Any] = {"script": []}

    async def opener(settings: Any) -> Any:
        inner = ScriptedChatModel(state["script"])
        section = {"cache": False, "retry_base_delay": 0.0, "retry_max_delay": 0.0}
        model = make_chat_model(load_settings(llm=section), inner=inner)
        return await open_components(
            settings,
            embedder=hash_embedder,
            extractor=NoExtractor(),
            analyzer=NoEntities(),  # type: ignore[arg-type]
            chat_model=model,
        )

    monkeypatch.setattr(cli, "open_components", opener)
    return state


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_eval_exits_1_with_one_line_when_answers_fail(
    eval_cli: dict[str, Any], tmp_path: Path, as_json: bool
) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    folder, out = write_musique(tmp_path / "tiny"), tmp_path / "out"
    args = ["eval", "--dataset", str(folder), "--modes", "naive,bm25", "--out", str(out)]
    args += ["--json"] if as_json else []
    eval_cli["script"] = [UNAUTHORIZED] * 2
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1, result.output
    expected = f"LLM answers: 2 of 2 failed (first error: {UNAUTHORIZED})"
    assert [line for line in result.stderr.splitlines() if "LLM answers" in line] == [expected]
    if as_json:
        assert json.loads(result.stdout)["answer_problems"] == [expected]
    else:
        assert "0/1" in result.stdout
    assert f"**{expected}**" in (out / "results.md").read_text(encoding="utf-8")
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [m["mode"] for m in data["modes"]] == ["naive", "bm25"]
    assert data["modes"][0]["recall"]  # retrieval scores are still written
    assert data["modes"][0]["answers"]["errors"] == 1

    eval_cli["script"] = ["G. Stanley Hall [1].", BUDGET]
    stopped = CliRunner().invoke(app, args)
    assert stopped.exit_code == 1, stopped.output
    lines = [line for line in stopped.stderr.splitlines() if "LLM answers" in line]
    assert lines == [f"LLM answers stopped by the budget after 1 of 2: {BUDGET}"]

    eval_cli["script"] = ["G. Stanley Hall [1]."] * 2
    fine = CliRunner().invoke(app, args)
    assert fine.exit_code == 0, fine.output
    assert "LLM answers" not in fine.stderr


async def test_without_an_llm_there_are_no_answer_scores(
    tmp_path: Path, hash_embedder: Any
) -> None:
    from graphrag.config import load_settings
    from graphrag.runtime import open_components
    from pipelines.eval_job import run_eval

    async def opener(settings: Any) -> Any:
        return await open_components(
            settings,
            embedder=hash_embedder,
            extractor=NoExtractor(),
            analyzer=NoEntities(),  # type: ignore[arg-type]
        )

    run = await run_eval(
        tiny_dataset(),
        settings=load_settings(),
        opener=opener,
        out_dir=tmp_path / "eval",
        modes=[RetrievalMode.NAIVE],
    )
    assert run.scores[0].answers is None
    assert "answers" not in run.to_dict()["modes"][0]
    assert run.details["naive"][0].prediction is None
    from pipelines.report import containment_table, eval_markdown, eval_table

    markdown = eval_markdown(run)
    assert "| p95 ms |" in markdown
    # no LLM columns (the containment columns score the extractive answers)
    assert "| EM |" not in markdown
    assert "answered" not in markdown
    assert "LLM⊇gold" not in markdown
    assert [c.header for c in eval_table(run.scores).columns][-2:] == ["p50 ms", "p95 ms"]
    table = containment_table(run.scores)
    assert table is not None
    assert [c.header for c in table.columns] == [
        "mode", "ans⊇gold", "top5⊇gold", "span EM", "span F1",
    ]  # fmt: skip


async def test_eval_measures_answer_containment_without_an_llm(
    tmp_path: Path, hash_embedder: Any
) -> None:
    from graphrag.config import load_settings
    from graphrag.runtime import open_components
    from pipelines.eval_job import run_eval
    from pipelines.report import CONTAINMENT_LEGEND, write_eval_report

    async def opener(settings: Any) -> Any:
        return await open_components(
            settings,
            embedder=hash_embedder,
            extractor=NoExtractor(),
            analyzer=NoEntities(),  # type: ignore[arg-type]
        )

    run = await run_eval(
        tiny_dataset(),
        settings=load_settings(),
        opener=opener,
        out_dir=tmp_path / "eval",
        modes=[RetrievalMode.NAIVE, RetrievalMode.BM25],
    )
    naive = run.scores[0].containment
    assert naive is not None
    assert naive.questions == 2  # q3 has no gold answer
    assert (naive.answer, naive.top_chunks) == (1.0, 1.0)
    assert naive.generated is None  # no LLM
    hall, bern, unknown = run.details["naive"]
    assert hall.answer is not None
    assert "G. Stanley Hall" in hall.answer
    assert (hall.answer_contains, hall.top5_contains) == (True, True)
    # real spaCy: who -> a person, where -> a place
    assert (hall.short_answer, bern.short_answer) == ("G. Stanley Hall", "Bern")
    assert (naive.spans, naive.span_em, naive.span_f1) == (2, 1.0, 1.0)
    assert (unknown.answer_contains, unknown.top5_contains) == (None, None)

    paths = write_eval_report(run)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["modes"][0]["containment"]["answer_contains_gold"] == 1.0
    assert data["modes"][0]["containment"]["top5_contains_gold"] == 1.0
    assert data["per_question"]["naive"][0]["short_answer"] == "G. Stanley Hall"
    lines = paths["markdown"].read_text(encoding="utf-8").splitlines()
    assert lines[2].endswith(CONTAINMENT_LEGEND)
    assert "| AG@8 | ans⊇gold | top5⊇gold | span EM | span F1 | p50 ms |" in lines[4]
    assert lines[6].startswith("| naive |")
    assert "| 100.0 | 100.0 | 100.0 | 100.0 |" in lines[6]
