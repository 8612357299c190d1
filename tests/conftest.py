"""Session-wide fixtures: heavy models load once per test session.

Fixtures:
    settings: default settings with the store in a temporary folder.
    embedder: the real MiniLM embedder (loaded once).
    extractor: the real spaCy extractor, one process (loaded once).
    hash_embedder: a deterministic fake embedder (fast, no model).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's GRAPHRAG_ variables (except the Arango URL) out of tests."""
    for key in list(os.environ):
        if key.startswith("GRAPHRAG_") and not key.startswith("GRAPHRAG_ARANGO__"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from graphrag.config import load_settings

    return load_settings(embedded={"path": tmp_path / "graph.db"})


@pytest.fixture(scope="session")
def embedder() -> Any:
    from graphrag.config import EmbeddingSettings
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(EmbeddingSettings())


@pytest.fixture(scope="session")
def extractor() -> Any:
    from graphrag.config import ExtractionSettings
    from graphrag.extract.spacy_extractor import SpacyExtractor

    return SpacyExtractor(ExtractionSettings(processes=1))


@pytest.fixture
def hash_embedder() -> Any:
    from graphrag.testing.fakes import HashEmbedder

    return HashEmbedder(dim=32)
