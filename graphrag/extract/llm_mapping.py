"""Map a parsed LLM graph onto a :class:`~graphrag.models.ChunkExtraction` of one chunk.

- **Types**: a node's type is looked up in the ontology (by name or label, any case); the
  mention gets the type's ``label`` (``PERSON``...). In strict mode nodes of other types are
  dropped, and relations whose type is unknown or whose endpoint types the ontology does not
  allow; properties not declared for the type are dropped too. Without strict mode unknown
  types are kept, upper-cased.
- **Grounding**: every mention needs its character span in the chunk, so each node name is
  searched in the chunk text: exactly, then ignoring case, accents, runs of whitespace and a
  leading article. A node whose name is **not found** is **dropped** (with its relations)
  and counted as *ungrounded*: a small model invents or rewrites names, and an entity
  without a span could not be cited or quoted. The mention's surface is the text as written
  in the chunk, so LLM and spaCy mentions of one name share a resolution key.
- **Evidence**: a relation's evidence is the chunk's sentence holding both entities (the
  closest pair of occurrences; the sentences between them when they are in different ones).

Everything found here is marked ``extractor="llm"`` and relations are of kind ``llm``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from graphrag.extract.llm_parse import GraphEdge, ParsedGraph
from graphrag.extract.ontology import Ontology, type_key
from graphrag.extract.types import ENTITY
from graphrag.ids import normalize_name
from graphrag.models import ChunkExtraction, RawMention, RawRelation, RelationKind

LLM = "llm"
"""The ``extractor`` value of what the LLM found."""

Span = tuple[int, int]

_SENTENCE_END = re.compile(r"(?<=[.!?][\"')\]])\s+|(?<=[.!?])\s+|\n\s*")
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass
class MappedChunk:
    """The extraction of one chunk and what was left out of it.

    Attributes:
        extraction: Mentions and relations, ``extractor="llm"``.
        dropped_nodes: Nodes of types the ontology does not have (strict mode).
        dropped_relations: Relations of unknown or disallowed types, or with an endpoint
            that was dropped or not found.
        ungrounded: Nodes whose name was not found in the chunk text.
    """

    extraction: ChunkExtraction
    dropped_nodes: int = 0
    dropped_relations: int = 0
    ungrounded: int = 0


@dataclass
class _Node:
    name: str
    type_name: str
    label: str
    properties: dict[str, str] = field(default_factory=dict)


def to_extraction(
    chunk_id: str, text: str, graph: ParsedGraph, ontology: Ontology, *, strict: bool = True
) -> MappedChunk:
    """Turn a parsed reply into the chunk's raw mentions and relations.

    Args:
        chunk_id: The chunk's id.
        text: The chunk's text (spans are offsets into it).
        graph: The parsed reply.
        ontology: The allowed types.
        strict: Drop nodes, relations and properties the ontology does not allow.

    Returns:
        The extraction and the counts of what was dropped.
    """
    nodes, dropped_nodes = _typed_nodes(graph, ontology, strict=strict)
    sentences = sentence_spans(text)
    mapped = MappedChunk(
        ChunkExtraction(chunk_id=chunk_id),
        dropped_nodes=dropped_nodes + graph.dropped_nodes,
        dropped_relations=graph.dropped_relations,
    )
    spans, kinds = _ground(text, nodes, sentences, mapped)
    seen: set[tuple[int, str, int]] = set()
    for edge in graph.relationships:
        relation = _relation(edge, kinds, ontology, strict=strict)
        if relation is None:
            mapped.dropped_relations += 1
            continue
        subject, predicate, obj, properties = relation
        if (subject, predicate, obj) in seen:
            continue
        seen.add((subject, predicate, obj))
        evidence = _evidence(text, sentences, spans[subject], spans[obj])
        mapped.extraction.relations.append(
            RawRelation(
                subject=subject, object=obj, predicate=predicate, kind=RelationKind.LLM,
                sentence=evidence, extractor=LLM, properties=properties,
            )
        )  # fmt: skip
    return mapped


def _ground(
    text: str, nodes: list[_Node], sentences: list[Span], mapped: MappedChunk
) -> tuple[list[list[Span]], list[_Node]]:
    """Add a mention for every node found in ``text``; return their occurrences and nodes."""
    spans: list[list[Span]] = []
    kinds: list[_Node] = []
    for node in nodes:
        found = find_spans(text, node.name)
        if not found:
            mapped.ungrounded += 1
            continue
        start, end = found[0]
        mapped.extraction.mentions.append(
            RawMention(
                surface=text[start:end],
                type=node.label,
                start=start,
                end=end,
                sentence=_sentence_of(sentences, start),
                extractor=LLM,
                properties=node.properties,
            )
        )
        spans.append(found)
        kinds.append(node)
    return spans, kinds


def _typed_nodes(
    graph: ParsedGraph, ontology: Ontology, *, strict: bool
) -> tuple[list[_Node], int]:
    """The nodes with their ontology type, deduplicated by (name, type); and the dropped."""
    result: dict[tuple[str, str], _Node] = {}
    dropped = 0
    for node in graph.nodes:
        spec = ontology.node(node.type) if node.type else None
        if spec is None:
            if strict:
                dropped += 1
                continue
            label = type_key(node.type).upper() if node.type else ENTITY
            typed = _Node(node.name, node.type, label, dict(node.properties))
        else:
            allowed = {type_key(p) for p in spec.properties}
            props = {
                k: v for k, v in node.properties.items() if not strict or type_key(k) in allowed
            }
            typed = _Node(node.name, spec.name, spec.entity_type, props)
        key = (normalize_name(node.name), typed.label)
        if key[0] and key not in result:
            result[key] = typed
    return list(result.values()), dropped


def _relation(
    edge: GraphEdge, nodes: list[_Node], ontology: Ontology, *, strict: bool
) -> tuple[int, str, int, dict[str, str]] | None:
    """Mention indexes, predicate and properties of a relationship, or ``None`` to drop it."""
    subject = _endpoint(nodes, edge.source, edge.source_type, ontology)
    obj = _endpoint(nodes, edge.target, edge.target_type, ontology)
    if subject is None or obj is None or subject == obj:
        return None
    spec = ontology.relation(edge.type)
    allowed = spec is not None and ontology.allows(
        spec.name, nodes[subject].type_name, nodes[obj].type_name
    )
    if strict and not allowed:
        return None
    predicate = spec.predicate if spec is not None else type_key(edge.type).replace("_", " ")
    properties = dict(edge.properties)
    if strict and spec is not None:
        declared = {type_key(p) for p in spec.properties}
        properties = {k: v for k, v in properties.items() if type_key(k) in declared}
    return subject, predicate, obj, properties


def _endpoint(nodes: list[_Node], name: str, kind: str | None, ontology: Ontology) -> int | None:
    """The index of the grounded node called ``name`` (of type ``kind`` when given)."""
    norm = normalize_name(name)
    matches = [i for i, n in enumerate(nodes) if normalize_name(n.name) == norm]
    if not matches:
        return None
    if kind:
        spec = ontology.node(kind)
        wanted = type_key(spec.name if spec is not None else kind)
        typed = [i for i in matches if type_key(nodes[i].type_name) == wanted]
        if typed:
            return typed[0]
    return matches[0]


def sentence_spans(text: str) -> list[Span]:
    r"""Split a chunk into sentences: after ``.``, ``!`` or ``?`` and at line breaks.

    Example:
        ```python
        t = "Ada was born in London. She wrote notes.\nTitle"
        [t[s:e] for s, e in sentence_spans(t)]
        # ['Ada was born in London.', 'She wrote notes.', 'Title']
        ```
    """
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start()
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans or [(0, len(text))]


def _sentence_of(sentences: list[Span], offset: int) -> int:
    for index, (_, end) in enumerate(sentences):
        if offset < end:
            return index
    return len(sentences) - 1


def _evidence(text: str, sentences: list[Span], first: list[Span], second: list[Span]) -> str:
    """The sentence(s) from the closest occurrences of two entities."""
    best: tuple[int, int, int] | None = None
    for a, _ in first:
        for b, _ in second:
            i, j = _sentence_of(sentences, a), _sentence_of(sentences, b)
            low, high = min(i, j), max(i, j)
            if best is None or high - low < best[0]:
                best = (high - low, low, high)
    assert best is not None  # both endpoints are grounded: they have occurrences
    _, low, high = best
    return " ".join(text[sentences[low][0] : sentences[high][1]].split())


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` case-folded without accents, and each folded character's offset in ``text``."""
    chars: list[str] = []
    offsets: list[int] = []
    for offset, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for folded in part.casefold():
                chars.append(folded)
                offsets.append(offset)
    return "".join(chars), offsets


def find_spans(text: str, name: str) -> list[Span]:
    """Every occurrence of ``name`` in ``text`` as character spans, best match type first.

    Exact occurrences first; else ignoring case, accents and runs of whitespace, on word
    boundaries; else the same without a leading article (``the Lantern Bridge``).

    Example:
        ```python
        t = "Tomás  Brennick built the Lantern Bridge."
        [t[s:e] for s, e in find_spans(t, "tomas brennick")]  # ['Tomás  Brennick']
        [t[s:e] for s, e in find_spans(t, "The Lantern Bridge")]  # ['the Lantern Bridge']
        find_spans(t, "Velmora")  # []
        ```
    """
    name = " ".join(name.split())
    if not name:
        return []
    exact = [(m.start(), m.end()) for m in re.finditer(_bounded(re.escape(name)), text)]
    if exact:
        return exact
    folded, offsets = _fold(text)
    for candidate in (name, _ARTICLE.sub("", name)):
        words = _fold(candidate)[0].split()
        if not words:
            continue
        pattern = _bounded(r"\s+".join(re.escape(w) for w in words))
        found = [
            (offsets[m.start()], offsets[m.end() - 1] + 1) for m in re.finditer(pattern, folded)
        ]
        if found:
            return found
    return []


def _bounded(pattern: str) -> str:
    """``pattern`` not inside a word (``Vale`` does not match in ``Valentine``)."""
    return r"(?<!\w)(?:" + pattern + r")(?!\w)"
