"""An OpenAI-compatible chat endpoint: GraphRAG as if it were a model.

``POST /v1/chat/completions`` answers the last user message with GraphRAG (streamed too),
so OpenAI clients, LangChain's ``ChatOpenAI`` and chat UIs can use the platform. The model
name picks the retrieval mode: ``graphrag`` (the configured default) or ``graphrag-<mode>``
(``graphrag-ppr``, ``graphrag-hybrid``...). The reply's text ends with its numbered sources,
and the citations are also returned as data: a top-level ``citations`` list (the last chunk
carries it when streaming). The answer's notes (citations removed, unverified or malformed
text, parts run without an LLM...) travel in an extension object OpenAI clients ignore:
a top-level ``graphrag`` object (:func:`extension`: ``notes``, ``citations``, ``mode``,
``kind``) in the response, or in the last chunk when streaming. Sampling parameters are
accepted and ignored. With an LLM
configured the answer is the model's (kind ``generated``), streamed token by token, and the
``usage`` is the model's; without one the extractive answer is streamed in word pieces.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Scope, scoped
from api.errors import ApiError, error_body, library_status
from api.metrics import REQUEST_ID
from api.security import Role
from graphrag.answer.streaming import AnswerStream
from graphrag.errors import GraphRAGError
from graphrag.models import Answer, RetrievalMode

router = APIRouter(prefix="/v1", tags=["openai"])

Reader = Annotated[Scope, Depends(scoped(Role.READER))]

MODEL = "graphrag"


class ChatMessage(BaseModel):
    """One message; ``content`` is text or a list of parts (only text parts are read)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The OpenAI chat completion request (unknown fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(default=MODEL, max_length=100)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "graphrag"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def model_mode(model: str) -> RetrievalMode | None:
    """The retrieval mode a model name asks for (``None``: the configured default).

    Raises:
        ApiError: 404 ``model_not_found`` for another model name.
    """
    if model == MODEL:
        return None
    prefix = MODEL + "-"
    if model.startswith(prefix):
        try:
            return RetrievalMode(model[len(prefix) :])
        except ValueError:
            pass
    names = ", ".join(card.id for card in _cards())
    raise ApiError(404, "model_not_found", f"unknown model {model!r}; use one of: {names}")


def _cards() -> list[ModelCard]:
    return [ModelCard(id=MODEL), *(ModelCard(id=f"{MODEL}-{m.value}") for m in RetrievalMode)]


def last_user_text(messages: list[ChatMessage]) -> str:
    """The text of the last user message.

    Raises:
        ApiError: 422 when there is no user message with text.
    """
    for message in reversed(messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        parts = [str(p.get("text", "")) for p in message.content or [] if p.get("type") == "text"]
        if any(parts):
            return "\n".join(parts)
    raise ApiError(422, "invalid_request", "no user message with text; send one to answer")


@router.get("/models", response_model=ModelList, summary="Models (OpenAI-compatible)")
async def models(scope: Reader) -> ModelList:
    """The model names: ``graphrag`` and one per retrieval mode."""
    return ModelList(data=_cards())


@router.post(
    "/chat/completions",
    response_model=None,
    summary="Chat completion (OpenAI-compatible)",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def chat_completions(body: ChatRequest, scope: Reader) -> Any:
    """Answer the last user message with GraphRAG, with citations."""
    mode = model_mode(body.model)
    question = scope.rag.check_question(last_user_text(body.messages))
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    if body.stream:
        events = _stream(scope, question, mode, body.model, completion_id)
        return EventSourceResponse(events, headers={"Cache-Control": "no-cache"})
    answer = await scope.rag.answer(question, mode=mode)
    content = with_sources(answer)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(question, content, answer),
        "citations": [c.model_dump(mode="json") for c in answer.citations],
        "graphrag": extension(answer),
        "system_fingerprint": None,
    }


def extension(answer: Answer) -> dict[str, Any]:
    """The ``graphrag`` extension object: what the OpenAI response has no field for.

    ``notes`` are the answer's warnings (as in ``/v1/query``), ``citations`` its checked
    citations, ``mode`` the retrieval mode and ``kind`` how the answer was made
    (``generated``, ``extractive``...).
    """
    return {
        "notes": list(answer.notes),
        "citations": [c.model_dump(mode="json") for c in answer.citations],
        "mode": answer.mode.value,
        "kind": answer.kind.value,
    }


def with_sources(answer: Answer) -> str:
    """The answer text followed by its numbered sources (what a chat UI shows)."""
    if not answer.citations:
        return answer.text
    lines = [f"[{c.marker}] {c.title} ({c.source})" for c in answer.citations]
    return answer.text + "\n\nSources:\n" + "\n".join(lines)


def _usage(question: str, content: str, answer: Answer) -> dict[str, int]:
    """The chat model's token usage when it wrote the answer, else word counts."""
    if answer.usage is not None:
        prompt, completion = answer.usage.prompt_tokens, answer.usage.completion_tokens
    else:
        prompt, completion = len(question.split()), len(content.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    data = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(
    scope: Scope, question: str, mode: RetrievalMode | None, model: str, cid: str
) -> AsyncIterator[str]:
    stream: AnswerStream | None = None
    try:
        stream = await scope.rag.answer_stream(question, mode=mode)
        yield _chunk(cid, model, {"role": "assistant", "content": ""})
        async for piece in stream:
            yield _chunk(cid, model, {"content": piece})
        answer = stream.answer
        sources = with_sources(answer)[len(answer.text) :]
        if sources:
            yield _chunk(cid, model, {"content": sources})
        last = json.loads(_chunk(cid, model, {}, "stop")[6:])
        last["citations"] = [c.model_dump(mode="json") for c in answer.citations]
        last["graphrag"] = extension(answer)
        yield f"data: {json.dumps(last, ensure_ascii=False)}\n\n"
    except GraphRAGError as exc:
        _, code = library_status(exc)
        yield f"data: {json.dumps(error_body(code, str(exc), REQUEST_ID.get()))}\n\n"
    finally:
        if stream is not None and not stream.done:
            await stream.aclose()  # the client left: stop the model
    yield "data: [DONE]\n\n"
