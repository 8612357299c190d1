"""LLM-written community reports: a title, a summary and findings that cite members.

The prompt lists a community's members as ``[E1] Name (TYPE)`` (highest rank first, at most
:data:`PROMPT_MEMBERS`), its key relations and its extractive key sentences verbatim, and asks
for ``{"title", "summary", "findings": [{"summary", "explanation", "entities": ["E1"]}]}``.
Ids the prompt did not list are removed (and counted), a finding without text is dropped, an
empty title keeps the extractive one. The stored summary starts with :data:`REPORT_PREFIX`,
names the cited members and ends with the key sentences as ``parse_key_sentences`` reads them::

    LLM report: Marie Curie and Pierre Curie worked in Paris. Findings: (1) Marie Curie was
    born in Warsaw. She later studied in Paris (Marie Curie, Warsaw). Key sentences: “Marie
    Curie studied in Paris.” [c_d77d866f].

A malformed reply is asked again once, then the extractive summary is kept; a budget stop
ends the asking (the communities not reported keep theirs); other LLM errors propagate.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphrag.analyze.summaries import EMBED_CHARS, EMBED_NAMES, parse_key_sentences
from graphrag.llm.base import ChatMessage, ChatModel, ChatResult, usage_tag
from graphrag.llm.errors import BudgetExceededError
from graphrag.llm.replies import MalformedReplyError, load_json_reply
from graphrag.models import Community, Entity, Relation

if TYPE_CHECKING:
    from graphrag.config import LLMSettings

__all__ = ["REPORT_PREFIX", "CommunityReporter", "Report", "ReportStats", "parse_report"]

logger = logging.getLogger(__name__)

REPORT_PREFIX = "LLM report:"
"""Start of every LLM-written summary (extractive ones start with ``Extractive summary:``)."""
PROMPT_MEMBERS = 20
"""Highest-ranked members listed in a prompt (the ones a finding can cite)."""
MAX_FINDINGS = 3
TITLE_CHARS = 120
SUMMARY_CHARS = 500
FINDING_CHARS = 300
NAME_CHARS = 80
TRIES = 2
"""Asks per community: a malformed reply is asked again once, with the problem named."""

SYSTEM = (
    "You write short reports about groups of related entities from a knowledge graph. "
    "Use only the facts given. Reply with one JSON object and nothing else."
)
INSTRUCTIONS = (
    "Write a JSON object with these keys:\n"
    '"title": a short name for this group (at most 8 words),\n'
    '"summary": two or three sentences about what connects the group,\n'
    '"findings": up to 3 key facts, each {"summary": one sentence, "explanation": one or two '
    'sentences, "entities": the ids of the entities it is about}.\n'
    "Reply with the JSON object only, for example:\n"
    '{"title": "...", "summary": "...", "findings": [{"summary": "...", "explanation": "...", '
    '"entities": ["E1", "E2"]}]}'
)
REASK = "That reply could not be used ({reason}). Reply with the JSON object only."

_REF_GROUP = re.compile(r"\s*\[\s*(E\d+(?:\s*[,;]\s*E\d+)*)\s*\]", re.IGNORECASE)
_BARE_REF = re.compile(r"\bE\d+\b")
_CHUNK_REF = re.compile(r"\s*\[c_[0-9A-Za-z_\-]*\]")
_QUOTES = str.maketrans({"“": '"', "”": '"'})
_WORD = re.compile(r"\w")
_PLACEHOLDERS = frozenset(
    {
        "a short name for this group (at most 8 words)",
        "a short name for this group",
        "two or three sentences about what connects the group",
        "one sentence",
        "one or two sentences",
        "the ids of the entities it is about",
    }
)
"""Texts of the instructions a small model copies back instead of writing a report (with
"..." of the example, they make a value empty, hence a copied form a malformed reply)."""


@dataclass
class ReportStats:
    """What a :class:`CommunityReporter` did (summed over every batch).

    Attributes:
        model: The chat model's name.
        written: Communities whose summary is now an LLM report.
        malformed: Communities whose reply stayed unusable (extractive summary kept).
        retries: Malformed replies asked again.
        unknown_refs: Entity ids (or names) cited that the prompt did not list (removed).
        not_asked: Communities left extractive because the budget stopped the reports.
        stopped: The budget error's message, if the budget stopped the reports.
        calls: Calls made; cached_calls: replies served by the cache (free);
            tokens: prompt and completion tokens of the calls made.
    """

    model: str
    written: int = 0
    malformed: int = 0
    retries: int = 0
    unknown_refs: int = 0
    not_asked: int = 0
    stopped: str | None = None
    calls: int = 0
    cached_calls: int = 0
    tokens: int = 0

    def book(self, result: ChatResult) -> None:
        """Count one reply (a cached one is free)."""
        if result.cached:
            self.cached_calls += 1
            return
        self.calls += 1
        self.tokens += result.usage.total_tokens


@dataclass(frozen=True)
class Report:
    """A checked reply; each finding ends with the names it cites (no title: keep the old)."""

    title: str
    summary: str
    findings: tuple[str, ...]
    unknown_refs: int = 0


def _name(entity_id: str, entities: Mapping[str, Entity]) -> str:
    found = entities.get(entity_id)
    name = found.name if found is not None else entity_id
    return " ".join(name.split())[:NAME_CHARS]


def build_prompt(
    community: Community, relations: Sequence[Relation], entities: Mapping[str, Entity]
) -> tuple[list[ChatMessage], dict[str, str]]:
    """Return the messages for a community and the ids they list (``E1``) with their names.

    Args:
        community: The community with its extractive summary (its key sentences are quoted).
        relations: Its strongest relations inside the community.
        entities: Entity rows by id (names and types).
    """
    refs: dict[str, str] = {}
    label: dict[str, str] = {}
    lines = ["Entities (cite them by id):"]
    for number, entity_id in enumerate(community.member_ids[:PROMPT_MEMBERS], start=1):
        found = entities.get(entity_id)
        kind = f" ({found.type})" if found is not None else ""
        refs[f"E{number}"] = _name(entity_id, entities)
        label[entity_id] = f"[E{number}] {refs[f'E{number}']}"
        lines.append(f"{label[entity_id]}{kind}")
    facts = [
        f"- {label.get(r.source_id, _name(r.source_id, entities))} -{r.predicate}-> "
        f"{label.get(r.target_id, _name(r.target_id, entities))}"
        for r in relations
    ]
    quotes = [f"- “{text}”" for text, _ in parse_key_sentences(community.summary)]
    lines += ["Relations:", *(facts or ["- none found"])]
    lines += ["Key sentences:", *(quotes or ["- none found"]), "", INSTRUCTIONS]
    return [ChatMessage.system(SYSTEM), ChatMessage.user("\n".join(lines))], refs


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Refs:
    """The ids a prompt listed (``E1`` to name); counts the unknown ids a reply cites."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names
        self.lookup = {r.lower(): r for r in names} | {n.lower(): r for r, n in names.items()}
        self.unknown = 0

    def resolve(self, items: object) -> list[str]:
        """The ids of ``items`` (a list or a comma-separated string of ids or names)."""
        parts = items if isinstance(items, list) else str(items or "").split(",")
        found: list[str] = []
        for item in parts:
            key = str(item).strip().strip("[]").strip().lower()
            if key in self.lookup:
                found.append(self.lookup[key])
            elif key:
                self.unknown += 1
        return found

    def clean(self, value: object, limit: int) -> tuple[str, list[str]]:
        """Return the text without id groups such as ``[E1, E2]`` and the ids they cite.

        Bare ids (``E1``) the prompt listed become names; curly quotes and chunk ids are
        neutralised, so that only the appended key sentences read as quotations.
        """
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return "", []
        cited: list[str] = []

        def group(match: re.Match[str]) -> str:
            cited.extend(self.resolve(re.split(r"[,;]", match.group(1))))
            return ""

        text = _REF_GROUP.sub(group, str(value))
        text = _BARE_REF.sub(lambda m: self.names.get(m.group(0), m.group(0)), text)
        text = " ".join(_CHUNK_REF.sub("", text).translate(_QUOTES).split())
        if not _WORD.search(text) or text.casefold() in _PLACEHOLDERS:
            return "", cited  # "..." or a phrase of the instructions: the form copied back
        return _cut(text, limit), cited


def _finding(value: object, refs: _Refs) -> str:
    """A finding as ``Text (Name, Name).``; empty if it has no text."""
    raw: Mapping[str, Any] = value if isinstance(value, Mapping) else {"summary": value}
    head, cited = refs.clean(raw.get("summary"), FINDING_CHARS)
    body, more = refs.clean(raw.get("explanation"), FINDING_CHARS)
    ids = dict.fromkeys([*refs.resolve(raw.get("entities")), *cited, *more])
    text = _cut(" ".join(_sentence(t) for t in (head, body) if t), FINDING_CHARS)
    names = f" ({', '.join(refs.names[i] for i in ids)})" if ids else ""
    return f"{text.rstrip('.')}{names}." if text else ""


def parse_report(text: str, refs: Mapping[str, str]) -> Report:
    """Read and check a reply: unknown ids removed, findings without text dropped.

    Args:
        text: The reply.
        refs: The ids the prompt listed (``E1``) and their member names.

    Raises:
        MalformedReplyError: If the reply holds no JSON object, or one with neither a
            summary nor a finding with text.
    """
    value, _ = load_json_reply(text)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        value = value[0]
    if not isinstance(value, Mapping):
        raise MalformedReplyError("the reply is not a JSON object", text)
    checked = _Refs(refs)
    title, _ = checked.clean(value.get("title"), TITLE_CHARS)
    summary, _ = checked.clean(value.get("summary"), SUMMARY_CHARS)
    raw = value.get("findings")
    findings = [_finding(item, checked) for item in (raw if isinstance(raw, list) else [])]
    kept = tuple(f for f in findings if f)[:MAX_FINDINGS]
    if not summary and not kept:
        raise MalformedReplyError("the reply has neither a summary nor a finding", text)
    return Report(title.rstrip(" ."), summary, kept, checked.unknown)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def render_summary(report: Report, sentences: Sequence[tuple[str, str]]) -> str:
    """Return the stored summary: prefix, summary, findings with names, key sentences.

    Args:
        report: The checked report.
        sentences: The extractive key sentences and their chunk ids (quoted at the end, as
            :func:`~graphrag.analyze.summaries.parse_key_sentences` reads them).
    """
    parts = [REPORT_PREFIX]
    if report.summary:
        parts.append(_sentence(report.summary))
    if report.findings:
        parts.append("Findings:")
    parts += [f"({number}) {text}" for number, text in enumerate(report.findings, start=1)]
    quotes = "; ".join(f"“{text}” [{chunk_id}]" for text, chunk_id in sentences)
    parts.append(f"Key sentences: {quotes or 'none found'}.")
    return " ".join(parts)


def report_text(title: str, report: Report, names: Sequence[str]) -> str:
    """The text embedded for a reported community: title, member names, summary, findings."""
    findings = " ".join(report.findings)
    text = f"{title}. {', '.join(names[:EMBED_NAMES])}. {report.summary} {findings}"
    return " ".join(text.split())[:EMBED_CHARS]


class CommunityReporter:
    """Has a chat model write the reports of the largest communities.

    Args:
        model: The chat model (the whole stack: cache, budget, retries).
        settings: ``max_community_reports`` (communities with a lower ordinal get a report),
            ``max_tokens``, ``temperature`` and ``max_concurrency`` (calls in flight, so the
            budget is never reserved for every call at once).

    Example:
        ```python
        reporter = CommunityReporter(components.llm, settings.llm)
        report = await analyze_graph(store, embedder=embedder, reporter=reporter)
        report.llm_reports, reporter.stats.malformed
        ```
    """

    def __init__(self, model: ChatModel, settings: LLMSettings) -> None:
        self._model = model
        self._max = settings.max_community_reports
        self._options: dict[str, Any] = {
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "json_mode": True,
        }
        self._concurrency = settings.max_concurrency
        self.stats = ReportStats(model=model.model_name)

    async def rewrite(
        self,
        communities: Sequence[Community],
        texts: Sequence[str],
        relations: Sequence[Sequence[Relation]],
        entities: Mapping[str, Entity],
    ) -> tuple[list[Community], list[str]]:
        """Replace the summaries and embedded texts of the communities that get a report.

        Args:
            communities: A batch of communities with extractive summaries.
            texts: Their extractive embedded texts.
            relations: Their key relations (aligned with ``communities``).
            entities: Entity rows by id (names, types).

        Returns:
            The communities and texts, reported ones replaced, the others unchanged.

        Raises:
            LLMError: If the model cannot be used (not a malformed reply, not the budget).
        """
        wanted = [i for i, c in enumerate(communities) if c.ordinal < self._max]
        reports = await self._ask_all([(communities[i], relations[i]) for i in wanted], entities)
        kept, embedded = list(communities), list(texts)
        for index, report in zip(wanted, reports, strict=True):
            if report is None:
                continue
            community = communities[index]
            title = report.title or community.title
            summary = render_summary(report, parse_key_sentences(community.summary))
            kept[index] = community.model_copy(update={"title": title, "summary": summary})
            names = [_name(e, entities) for e in community.member_ids]
            embedded[index] = report_text(title, report, names)
        return kept, embedded

    async def _ask_all(
        self, todo: Sequence[tuple[Community, Sequence[Relation]]], entities: Mapping[str, Entity]
    ) -> list[Report | None]:
        semaphore = asyncio.Semaphore(self._concurrency)
        fatal: list[Exception] = []

        async def one(community: Community, relations: Sequence[Relation]) -> Report | None:
            async with semaphore:
                if fatal or self.stats.stopped is not None:
                    self.stats.not_asked += 1
                    return None
                try:
                    with usage_tag(community.id):
                        return await self._report(community, relations, entities)
                except BudgetExceededError as exc:
                    self.stats.stopped = self.stats.stopped or str(exc)
                    self.stats.not_asked += 1
                except Exception as exc:  # raised below, once the calls in flight are done
                    fatal.append(exc)
                return None

        reports = await asyncio.gather(*(one(c, r) for c, r in todo))
        if fatal:
            raise fatal[0]
        return reports

    async def _report(
        self, community: Community, relations: Sequence[Relation], entities: Mapping[str, Entity]
    ) -> Report | None:
        """Ask for one report (and once more if malformed); ``None`` if it stayed malformed."""
        messages, refs = build_prompt(community, relations, entities)
        reason = ""
        for attempt in range(TRIES):
            result = await self._model.complete(messages, **self._options)
            self.stats.book(result)
            try:
                report = parse_report(result.text, refs)
            except MalformedReplyError as exc:
                reason = exc.reason
                if attempt + 1 < TRIES:
                    self.stats.retries += 1
                    reask = ChatMessage.user(REASK.format(reason=reason))
                    messages = [*messages, ChatMessage.assistant(result.text), reask]
                continue
            self.stats.written += 1
            self.stats.unknown_refs += report.unknown_refs
            return report
        self.stats.malformed += 1
        logger.warning(
            "community %s: the LLM report stayed malformed (%s); its extractive summary is kept",
            community.id, reason,
        )  # fmt: skip
        return None
