"""How the LLM is asked for a chunk's graph: two engines behind one small interface.

- :class:`JsonEngine` (``extraction.llm_engine = "json"``, the default): the project's own
  prompt (node and relation types with their descriptions and properties, the answer as one
  JSON object with ``nodes`` and ``relationships``) and parser (:mod:`.llm_parse`).
- :class:`TransformerEngine` (``"transformer"``): langchain-experimental's
  ``LLMGraphTransformer`` with ``ignore_tool_usage=True`` (prompt-based JSON: small and local
  models often lack tool calling), called through :class:`.langchain_adapter.PortChatModel`
  so its calls go through the project's cache, meter, budget and retries. Its own parsing
  turns an unreadable reply into an *empty graph* (and its async path raises
  ``AttributeError`` on a list of strings), so the engine checks the raw reply with
  :func:`.llm_parse.parse_graph` too and reports such replies as malformed. Properties are
  not available: LLMGraphTransformer refuses ``node_properties`` without tool calling.

Both engines raise :class:`~.llm_parse.MalformedOutputError` for a reply that cannot be used;
the extractor then tries again with a **changed prompt** (the failure appended), which also
gives the retry its own cache entry: a rerun replays the same sequence of replies from the
cache, making no call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from graphrag.errors import GraphRAGError
from graphrag.extract.llm_parse import (
    GraphEdge,
    GraphNode,
    MalformedOutputError,
    ParsedGraph,
    parse_graph,
    properties_of,
)
from graphrag.extract.ontology import Ontology
from graphrag.llm.base import ChatMessage, ChatModel

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

logger = logging.getLogger(__name__)

_ECHO_CHARS = 1500
"""Longest part of a malformed reply shown back to the model in a retry."""


@dataclass(frozen=True)
class Failure:
    """A malformed reply and why it could not be used."""

    reply: str
    reason: str


@dataclass(frozen=True)
class Request:
    """The parameters of every extraction call (part of the cache key)."""

    max_tokens: int
    temperature: float
    json_mode: bool


class Engine(Protocol):
    """Asks the model for one chunk's graph."""

    name: str
    request: Request

    def messages(self, text: str, failures: Sequence[Failure] = ()) -> list[ChatMessage]:
        """The messages a call for ``text`` sends (after ``failures``, for a retry)."""
        ...

    async def run(
        self, model: ChatModel, text: str, failures: Sequence[Failure] = ()
    ) -> ParsedGraph:
        """Call the model once and parse its reply.

        Raises:
            MalformedOutputError: If the reply cannot be used.
            LLMError: If the call fails (budget, configuration, endpoint).
        """
        ...


def _schema(ontology: Ontology) -> str:
    lines = ["Node types:"]
    for node in ontology.nodes:
        props = f" Properties: {', '.join(node.properties)}." if node.properties else ""
        lines.append(f"- {node.name}: {node.description or node.name}.{props}".replace("..", "."))
    if ontology.relations:
        lines.append("Relation types (source type -> target type):")
    for rel in ontology.relations:
        ends = f"{' | '.join(rel.source)} -> {' | '.join(rel.target)}"
        props = f" Properties: {', '.join(rel.properties)}." if rel.properties else ""
        text = f"- {rel.name} ({ends}): {rel.description or rel.name}.{props}"
        lines.append(text.replace("..", "."))
    return "\n".join(lines)


_PLACEHOLDER_ID = "name as written in the text"
_PLACEHOLDER_TYPE = "a node type"
"""The placeholders of the answer form: a small model often repeats the form (measured)."""

_INSTRUCTIONS = """You extract a knowledge graph from a text. Reply with one JSON object and \
nothing else, in this form:
{{"nodes": [{{"id": "{pid}", "type": "{ptype}", "properties": \
{{}}}}], "relationships": [{{"source": "a node id", "type": "a relation type", "target": \
"a node id", "properties": {{}}}}]}}

{schema}

Rules: use only these types. Copy every id exactly as it is written in the text. Only \
state what the text says. Properties only when the text gives them. If the text names \
nothing of these types, reply {{"nodes": [], "relationships": []}}."""


class JsonEngine:
    """The project's prompt and parser (see the module docstring).

    Args:
        ontology: The allowed types.
        request: Reply limit, temperature, JSON mode.
    """

    name = "json"

    def __init__(self, ontology: Ontology, request: Request) -> None:
        self.request = request
        self._system = _INSTRUCTIONS.format(
            schema=_schema(ontology), pid=_PLACEHOLDER_ID, ptype=_PLACEHOLDER_TYPE
        )

    def messages(self, text: str, failures: Sequence[Failure] = ()) -> list[ChatMessage]:
        """System instructions, the text, then each failed reply with its reason."""
        messages = [ChatMessage.system(self._system), ChatMessage.user(f"Text:\n{text}")]
        for failure in failures:
            messages.append(ChatMessage.assistant(failure.reply[:_ECHO_CHARS]))
            messages.append(
                ChatMessage.user(
                    f"That reply could not be used: {failure.reason}. Reply again with only "
                    'the JSON object {"nodes": [...], "relationships": [...]} for the text.'
                )
            )
        return messages

    async def run(
        self, model: ChatModel, text: str, failures: Sequence[Failure] = ()
    ) -> ParsedGraph:
        """Call the model and parse its reply (see :class:`Engine`)."""
        result = await model.complete(
            self.messages(text, failures),
            max_tokens=self.request.max_tokens,
            temperature=self.request.temperature,
            json_mode=self.request.json_mode,
        )
        try:
            graph = parse_graph(result.text)
        except MalformedOutputError as exc:
            raise MalformedOutputError(_cut(exc.reason, result.finish_reason), result.text) from exc
        if any(n.name == _PLACEHOLDER_ID or n.type == _PLACEHOLDER_TYPE for n in graph.nodes):
            reason = "the reply copies the answer form of the instructions instead of filling it in"
            raise MalformedOutputError(reason, result.text)
        return graph


def _cut(reason: str, finish_reason: str | None) -> str:
    if finish_reason == "length":
        return f"{reason}; the reply was cut at extraction.llm_max_tokens"
    return reason


class TransformerEngine:
    """LLMGraphTransformer through :class:`~.langchain_adapter.PortChatModel`.

    Args:
        ontology: The allowed types (``allowed_nodes`` and ``(source, relation, target)``
            triples for ``allowed_relationships``; descriptions go into
            ``additional_instructions``).
        request: Reply limit and temperature (JSON mode is not used: the transformer asks
            for a JSON *list*).
        strict: LLMGraphTransformer's ``strict_mode``.
    """

    name = "transformer"

    def __init__(self, ontology: Ontology, request: Request, *, strict: bool = True) -> None:
        self.request = Request(request.max_tokens, request.temperature, json_mode=False)
        self._ontology = ontology
        self._strict = strict
        self._schema = _schema(ontology)
        if ontology.has_properties:
            logger.warning(
                "the ontology declares properties, but extraction.llm_engine 'transformer' "
                "cannot extract them (LLMGraphTransformer needs tool calling for properties); "
                "set GRAPHRAG_EXTRACTION__LLM_ENGINE=json to keep them"
            )

    def _prompt(self, failures: Sequence[Failure]) -> ChatPromptTemplate:
        from langchain_experimental.graph_transformers.llm import create_unstructured_prompt

        extra = [self._schema]
        extra += [
            f"A previous reply could not be used: {f.reason}. Reply with only the JSON list."
            for f in failures
        ]
        # the human part is a template: braces in a reason would be read as variables
        additional = "\n".join(extra).replace("{", "(").replace("}", ")")
        relationships = self._ontology.allowed_relationships
        return create_unstructured_prompt(
            self._ontology.allowed_nodes,
            relationships,
            "tuple" if relationships else None,
            additional,
        )

    def messages(self, text: str, failures: Sequence[Failure] = ()) -> list[ChatMessage]:
        """The transformer's prompt for ``text``, as the port's messages."""
        from graphrag.extract.langchain_adapter import to_port_messages

        return to_port_messages(self._prompt(failures).format_messages(input=text))

    async def run(
        self, model: ChatModel, text: str, failures: Sequence[Failure] = ()
    ) -> ParsedGraph:
        """Run LLMGraphTransformer on ``text``; check the raw reply (see :class:`Engine`)."""
        from langchain_core.documents import Document
        from langchain_experimental.graph_transformers import LLMGraphTransformer

        from graphrag.extract.langchain_adapter import PortChatModel, capture_replies

        chat = PortChatModel(
            model=model, max_tokens=self.request.max_tokens, temperature=self.request.temperature
        )
        transformer = LLMGraphTransformer(
            llm=chat,
            allowed_nodes=self._ontology.allowed_nodes,
            allowed_relationships=self._ontology.allowed_relationships,
            prompt=self._prompt(failures),
            strict_mode=self._strict,
            ignore_tool_usage=True,
        )
        with capture_replies() as replies:
            try:
                document = await transformer.aprocess_response(Document(page_content=text))
            except GraphRAGError:
                raise
            except Exception as exc:  # its parser fails on replies of an unexpected shape
                reason = f"LLMGraphTransformer could not read the reply ({type(exc).__name__})"
                raise MalformedOutputError(reason, replies[-1] if replies else "") from exc
        raw = parse_graph(replies[-1] if replies else "")  # an unreadable reply raises here
        return _from_document(document, raw)


def _from_document(document: Any, raw: ParsedGraph) -> ParsedGraph:
    """LLMGraphTransformer's nodes and relationships as a :class:`ParsedGraph`.

    Its nodes come out of a set (their order changes with the hash seed): they are put back
    in the order of the reply, so a rerun stores the same extraction.
    """
    order: dict[tuple[str, str], int] = {}
    for index, node in enumerate(raw.nodes):
        order.setdefault((node.name.casefold(), node.type.casefold()), index)
    nodes = sorted(
        (GraphNode(str(n.id), str(n.type), properties_of(n.properties)) for n in document.nodes),
        key=lambda n: (order.get((n.name.casefold(), n.type.casefold()), len(order)), n.name),
    )
    edges = [
        GraphEdge(
            source=str(r.source.id), type=str(r.type), target=str(r.target.id),
            source_type=str(r.source.type), target_type=str(r.target.type),
            properties=properties_of(r.properties),
        )
        for r in document.relationships
    ]  # fmt: skip
    return ParsedGraph(
        nodes=nodes,
        relationships=edges,
        skipped=raw.skipped,
        repaired=raw.repaired,
        dropped_nodes=max(len(raw.nodes) - len(nodes), 0),
        dropped_relations=max(len(raw.relationships) - len(edges), 0),
    )


def make_engine(kind: str, ontology: Ontology, request: Request, *, strict: bool) -> Engine:
    """Return the engine named by ``extraction.llm_engine`` (``json`` or ``transformer``)."""
    if kind == "transformer":
        return TransformerEngine(ontology, request, strict=strict)
    return JsonEngine(ontology, request)
