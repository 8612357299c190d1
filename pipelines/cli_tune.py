"""The ``graphrag tune`` command: search the retrieval settings on a dev set (optuna).

Registered on the app by :mod:`pipelines.cli`; the job is :mod:`pipelines.tune_job`, the file
and the lines it prints are :mod:`pipelines.tune_report`, the search space is
:mod:`pipelines.tune_space` (docs/tuning.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from graphrag.errors import EvaluationError
from pipelines import cli_common
from pipelines.cli_common import CommonOptions, emit_json, errors, say, shared, stderr
from pipelines.tune_result import DEFAULT_INDEX_ROOT

if TYPE_CHECKING:
    from graphrag.config import Settings
    from graphrag.evaluation import EvalDataset
    from pipelines.tune_result import TuneRequest, TuneState

DEFAULT_OUT = Path(".graphrag") / "tune"
"""Default folder of the settings file (``<dataset>.toml``)."""


@shared()
def tune(
    opts: CommonOptions,
    dataset: Annotated[
        Path,
        typer.Option("--dataset", help="Dev set to tune on: folder or questions JSON (HippoRAG)."),
    ],
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout",
            help="Dev set held out: the best trial is recommended only if it does not lose there.",
        ),
    ] = None,
    trials: Annotated[
        int, typer.Option("--trials", help="Trials after the current settings.")
    ] = 20,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Settings file to write (default .graphrag/tune/<name>.toml)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the TPE sampler.")] = 0,
    metric: Annotated[
        str, typer.Option("--metric", help="recall@2|5|10 or all_gold@5|8, mean over --modes.")
    ] = "recall@5",
    modes: Annotated[
        str, typer.Option("--modes", help="Comma-separated modes: local, hybrid, ppr.")
    ] = "ppr",
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Start no trial after SEC seconds of search."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="First N questions of each set (and their passages)."),
    ] = None,
    index_root: Annotated[
        Path, typer.Option("--index-root", help="Folder of the per-dataset indexes.")
    ] = DEFAULT_INDEX_ROOT,
    reuse_index: Annotated[
        bool, typer.Option("--reuse-index/--no-reuse-index", help="Keep a matching index.")
    ] = True,
) -> None:
    """Tune the retrieval settings on a dev set; write a settings file for --config.

    Scores the current settings, then --trials settings chosen by optuna's TPE sampler, by
    retrieval only. With --holdout, the best trial is scored on the held-out set too and
    recommended only if it does not lose there; otherwise its values are written commented
    out. Indexes live in <index-root>/<name>/ (shared with graphrag eval). Ctrl-C writes the
    best trial so far. See docs/tuning.md.
    """
    from pipelines.eval_job import parse_modes
    from pipelines.tune_result import TuneRequest, TuneState
    from pipelines.tune_space import parse_metric

    with errors():
        _check_numbers(trials, timeout)
        chosen_metric = parse_metric(metric)
        chosen_modes = tuple(parse_modes(modes))
        data = _load(dataset, "--dataset", limit)
        held = None if holdout is None else _load(holdout, "--holdout", limit)
        path = _out_path(out, data)
        settings = opts.settings()
        request = TuneRequest(
            dataset=data,
            metric=chosen_metric,
            modes=chosen_modes,
            trials=trials,
            seed=seed,
            holdout=held,
            timeout=timeout,
            index_root=index_root,
            reuse_index=reuse_index,
        )
        state = TuneState(request)
        _run(request, state, settings, path)
    if opts.as_json:
        emit_json({**state.to_dict(), "out": str(path)})
        return
    from pipelines.tune_report import summary_lines

    for line in summary_lines(state, path):
        say(line)


def _check_numbers(trials: int, timeout: float | None) -> None:
    if trials < 1:
        msg = f"--trials must be at least 1 (got {trials}); pass e.g. --trials 20"
        raise EvaluationError(msg)
    if timeout is not None and not timeout > 0:
        msg = f"--timeout must be a positive number of seconds (got {timeout}); e.g. --timeout 600"
        raise EvaluationError(msg)


def _load(path: Path, flag: str, limit: int | None) -> EvalDataset:
    """Read a dataset named by ``flag``; errors name the flag."""
    from graphrag.evaluation import load_dataset

    if not path.exists():
        msg = (
            f"{flag} {path}: no such dataset folder or questions file; pass a folder holding "
            "<name>.json and <name>_corpus.json (e.g. ../shared/data/musique_train)"
        )
        raise EvaluationError(msg)
    try:
        return load_dataset(path).slice(limit)
    except EvaluationError as exc:
        raise EvaluationError(f"{flag}: {exc}") from None


def _out_path(out: Path | None, data: EvalDataset) -> Path:
    from pipelines.tune_report import check_out_path

    return check_out_path(out or DEFAULT_OUT / f"{data.name}.toml")


def _run(request: TuneRequest, state: TuneState, settings: Settings, path: Path) -> None:
    """Run the job with progress on stderr; on Ctrl-C write the best trial so far, re-raise."""
    from pipelines.report import progress_bar, progress_callback
    from pipelines.tune_job import run_tune
    from pipelines.tune_report import trial_line, write_settings
    from pipelines.tune_result import TrialResult

    with progress_bar("tune", stderr) as bar:
        trials_done = progress_callback(bar, "trials")

        def on_trial(result: TrialResult, current: TuneState) -> None:
            bar.console.print(Text(trial_line(result, current), style="dim"), soft_wrap=True)
            trials_done(len(current.trials), request.trials)

        try:
            asyncio.run(
                run_tune(
                    request,
                    settings=settings,
                    opener=cli_common.open_components,
                    state=state,
                    index_progress=progress_callback(bar, "indexing"),
                    on_trial=on_trial,
                )
            )
        except KeyboardInterrupt:
            state.interrupted = True
            if state.baseline is None:
                note = "interrupted before the first trial: no settings file written"
            else:
                write_settings(state, path)
                note = f"interrupted: wrote the best trial so far to {path}"
            stderr.print(Text(note, style="yellow"), soft_wrap=True)
            raise
    write_settings(state, path)
    verdict, message = state.verdict()
    if verdict != "recommended":
        stderr.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)
