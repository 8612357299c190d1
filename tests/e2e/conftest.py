"""End-to-end fixtures: the CLI runs with the session's preloaded models.

``pipelines.cli_common.open_components`` is the CLI's component factory; here it is replaced
(for the whole e2e session) by one that passes the session ``embedder``, ``extractor`` and a shared
question analyzer to :func:`graphrag.runtime.open_components`, so spaCy and MiniLM load once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

CORPUS: dict[str, str] = {
    "harbor.txt": (
        "The Port of Norrvik was founded by Ingrid Halvorsen in 1902. "
        "Ingrid Halvorsen later moved to Bergen, where she opened a shipyard.\n\n"
        "The harbour authority of Norrvik is run by the Norrvik Maritime Council."
    ),
    "council.md": (
        "# Norrvik Maritime Council\n\n"
        "The Norrvik Maritime Council manages the Port of Norrvik. "
        "Its chair is Lars Eriksen, who studied at the University of Oslo.\n"
    ),
    "ships.json": (
        '[{"id": "aurora", "title": "Aurora", "text": "The Aurora is a ferry built in Bergen '
        'by the Halvorsen Shipyard. It sails between Norrvik and Tromso."},'
        ' {"id": "borealis", "title": "Borealis", "text": "The Borealis is a cargo ship '
        'owned by Nordlys Shipping, a company based in Oslo."}]'
    ),
    "broken.json": '{"title": "Broken", "text": ',
}


@pytest.fixture(scope="session")
def analyzer() -> Any:
    from graphrag.config import ExtractionSettings
    from graphrag.retrieve.question import QuestionAnalyzer

    return QuestionAnalyzer(ExtractionSettings(processes=1))


@pytest.fixture(scope="session", autouse=True)
def _preloaded_components(embedder: Any, extractor: Any, analyzer: Any) -> Iterator[None]:
    import pipelines.cli_common as cli
    from graphrag.runtime import open_components

    async def opener(settings: Any) -> Any:
        return await open_components(
            settings, embedder=embedder, extractor=extractor, analyzer=analyzer
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "open_components", opener)
        yield


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_corpus(folder: Path) -> Path:
    """Write the small e2e corpus (three good files, one malformed JSON) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
