"""Helpers of the LLM answerer tests: a scripted model through the real stack, contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphrag.config import load_settings
from graphrag.llm import ChatModel, ScriptedChatModel, make_chat_model
from graphrag.llm.scripted import ScriptItem
from graphrag.models import RetrievalMode, RetrievedContext, ScoredChunk

TEXTS = [
    "Brennick & Vale Engineering built the Lantern Bridge. Work started in 1978.",
    "Tomas Brennick founded Brennick & Vale. He studied at the Velmora Polytechnic Institute.",
    "The Lantern Festival is held on the bridge deck every September.",
]


def chunk(i: int, text: str) -> ScoredChunk:
    return ScoredChunk(
        id=f"c_{i}",
        document_id=f"d_{i}",
        source=f"/docs/{i}.txt",
        title=f"Doc {i}",
        ordinal=0,
        text=text,
        score=1.0 - i / 10,
        token_count=len(text.split()),
    )


def context(texts: list[str] | None = None, **extra: Any) -> RetrievedContext:
    chosen = TEXTS if texts is None else texts
    return RetrievedContext(
        question="q",
        mode=extra.pop("mode", RetrievalMode.PPR),
        chunks=[chunk(i, t) for i, t in enumerate(chosen, start=1)],
        **extra,
    )


def scripted_stack(
    script: list[ScriptItem],
    *,
    cache: Path | None = None,
    **llm: Any,
) -> tuple[ChatModel, ScriptedChatModel]:
    """The whole make_chat_model stack (cache, budget, retries) over a scripted model."""
    inner = ScriptedChatModel(script)
    section: dict[str, Any] = {
        "cache": cache is not None,
        "retry_base_delay": 0.0,
        "retry_max_delay": 0.0,
        "max_retries": 2,
        **llm,
    }
    if cache is not None:
        section["cache_path"] = cache
    model = make_chat_model(load_settings(llm=section), inner=inner)
    assert model is not None
    return model, inner
