"""Asking: retrieve context, answer with citations, and the streaming answer over SSE."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel

from api.deps import Scope, scoped
from api.errors import error_body, library_status
from api.metrics import REQUEST_ID
from api.schemas import AskRequest
from api.security import Role
from graphrag.answer.streaming import AnswerStream, word_pieces
from graphrag.errors import GraphRAGError
from graphrag.models import Answer, RetrievedContext

router = APIRouter(prefix="/v1", tags=["query"])
logger = logging.getLogger(__name__)

Reader = Annotated[Scope, Depends(scoped(Role.READER))]


def pieces(text: str) -> list[str]:
    """Split text into word pieces that join back to it exactly (for streaming).

    An extractive answer exists whole before it is sent and goes out in these pieces; an
    LLM answer streams the model's own tokens (:meth:`graphrag.GraphRAG.answer_stream`).
    """
    return word_pieces(text)


@router.post("/retrieve", response_model=RetrievedContext, summary="Context only")
async def retrieve(body: AskRequest, scope: Reader) -> Response:
    """The chunks, entities, relations and paths a question retrieves (no answer)."""
    context = await scope.rag.retrieve(body.question, mode=body.mode, top_k=body.top_k)
    return as_json(context)


@router.post("/query", response_model=Answer, summary="Answer with citations")
async def query(body: AskRequest, scope: Reader) -> Response:
    """An answer with numbered citations; the retrieved context is included."""
    answer = await scope.rag.answer(body.question, mode=body.mode, top_k=body.top_k)
    return as_json(answer)


def as_json(model: BaseModel) -> Response:
    """A model as JSON, serialised once by pydantic-core.

    The hot routes skip FastAPI's re-validation of a model that is already valid; the
    route's ``response_model`` still documents it.
    """
    return Response(model.model_dump_json(), media_type="application/json")


@router.post(
    "/query/stream",
    response_model=None,
    summary="Answer with citations, streamed as Server-Sent Events",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def query_stream(body: AskRequest, scope: Reader) -> EventSourceResponse:
    """Stream the answer as events.

    Events: ``context`` (the retrieved chunks), ``delta`` (answer text pieces: the model's
    tokens as they arrive with an LLM, word pieces of the extractive answer without one),
    ``citation`` (one per checked citation), ``done`` (the whole answer); ``error`` on
    failure. The deltas join to the ``done`` answer's text.

    A bad question is refused before the stream starts (4xx in the error shape).
    """
    question = scope.rag.check_question(body.question)
    return EventSourceResponse(_answer_events(scope, question, body), headers=_NO_BUFFERING)


_NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event (JSON data on one line)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _answer_events(scope: Scope, question: str, body: AskRequest) -> AsyncIterator[str]:
    rid = REQUEST_ID.get()
    stream: AnswerStream | None = None
    try:
        stream = await scope.rag.answer_stream(question, mode=body.mode, top_k=body.top_k)
        yield sse("context", stream.context.model_dump(mode="json"))
        async for piece in stream:
            yield sse("delta", {"text": piece})
        answer = stream.answer
        for citation in answer.citations:
            yield sse("citation", citation.model_dump(mode="json"))
        yield sse("done", answer.model_dump(mode="json", exclude={"context"}))
    except GraphRAGError as exc:
        status, code = library_status(exc)
        logger.warning("stream %s failed (%d): %s", rid, status, exc)
        yield sse("error", error_body(code, str(exc), rid))
    except Exception:
        logger.exception("stream %s failed unexpectedly", rid)
        yield sse("error", error_body("internal", "internal error", rid))
    finally:
        if stream is not None and not stream.done:
            await stream.aclose()  # the client left: stop the model
