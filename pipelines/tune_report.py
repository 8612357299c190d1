"""What ``graphrag tune`` writes and prints: the settings file, trial lines, the summary.

The settings file is TOML, the format ``graphrag --config FILE`` reads: a comment header with
the verdict and the scores (objective on the tuning set, held-out score, the current
settings' scores, trials, seed, date), then a ``[retrieval]`` table with only the tuned
knobs. When the best trial is not recommended (no gain on the tuning set, or it loses on the
held-out set) its values are written commented out, so loading the file changes nothing.
The first line starts with :data:`MARKER`; ``--out`` refuses to overwrite a file without it.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from graphrag.config import version
from graphrag.errors import ConfigError
from pipelines.tune_result import RECOMMENDED, TrialResult, TuneState
from pipelines.tune_space import Value

__all__ = [
    "MARKER",
    "check_out_path",
    "render_settings",
    "summary_lines",
    "trial_line",
    "write_settings",
]

MARKER = "# graphrag tune:"
"""The first characters of every settings file ``graphrag tune`` writes."""


def check_out_path(path: Path) -> Path:
    """Return ``path`` if the settings file may be written there (checked before the search).

    Raises:
        ConfigError: If it does not end in ``.toml``, is a folder, or is an existing file that
            ``graphrag tune`` did not write (a hand-written config is never overwritten).
    """
    if path.suffix.lower() != ".toml":
        msg = f"--out {path}: the settings file is TOML; give a path ending in .toml"
        raise ConfigError(msg)
    if path.is_dir():
        msg = f"--out {path} is a folder; give the path of a .toml file"
        raise ConfigError(msg)
    if path.exists():
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
        except OSError as exc:
            msg = f"--out {path} cannot be read ({exc.strerror or exc}); choose another path"
            raise ConfigError(msg) from exc
        if not first.startswith(MARKER):
            msg = (
                f"--out {path} exists and was not written by graphrag tune; choose another "
                "path (tune never overwrites a hand-written settings file)"
            )
            raise ConfigError(msg)
    return path


def _toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _header(state: TuneState) -> list[str]:
    request = state.request
    verdict, message = state.verdict()
    best, baseline = state.best(), state.baseline
    modes = ", ".join(m.value for m in request.modes)
    lines = [
        f"{MARKER} retrieval settings tuned on {request.dataset.name}",
        f"# verdict: {verdict}: {message}",
        f"# objective: {request.metric.name} averaged over the modes {modes}; "
        f"{len(state.trials)} of {request.trials} trials after the current settings "
        f"(TPE sampler, seed {request.seed})"
        + ("; stopped by --timeout" if state.timed_out else "")
        + ("; interrupted" if state.interrupted else ""),
    ]
    lines.append(
        f"# tuning set {request.dataset.name} ({len(request.dataset.questions)} questions): "
        f"{_scored(best, baseline)}"
    )
    holdout = request.holdout
    if holdout is None:
        lines.append("# held-out set: none (not checked for over-fitting)")
    else:
        lines.append(
            f"# held-out set {holdout.name} ({len(holdout.questions)} questions): "
            + (
                f"best trial {_pct(state.holdout_best)}, current settings "
                f"{_pct(state.holdout_baseline)}"
                if state.holdout_best is not None
                else "not scored"
            )
        )
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines.append(
        f"# written {stamp} by graphrag {version()} (started {state.started_at}; search "
        f"{state.search_seconds:.0f} s, held-out check {state.holdout_seconds:.0f} s)"
    )
    return lines


def _scored(best: TrialResult | None, baseline: TrialResult | None) -> str:
    current = "not scored" if baseline is None else _pct(baseline.score)
    if best is None:
        return f"no trial scored, current settings {current}"
    return f"best trial {best.number} {_pct(best.score)}, current settings {current}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def render_settings(state: TuneState, path: Path | None = None) -> str:
    """Return the settings file's text (see the module docstring).

    Args:
        state: The run (complete, or interrupted).
        path: Where it will be written (shown in the usage line).
    """
    verdict, _ = state.verdict()
    best = state.best()
    lines = _header(state)
    active = verdict in RECOMMENDED and best is not None
    if active:
        where = path or Path("FILE")
        lines.append(f'# use: graphrag query "..." --config {where}  (or GRAPHRAG_CONFIG_FILE)')
    else:
        lines.append(
            "# the values below are commented out: loading this file keeps the current settings"
        )
    lines.append("")
    lines.append("[retrieval]")
    if best is not None:
        prefix = "" if active else "# "
        lines += [f"{prefix}{name} = {_toml_value(v)}" for name, v in best.values.items()]
    return "\n".join(lines) + "\n"


def write_settings(state: TuneState, path: Path) -> Path:
    """Write the settings file atomically (a temporary file, then a rename); return ``path``.

    Raises:
        ConfigError: If the file cannot be written.
    """
    text = render_settings(state, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tune-", suffix=".toml")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).replace(path)
    except OSError as exc:
        msg = f"cannot write --out {path} ({exc.strerror or exc}); check the folder"
        raise ConfigError(msg) from exc
    return path


def trial_line(result: TrialResult, state: TuneState) -> str:
    """One progress line for a finished trial (stderr)."""
    metric = state.request.metric.name
    if result.number == 0:
        head = f"trial 0 (current settings): {metric} {_pct(result.score)}"
    else:
        head = f"trial {result.number}/{state.request.trials}: "
        if result.score is None:
            head += f"refused ({result.error})"
        else:
            best = state.best()
            head += f"{metric} {_pct(result.score)}"
            if best is not None:
                head += f" (best {_pct(best.score)} at trial {best.number}"
                head += f"; current {_pct(state.baseline.score if state.baseline else None)})"
    values = " ".join(f"{k}={v}" for k, v in result.values.items())
    return f"{head} in {result.seconds:.1f} s\n  {values}"


def summary_lines(state: TuneState, path: Path | None) -> list[str]:
    """The closing report: scores of the current settings and the best trial, the verdict."""
    request = state.request
    best, baseline = state.best(), state.baseline
    modes = ",".join(m.value for m in request.modes)
    lines = [
        f"{request.metric.name} ({modes}) tuned on {request.dataset.name}: "
        f"{len(state.trials)} trials, seed {request.seed}, search {state.search_seconds:.0f} s"
    ]
    held = request.holdout
    for label, trial, holdout in (
        ("current settings", baseline, state.holdout_baseline),
        (f"best (trial {best.number})" if best else "best", best, state.holdout_best),
    ):
        row = f"  {label:22s} {request.dataset.name} {_pct(trial.score if trial else None)}"
        if held is not None:
            row += f"   {held.name} (held out) {_pct(holdout)}"
        lines.append(row)
    lines.append(state.verdict()[1])
    if path is not None:
        lines.append(f"settings: {path}")
    return lines
