"""Parse an LLM's extraction reply into nodes and relationships, or say why it is unusable.

Two reply shapes are accepted, so both extraction engines share one parser:

- the json engine's object ``{"nodes": [{"id", "type", "properties"}], "relationships":
  [{"source", "type", "target", "properties"}]}`` (``entities``/``relations``/``edges``
  and ``name``/``label``/``head``/``tail`` are accepted as synonyms);
- LLMGraphTransformer's list of triples ``[{"head", "head_type", "relation", "tail",
  "tail_type"}]``.

JSON that is only slightly broken (a reply cut at the length limit, a trailing comma, a code
fence, text around the JSON) is repaired with ``json_repair``. A reply is **malformed** (a
:class:`MalformedOutputError`, which the extractor retries) when no JSON value can be found
in it, when the value has another shape (a string, a list of strings, ``nodes`` not being a
list), or when it holds items but none has the required keys. Single unusable items among
good ones are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphrag.errors import ExtractionError
from graphrag.llm.replies import MalformedReplyError, excerpt, load_json_reply

_NODE_KEYS = ("nodes", "entities")
_EDGE_KEYS = ("relationships", "relations", "edges", "triples")
_NAME = ("id", "name", "text", "entity")
_TYPE = ("type", "label", "entity_type")
_SOURCE = ("source", "source_node_id", "head", "subject", "from")
_TARGET = ("target", "target_node_id", "tail", "object", "to")
_RELATION = ("type", "relation", "predicate", "label")
_SOURCE_TYPE = ("source_type", "source_node_type", "head_type", "subject_type")
_TARGET_TYPE = ("target_type", "target_node_type", "tail_type", "object_type")


class MalformedOutputError(ExtractionError):
    """The model's reply is not a usable graph (the extractor retries, then records it).

    Attributes:
        reason: What is wrong, in one line.
        reply: The reply as the model wrote it.
    """

    def __init__(self, reason: str, reply: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


@dataclass(frozen=True)
class GraphNode:
    """A node as the model wrote it (type not yet checked against the ontology)."""

    name: str
    type: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphEdge:
    """A relationship as the model wrote it; endpoint types may be missing."""

    source: str
    type: str
    target: str
    source_type: str | None = None
    target_type: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedGraph:
    """Nodes and relationships of one reply.

    Attributes:
        nodes: The nodes (those only named by a relationship included).
        relationships: The relationships.
        skipped: Items of the reply without the required keys (ignored).
        repaired: Whether the JSON had to be repaired (cut, fenced, trailing text...).
        dropped_nodes: Nodes the engine already left out (LLMGraphTransformer's strict mode).
        dropped_relations: Relationships the engine already left out.
    """

    nodes: list[GraphNode] = field(default_factory=list)
    relationships: list[GraphEdge] = field(default_factory=list)
    skipped: int = 0
    repaired: bool = False
    dropped_nodes: int = 0
    dropped_relations: int = 0


def parse_graph(text: str) -> ParsedGraph:
    """Parse a reply; raise :class:`MalformedOutputError` when it is unusable.

    Example:
        ```python
        g = parse_graph('{"nodes": [{"id": "Ada", "type": "Person"}], "relationships": []}')
        [(n.name, n.type) for n in g.nodes]  # [('Ada', 'Person')]
        g = parse_graph('[{"head": "Ada", "head_type": "Person", "relation": "BORN_IN", '
                        '"tail": "London", "tail_type": "City"}]')
        [(e.source, e.type, e.target) for e in g.relationships]  # [('Ada', 'BORN_IN', 'London')]
        parse_graph("I am sorry, I cannot do that.")  # MalformedOutputError: no JSON in the reply
        ```
    """
    value, repaired = _load(text)
    graph = ParsedGraph(repaired=repaired)
    items = _items(value, text)
    for item in items:
        if not isinstance(item, Mapping):
            msg = f"expected a list of JSON objects, found {_kind(item)} in it ({excerpt(text)})"
            raise MalformedOutputError(msg, text)
        if not _add_item(graph, item):
            graph.skipped += 1
    if items and not graph.nodes and not graph.relationships:
        keys = sorted({str(k) for item in items for k in item})[:8]
        msg = (
            f"no item has the required keys (a node needs an id, a relationship "
            f"source, type and target; found keys: {', '.join(keys) or 'none'})"
        )
        raise MalformedOutputError(msg, text)
    _add_endpoint_nodes(graph)
    return graph


def _load(text: str) -> tuple[Any, bool]:
    try:
        return load_json_reply(text)
    except MalformedReplyError as exc:
        raise MalformedOutputError(exc.reason, text) from None


def _items(value: Any, text: str) -> list[Any]:
    """The node, relationship and triple items of a reply, in order."""
    if isinstance(value, list):
        return value
    if not isinstance(value, Mapping):
        msg = f"expected a JSON object or list, found {_kind(value)} ({excerpt(text)})"
        raise MalformedOutputError(msg, text)
    if _first(value, _SOURCE) is not None or _first(value, _NAME) is not None:
        return [value]  # one triple or one node on its own
    items: list[Any] = []
    found = False
    for keys in (_NODE_KEYS, _EDGE_KEYS):
        for key in keys:
            part = value.get(key)
            if part is None:
                continue
            if not isinstance(part, list):
                msg = f"'{key}' must be a list, found {_kind(part)} ({excerpt(text)})"
                raise MalformedOutputError(msg, text)
            items.extend(part)
            found = True
    if not found and value:
        keys_found = ", ".join(sorted(str(k) for k in value)[:8])
        msg = f"expected 'nodes' and 'relationships', found keys: {keys_found}"
        raise MalformedOutputError(msg, text)
    return items


def _add_item(graph: ParsedGraph, item: Mapping[str, Any]) -> bool:
    """Add one item (a relationship, a triple or a node); ``False`` if unusable."""
    source, target = _first(item, _SOURCE), _first(item, _TARGET)
    if source is not None or target is not None:
        relation = _first(item, _RELATION)
        if source is None or target is None or relation is None:
            return False
        graph.relationships.append(
            GraphEdge(
                source=source,
                type=relation,
                target=target,
                source_type=_first(item, _SOURCE_TYPE),
                target_type=_first(item, _TARGET_TYPE),
                properties=properties_of(item.get("properties")),
            )
        )
        return True
    name = _first(item, _NAME)
    if name is None:
        return False
    node_type = _first(item, _TYPE) or ""
    graph.nodes.append(GraphNode(name, node_type, properties_of(item.get("properties"))))
    return True


def _add_endpoint_nodes(graph: ParsedGraph) -> None:
    """Add the typed endpoints of relationships that are not listed as nodes."""
    known = {(n.name.casefold(), n.type.casefold()) for n in graph.nodes}
    for edge in graph.relationships:
        for name, kind in ((edge.source, edge.source_type), (edge.target, edge.target_type)):
            if kind and (name.casefold(), kind.casefold()) not in known:
                graph.nodes.append(GraphNode(name, kind))
                known.add((name.casefold(), kind.casefold()))


def properties_of(value: Any) -> dict[str, str]:
    """Normalise properties: a mapping, or a list of ``{"key", "value"}`` (LangChain's form).

    Example:
        ```python
        properties_of([{"key": "year", "value": 1961}])  # {'year': '1961'}
        ```
    """
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(p.get("key"), p.get("value")) for p in value if isinstance(p, Mapping)]
    result: dict[str, str] = {}
    for key, item in pairs:
        text = _text(item)
        if isinstance(key, str) and key.strip() and text is not None:
            result[key.strip()] = text
    return result


def _first(item: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        text = _text(item.get(key))
        if text:
            return text
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = " ".join(str(value).split())
        return text or None
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
