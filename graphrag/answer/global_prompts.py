"""Prompts and reply parsing of global search's map-reduce over community summaries.

- **Map**: one prompt per community: its title and summary (chunk ids turned into source
  numbers) and the text of its supporting chunks that are in the context, numbered as in the
  whole context. The model replies with JSON ``{"points": [{"description": "... [2]",
  "score": 0-100}]}``: the points that help answer the question, each scored for
  helpfulness; ``{"points": []}`` when the report does not help.
  :func:`parse_points` reads the reply (repairing slightly broken JSON) or raises
  :class:`~graphrag.llm.replies.MalformedReplyError`.
- **Reduce**: one prompt with the points of every community, most helpful first, within the
  token budget, and the list of sources (``[n] title (source)``, no text: the points carry
  the facts). The answer cites source numbers, which
  :class:`~graphrag.answer.LLMAnswerer` checks against the sources as for any answer.

Source numbers are the positions of the chunks in the context (``[1]`` is its first chunk)
in both steps, so a point's citations stay valid in the reduce step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphrag.answer.prompts import NOT_SUPPORTED, AnswerPrompt, community_line, fit_lines
from graphrag.llm import ChatMessage, estimate_tokens
from graphrag.llm.replies import MalformedReplyError, excerpt, load_json_reply
from graphrag.models import RetrievedContext, ScoredChunk, ScoredCommunity

__all__ = [
    "MAP_SYSTEM_PROMPT",
    "REDUCE_SYSTEM_PROMPT",
    "Point",
    "map_prompt",
    "parse_points",
    "reduce_prompt",
    "source_numbers",
]

MAP_SYSTEM_PROMPT = """You read one report about a group of related entities in a knowledge \
graph, with numbered source passages. Find what in them helps answer the question.
Reply with JSON only, in this form:
{"points": [{"description": "a fact that helps answer, citing sources like [1]", \
"score": 80}]}
"score" is 0-100: how much the point helps answer the question. Use only the report and the \
sources. If nothing in them helps, reply {"points": []}"""

REDUCE_SYSTEM_PROMPT = f"""You answer questions using only the points below, which analysts \
drew from numbered sources; each point is scored by how much it helps.
Rules:
1. Use only the points. Do not add outside knowledge or guesses.
2. After each claim, cite the sources it comes from by their numbers in square brackets, \
as the points do, for example [1] or [2][3]. Cite only numbers listed under Sources.
3. If the points do not answer the question, reply exactly: {NOT_SUPPORTED}
4. Start with the direct answer, in one to three sentences."""

DEFAULT_SCORE = 50
"""Score of a point whose reply gives none (or not a number)."""
MAX_POINTS = 5
"""Points kept from one community's reply (best scored first)."""
REPORT_CHARS = 2400
"""A community summary is cut here in its map prompt (an LLM report with its findings and
key sentences fits; the map prompt has no other summary to share the budget with)."""

_TEXT_KEYS = ("description", "point", "text", "answer", "content")
_POINT_LISTS = ("points", "answers", "findings")
_CITE = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Point:
    """One helpful point of a community's map reply.

    Attributes:
        text: The point, with its source citations (``[n]``).
        score: How much it helps, 0-100.
        community: Title of the community it comes from.
    """

    text: str
    score: int
    community: str


def source_numbers(context: RetrievedContext) -> dict[int, ScoredChunk]:
    """Number the context's chunks from 1, in order (the same numbers in map and reduce)."""
    return dict(enumerate(context.chunks, start=1))


def map_prompt(
    question: str,
    community: ScoredCommunity,
    sources: Mapping[int, ScoredChunk],
    *,
    budget: int,
) -> list[ChatMessage]:
    """The messages asking what in one community report helps answer ``question``.

    Args:
        question: The question.
        community: The community (title, summary, supporting chunk ids).
        sources: Source number -> chunk, for the whole context.
        budget: Most estimated tokens of the report and its sources.
    """
    numbers = {chunk.id: n for n, chunk in sources.items()}
    report = community_line(community, numbers, limit=REPORT_CHARS)
    own = [n for n in (numbers.get(c) for c in community.chunk_ids) if n is not None]
    blocks = [
        f"[{n}] {_one_line(sources[n].title)} ({_one_line(sources[n].source)})\n{sources[n].text}"
        for n in own
    ]
    kept = fit_lines(blocks, max(0, budget - estimate_tokens(report)), estimate_tokens)
    parts = [f"Report:\n{report}", "Sources:", *kept] if kept else [f"Report:\n{report}"]
    parts += [f"Question: {question}", "JSON:"]
    return [ChatMessage.system(MAP_SYSTEM_PROMPT), ChatMessage.user("\n\n".join(parts))]


def parse_points(text: str, community: str, valid: Sequence[int]) -> list[Point]:
    """Read the helpful points of a map reply (citations of unknown sources removed).

    Args:
        text: The reply.
        community: Title of the community the reply is about.
        valid: The source numbers of the context.

    Returns:
        The points scored above 0, best first (at most :data:`MAX_POINTS`); empty when the
        reply says nothing helps.

    Raises:
        MalformedReplyError: If the reply holds no JSON, JSON of another shape, or items
            none of which is a point with a description.
    """
    value, _ = load_json_reply(text)
    items = _point_items(value, text)
    allowed = set(valid)
    found = [p for p in (_point(item, community, allowed) for item in items) if p is not None]
    if items and not found:
        msg = f"no item is a point with a description ({excerpt(text)})"
        raise MalformedReplyError(msg, text)
    points = sorted((p for p in found if p.score > 0), key=lambda p: -p.score)
    return points[:MAX_POINTS]


def _point_items(value: Any, text: str) -> list[Any]:
    if isinstance(value, dict):
        found = next((value[k] for k in _POINT_LISTS if k in value), None)
        if found is None and any(k in value for k in _TEXT_KEYS):
            found = [value]  # one point without the list around it
        value = found
    if not isinstance(value, list):
        msg = f'expected {{"points": [...]}}, found something else ({excerpt(text)})'
        raise MalformedReplyError(msg, text)
    return value


def _point(item: Any, community: str, allowed: set[int]) -> Point | None:
    if isinstance(item, str):
        item = {"description": item}
    if not isinstance(item, dict):
        return None
    raw = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), "")
    cleaned = _CITE.sub(lambda m: m.group(0) if int(m.group(1)) in allowed else "", raw)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        return None
    return Point(text=cleaned, score=_score(item.get("score")), community=community)


def _score(value: Any) -> int:
    if isinstance(value, bool):
        return DEFAULT_SCORE
    if isinstance(value, int | float):
        return max(0, min(100, round(value)))
    if isinstance(value, str):
        match = re.search(r"\d+(\.\d+)?", value)
        if match:
            return max(0, min(100, round(float(match.group(0)))))
    return DEFAULT_SCORE


def reduce_prompt(
    question: str,
    points: Sequence[Point],
    sources: Mapping[int, ScoredChunk],
    *,
    budget: int,
) -> AnswerPrompt:
    """The prompt that turns the map step's points into one cited answer.

    Args:
        question: The question.
        points: The points of every community, best first.
        sources: Source number -> chunk, for the whole context.
        budget: Most estimated tokens of the points (the source list is short).

    Returns:
        The prompt; its ``sources`` are all the context's chunks (citations are checked
        against them), ``left_out`` is 0 (every chunk is listed).
    """
    lines = [f"- ({p.score}) {p.community}: {p.text}" for p in points]
    kept = fit_lines(lines, budget, estimate_tokens)
    headers = [
        f"[{n}] {_one_line(chunk.title)} ({_one_line(chunk.source)})"
        for n, chunk in sources.items()
    ]
    parts = [
        "Sources:",
        "\n".join(headers),
        "Points (score: how much each helps):",
        "\n".join(kept),
        f"Question: {question}",
        "Answer:",
    ]
    return AnswerPrompt(
        messages=[
            ChatMessage.system(REDUCE_SYSTEM_PROMPT),
            ChatMessage.user("\n\n".join(parts)),
        ],
        sources=dict(sources),
        tokens=sum(estimate_tokens(line) for line in kept),
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
