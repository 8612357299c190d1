"""The quick-start job: ingest the bundled sample corpus and answer its questions.

``graphrag demo`` builds the graph of ``samples/corpus/`` (a fictional city, written for the
project) into the configured store, prints the ingest summary, then answers every line of
``samples/questions.txt`` with the default retrieval mode, citations included. It needs no
LLM: answers are extractive, and the output says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from graphrag.errors import ConfigError, GraphRAGError
from graphrag.models import Answer
from graphrag.operations.ingest import IngestSummary, run_ingest
from graphrag.runtime import Components
from pipelines.report import ingest_table, print_answer, print_failures

logger = logging.getLogger(__name__)

DEMO_DB = Path(".graphrag/demo.db")


@dataclass
class DemoResult:
    """What the demo did."""

    summary: IngestSummary
    answers: list[Answer] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def samples_dir() -> Path:
    """Return the bundled ``samples/`` folder (repository checkout, else the working dir).

    Raises:
        ConfigError: If no ``samples/corpus`` folder can be found.
    """
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        candidate = root / "samples"
        if (candidate / "corpus").is_dir():
            return candidate
    msg = "the sample corpus (samples/corpus) was not found; run the demo from the project folder"
    raise ConfigError(msg)


def read_questions(path: Path) -> list[str]:
    """Return the non-empty lines of a questions file (``#`` starts a comment line).

    Raises:
        ConfigError: If the file cannot be read or holds no question.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"cannot read the questions file {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    questions = [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]
    if not questions:
        msg = f"{path} holds no question; write one question per line"
        raise ConfigError(msg)
    return questions


async def run_demo(
    components: Components,
    console: Console,
    *,
    samples: Path | None = None,
) -> DemoResult:
    """Ingest the sample corpus, print the summary and answer the sample questions.

    Args:
        components: Open components (the store is the demo store).
        console: Where to print.
        samples: The samples folder (default: :func:`samples_dir`).

    Returns:
        The ingest summary, the answers and any per-question errors.
    """
    root = samples or samples_dir()
    questions = read_questions(root / "questions.txt")
    summary = await run_ingest(components, [root / "corpus"])
    console.print(ingest_table(summary))
    print_failures(console, summary.failures)
    result = DemoResult(summary=summary)
    mode = components.retrieval.default_mode
    console.print(
        f"\nAnswering {len(questions)} questions with mode [bold]{mode.value}[/bold]. "
        "No LLM is configured, so answers are extractive: quoted sentences with citations.\n"
        if not components.settings.llm.enabled
        else f"\nAnswering {len(questions)} questions with mode {mode.value}.\n",
        soft_wrap=True,
    )
    for number, question in enumerate(questions, start=1):
        console.rule(f"question {number}")
        try:
            context = await components.retrieval.retrieve(question, mode=mode)
            answer = await components.answerer.answer(question, context)
        except GraphRAGError as exc:
            logger.warning("question %d failed: %s", number, exc)
            result.errors.append((question, str(exc)))
            print_failures(console, [(f"question {number}", str(exc))])
            continue
        result.answers.append(answer)
        print_answer(console, answer, show_context=False)
    return result
