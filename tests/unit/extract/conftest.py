"""Helpers of the LLM extraction tests: the sample ontology, chunks, a scripted model stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphrag.config import LLMSettings, Settings, load_settings
from graphrag.extract.ontology import Ontology, load_ontology
from graphrag.llm import ChatModel, ScriptedChatModel, make_chat_model
from graphrag.llm.scripted import ScriptedCall, ScriptItem
from graphrag.models import Chunk

ROOT = Path(__file__).resolve().parents[3]
ONTOLOGY = ROOT / "samples" / "ontology.yaml"

BRIDGE = (
    "Tomas Brennick founded Brennick Structural Works in Northvale. "
    "The firm built the Lantern Bridge."
)


def make_chunk(
    text: str, ordinal: int = 0, document: str = "d1", tokens: int | None = None
) -> Chunk:
    return Chunk(
        id=f"{document}_c{ordinal}",
        document_id=document,
        ordinal=ordinal,
        text=text,
        start=0,
        end=len(text),
        token_count=tokens if tokens is not None else len(text.split()),
    )


def graph_reply(
    nodes: list[tuple[str, str]], edges: list[tuple[str, str, str]] = (), **props: Any
) -> str:
    """A json-engine reply: nodes as (id, type), relationships as (source, type, target)."""
    return json.dumps(
        {
            "nodes": [{"id": n, "type": t, "properties": props.get(n, {})} for n, t in nodes],
            "relationships": [{"source": s, "type": r, "target": t} for s, r, t in edges],
        }
    )


BRIDGE_REPLY = graph_reply(
    [
        ("Tomas Brennick", "Person"),
        ("Brennick Structural Works", "Organization"),
        ("Northvale", "Place"),
        ("Lantern Bridge", "Structure"),
    ],
    [
        ("Tomas Brennick", "FOUNDED", "Brennick Structural Works"),
        ("Brennick Structural Works", "BUILT", "Lantern Bridge"),
        ("Brennick Structural Works", "LOCATED_IN", "Northvale"),
    ],
)


@pytest.fixture
def ontology() -> Ontology:
    return load_ontology(ONTOLOGY)


@pytest.fixture
def llm_settings(tmp_path: Path) -> Settings:
    """Settings for an LLM tier: the sample ontology, a cache in tmp_path, no retry delays."""
    return load_settings(
        embedded={"path": tmp_path / "graph.db"},
        extraction={"tier": "llm", "ontology_path": ONTOLOGY},
        llm={
            "cache_path": tmp_path / "llm_cache.db",
            "retry_base_delay": 0.0,
            "retry_max_delay": 0.0,
            "max_concurrency": 2,
        },
    )


def stack(settings: Settings | LLMSettings, inner: ScriptedChatModel) -> ChatModel:
    """The whole chat-model stack (cache, meter, budget, retries) over a scripted model."""
    model = make_chat_model(settings, inner=inner)
    assert model is not None
    return model


def updated(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with some values of some sections changed (validated)."""
    changes = {
        name: type(getattr(settings, name)).model_validate(
            {**getattr(settings, name).model_dump(), **values}
        )
        for name, values in sections.items()
    }
    return settings.model_copy(update=changes)


class ByText(ScriptedChatModel):
    """Replies by the chunk text in the prompt (order-independent under concurrency)."""

    def __init__(self, replies: dict[str, str], default: str = "[]") -> None:
        super().__init__([], delay=0.001)
        self.replies, self.default = replies, default

    def _next(self, call: ScriptedCall) -> ScriptItem:
        self.calls.append(call)
        text = call.messages[1].content.removeprefix("Text:\n")
        return self.replies.get(text, self.default)
