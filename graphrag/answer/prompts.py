"""The prompt of the LLM answerer, built from a :class:`~graphrag.models.RetrievedContext`.

The context becomes numbered **sources** (the chunks, best first: ``[1]``, ``[2]``...) and
compact **graph facts** (relations as ``A -predicate-> B [n]``, entity paths, entity names
with types, and community summaries when the context has them), cut to a token budget
(estimated as characters / 4, see :func:`graphrag.llm.estimate_tokens`):

- graph facts and community summaries may use at most a quarter of the budget (half in the
  ``global`` mode, whose context is its communities);
- the chunks take the rest, best first; a chunk that does not fit is left out (the first one
  is cut to fit instead, so there is always something to cite);
- relations name the sources their evidence comes from, and community summaries' chunk ids
  become source numbers, so every fact can be cited.

The instructions ask for an answer from the context only, citing the source numbers, and for
the fixed sentence :data:`NOT_SUPPORTED` when the context does not answer the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphrag.llm import ChatMessage, estimate_tokens
from graphrag.models import RetrievalMode, RetrievedContext, ScoredChunk

__all__ = [
    "DEFAULT_CONTEXT_TOKENS",
    "NOT_SUPPORTED",
    "SYSTEM_PROMPT",
    "AnswerPrompt",
    "build_prompt",
    "community_line",
    "fit_lines",
    "is_not_supported",
    "repeats_prompt",
]

NOT_SUPPORTED = "The context does not say."
"""What an answer says when the context does not support one (fixed, so it can be detected)."""

DEFAULT_CONTEXT_TOKENS = 2000
"""Estimated tokens of sources and graph facts in a prompt (fits a 4,096-token model with
the instructions and a 1,024-token reply)."""

SYSTEM_PROMPT = f"""You answer questions using only the context you are given: numbered \
sources and graph facts extracted from them.
Rules:
1. Use only the context. Do not add outside knowledge or guesses.
2. After each claim, cite the sources it comes from by their numbers in square brackets, \
for example [1] or [2][3]. Cite only numbers listed under Sources.
3. If the context does not contain the answer, reply exactly: {NOT_SUPPORTED}
4. Start with the direct answer, in one to three sentences."""

_GRAPH_SHARE = 4
_GLOBAL_SHARE = 2
_MAX_ENTITIES = 20
_MAX_SUMMARY_CHARS = 700
_CHUNK_ID_REF = re.compile(r"\s*\[(c_[0-9A-Za-z]+)\]")
_SOURCE_HEADER = re.compile(r"\[\d+\] .+ \(.+\)$")
_NOT_SUPPORTED_KEY = "the context does not say"
Counter = Callable[[str], int]


@dataclass
class AnswerPrompt:
    """A prompt ready to send, with what the source numbers stand for.

    Attributes:
        messages: The system and user messages.
        sources: Source number -> the chunk it stands for.
        left_out: Chunks of the context that did not fit the budget.
        tokens: Estimated tokens of the context part (sources and graph facts).
    """

    messages: list[ChatMessage]
    sources: dict[int, ScoredChunk] = field(default_factory=dict)
    left_out: int = 0
    tokens: int = 0


def repeats_prompt(text: str, prompt: AnswerPrompt) -> bool:
    """Whether a reply repeats the prompt's instructions, source headers or question line.

    Small models often echo their prompt instead of answering; such a reply may contain
    valid-looking citations (copied from the source list or the instructions' examples)
    that are not evidence. Only lines no real answer would contain are compared: the
    instruction lines, the ``[n] title (source)`` headers and the ``Question:`` line.
    """
    folded = " ".join(text.split()).casefold()
    if not folded:
        return False
    system = [m.content for m in prompt.messages if m.role == "system"] or [SYSTEM_PROMPT]
    markers = [line for line in system[0].splitlines() if len(line) >= 20]
    for message in prompt.messages[1:]:
        markers += [
            line
            for line in message.content.splitlines()
            if _SOURCE_HEADER.match(line) or line.startswith("Question: ")
        ]
    return any(" ".join(m.split()).casefold() in folded for m in markers)


def is_not_supported(text: str) -> bool:
    """Whether an answer starts by saying the context does not support one.

    Example:
        ```python
        is_not_supported("The context does not say. [1]")  # True
        is_not_supported("Paris [1].")  # False
        ```
    """
    return " ".join(text.split()).casefold().startswith(_NOT_SUPPORTED_KEY)


def build_prompt(
    question: str,
    context: RetrievedContext,
    *,
    budget: int = DEFAULT_CONTEXT_TOKENS,
    count: Counter = estimate_tokens,
) -> AnswerPrompt:
    """Build the messages for ``question`` from ``context`` within ``budget`` tokens.

    Args:
        question: The question.
        context: What retrieval found.
        budget: Most estimated tokens of the sources and graph facts.
        count: Token estimator.

    Returns:
        The prompt and the meaning of its source numbers.
    """
    share = _GLOBAL_SHARE if context.mode is RetrievalMode.GLOBAL else _GRAPH_SHARE
    everything = {chunk.id: n for n, chunk in enumerate(context.chunks, start=1)}
    reserved = sum(
        count(line) for line in fit_lines(_graph_lines(context, everything), budget // share, count)
    )
    blocks, sources = _source_blocks(context.chunks, budget - reserved, count)
    numbers = {chunk.id: n for n, chunk in sources.items()}
    facts = fit_lines(_graph_lines(context, numbers), reserved, count)
    parts = ["Sources:", *blocks] if blocks else ["Sources: (none)"]
    if facts:
        parts += ["Graph facts:", "\n".join(facts)]
    parts += [f"Question: {question}", "Answer:"]
    return AnswerPrompt(
        messages=[ChatMessage.system(SYSTEM_PROMPT), ChatMessage.user("\n\n".join(parts))],
        sources=sources,
        left_out=len(context.chunks) - len(sources),
        tokens=sum(count(line) for line in facts) + sum(count(b) for b in blocks),
    )


def _source_blocks(
    chunks: Sequence[ScoredChunk], budget: int, count: Counter
) -> tuple[list[str], dict[int, ScoredChunk]]:
    """Number the chunks that fit, best first, from 1 (the first one is cut if needed)."""
    blocks: list[str] = []
    sources: dict[int, ScoredChunk] = {}
    used = 0
    for chunk in chunks:
        number = len(sources) + 1
        block = f"[{number}] {_one_line(chunk.title)} ({_one_line(chunk.source)})\n{chunk.text}"
        size = count(block)
        if used + size > budget:
            if blocks:
                continue
            block = _cut(block, budget, count)
            size = count(block)
        blocks.append(block)
        sources[number] = chunk
        used += size
    return blocks, sources


def _graph_lines(context: RetrievedContext, numbers: dict[str, int]) -> list[str]:
    names = {e.id: e.name for e in context.entities}
    lines: list[str] = []
    for community in getattr(context, "communities", None) or []:
        lines.append(community_line(community, numbers))
    for relation in context.relations:
        source, target = names.get(relation.source_id), names.get(relation.target_id)
        if source is None or target is None or source == target:
            continue
        refs = sorted({numbers[c] for c in relation.source_chunk_ids if c in numbers})
        cite = "".join(f"[{n}]" for n in refs[:3])
        predicate = relation.predicate.replace("_", " ")
        lines.append(f"- {source} -{predicate}-> {target} {cite}".rstrip())
    lines += [f"- path: {' -> '.join(path)}" for path in context.paths if len(path) > 1]
    if context.entities:
        named = ", ".join(f"{e.name} ({e.type})" for e in context.entities[:_MAX_ENTITIES])
        lines.append(f"- entities: {named}")
    return lines


def community_line(
    community: Any, numbers: Mapping[str, int], limit: int = _MAX_SUMMARY_CHARS
) -> str:
    """A community summary with its chunk ids turned into source numbers (others dropped).

    The summary is cut to ``limit`` characters (an LLM report with its findings and key
    sentences can be longer than the answer prompt's share for it).
    """
    summary = str(getattr(community, "summary", "") or "")

    def cite(match: re.Match[str]) -> str:
        number = numbers.get(match.group(1))
        return f" [{number}]" if number is not None else ""

    text = _CHUNK_ID_REF.sub(cite, summary)
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    title = str(getattr(community, "title", "") or "community")
    return f"- community {_one_line(title)}: {_one_line(text)}"


def fit_lines(lines: Sequence[str], budget: int, count: Counter) -> list[str]:
    """Keep the lines that fit ``budget`` estimated tokens, in order (a long one is skipped)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        size = count(line)
        if used + size <= budget:
            kept.append(line)
            used += size
    return kept


def _cut(text: str, budget: int, count: Counter) -> str:
    """Cut ``text`` at a word boundary to fit ``budget`` tokens (at least a few words)."""
    if count(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    cut = text[:low].rsplit(" ", 1)[0] if " " in text[:low] else text[:low]
    return (cut or text[:200]).rstrip() + " ..."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
