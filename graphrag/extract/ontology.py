"""The ontology of LLM extraction: which node and relation types the LLM may extract.

An ontology is a YAML file named by ``extraction.ontology_path``
(``GRAPHRAG_EXTRACTION__ONTOLOGY_PATH``); ``samples/ontology.yaml`` is an example::

    nodes:
      - name: Person
        label: PERSON             # the entity type stored (default: the name in upper case)
        description: A named human being.
        properties: [role]        # optional: properties the LLM may extract
    relations:
      - name: FOUNDED
        source: Person            # one node type or a list
        target: [Organization]
        description: The person founded the organisation.
        properties: [year]

``label`` lets LLM entities share types with spaCy's (``PERSON``, ``ORG``, ``GPE``, ``FAC``
...), so that in the ``tiered`` mode both tiers' mentions of one entity resolve to the same
entity. A missing file, a malformed one, or a relation naming an unknown node type is a
:class:`~graphrag.errors.ConfigError` that names the setting and the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from graphrag.errors import ConfigError

SETTING = "extraction.ontology_path (GRAPHRAG_EXTRACTION__ONTOLOGY_PATH)"
"""How error messages name the setting to fix."""

_SEPARATORS = re.compile(r"[\s\-]+")


def type_key(name: str) -> str:
    """Return the matching key of a type name: case-insensitive, spaces and dashes as ``_``.

    Example:
        ```python
        type_key("Studied at"), type_key("STUDIED_AT")  # ('studied_at', 'studied_at')
        ```
    """
    return _SEPARATORS.sub("_", name.strip()).casefold()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeType(_Strict):
    """A node type the LLM may extract.

    Attributes:
        name: The type name shown to the model (``Person``).
        label: The entity type stored (default: the name in upper case, ``PERSON``).
        description: What the type covers (shown to the model).
        properties: Property names the model may extract for such nodes.
    """

    name: str = Field(min_length=1)
    label: str | None = None
    description: str = ""
    properties: list[str] = Field(default_factory=list)

    @property
    def entity_type(self) -> str:
        """The entity type stored for nodes of this type."""
        return type_key(self.label or self.name).upper()


class RelationType(_Strict):
    """A relation type, with the node types it may connect.

    Attributes:
        name: The type name shown to the model (``FOUNDED``).
        source: Node types of the source (a name or a list of names).
        target: Node types of the target.
        description: What the relation means (shown to the model).
        properties: Property names the model may extract for such relations.
    """

    name: str = Field(min_length=1)
    source: list[str] = Field(min_length=1)
    target: list[str] = Field(min_length=1)
    description: str = ""
    properties: list[str] = Field(default_factory=list)

    @field_validator("source", "target", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def predicate(self) -> str:
        """The predicate stored for relations of this type (``studied at``)."""
        return type_key(self.name).replace("_", " ")


class Ontology(_Strict):
    """Node and relation types of LLM extraction (see the module docstring for the format).

    Example:
        ```python
        onto = Ontology(
            nodes=[NodeType(name="Person", label="PERSON"), NodeType(name="City")],
            relations=[RelationType(name="BORN_IN", source=["Person"], target=["City"])],
        )
        onto.node("person").entity_type  # 'PERSON'
        onto.allows("born in", "Person", "CITY")  # True
        onto.allowed_relationships  # [('Person', 'BORN_IN', 'City')]
        ```
    """

    nodes: list[NodeType] = Field(min_length=1)
    relations: list[RelationType] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Ontology:
        """Check that names are unique and relations name known node types."""
        nodes: dict[str, NodeType] = {}
        for node in self.nodes:
            if type_key(node.name) in nodes:
                msg = f"node type {node.name!r} is defined twice"
                raise ValueError(msg)
            nodes[type_key(node.name)] = node
        relations: set[str] = set()
        for relation in self.relations:
            if type_key(relation.name) in relations:
                msg = f"relation type {relation.name!r} is defined twice"
                raise ValueError(msg)
            relations.add(type_key(relation.name))
            for side in ("source", "target"):
                unknown = [t for t in getattr(relation, side) if type_key(t) not in nodes]
                if unknown:
                    msg = (
                        f"relation {relation.name!r} has unknown {side} type "
                        f"{', '.join(map(repr, unknown))} (node types: "
                        f"{', '.join(n.name for n in self.nodes)})"
                    )
                    raise ValueError(msg)
        return self

    def node(self, name: str) -> NodeType | None:
        """Return the node type called ``name`` (or labelled so), case-insensitively."""
        key = type_key(name)
        for node in self.nodes:
            if type_key(node.name) == key:
                return node
        for node in self.nodes:
            if node.label and type_key(node.label) == key:
                return node
        return None

    def relation(self, name: str) -> RelationType | None:
        """Return the relation type called ``name``, case-insensitively."""
        key = type_key(name)
        return next((r for r in self.relations if type_key(r.name) == key), None)

    def allows(self, relation: str, source: str, target: str) -> bool:
        """Whether ``relation`` may connect a ``source`` node to a ``target`` node."""
        found, src, dst = self.relation(relation), self.node(source), self.node(target)
        if found is None or src is None or dst is None:
            return False
        sources = {type_key(t) for t in found.source}
        targets = {type_key(t) for t in found.target}
        return type_key(src.name) in sources and type_key(dst.name) in targets

    @property
    def allowed_nodes(self) -> list[str]:
        """Node type names, as LLMGraphTransformer's ``allowed_nodes``."""
        return [n.name for n in self.nodes]

    @property
    def allowed_relationships(self) -> list[tuple[str, str, str]]:
        """``(source, relation, target)`` triples, as LLMGraphTransformer's argument."""
        names = {type_key(n.name): n.name for n in self.nodes}
        return [
            (names[type_key(s)], r.name, names[type_key(t)])
            for r in self.relations
            for s in r.source
            for t in r.target
        ]

    @property
    def has_properties(self) -> bool:
        """Whether any type declares properties."""
        return any(n.properties for n in self.nodes) or any(r.properties for r in self.relations)


def load_ontology(path: Path | str | None) -> Ontology:
    """Read and check an ontology file.

    Args:
        path: The YAML file (``extraction.ontology_path``).

    Returns:
        The ontology.

    Raises:
        ConfigError: If the path is unset, the file is missing or unreadable, not YAML, or
            not a valid ontology (unknown types, duplicates); the message names the setting.
    """
    if path is None:
        msg = (
            f"LLM extraction needs an ontology: set {SETTING} to a YAML file of node and "
            "relation types (an example: samples/ontology.yaml)"
        )
        raise ConfigError(msg)
    file = Path(path).expanduser()
    data = _read_yaml(file)
    try:
        return Ontology.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        msg = f"{SETTING}: {file} is not a valid ontology: {problems}"
        raise ConfigError(msg) from exc


def _read_yaml(file: Path) -> Any:
    import yaml

    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        msg = f"{SETTING}: the ontology file {file} {what}; point the setting at a YAML file"
        raise ConfigError(msg)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{SETTING}: cannot read the ontology file {file} ({exc})"
        raise ConfigError(msg) from exc
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        msg = f"{SETTING}: the ontology file {file} is not valid YAML ({detail})"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        msg = (
            f"{SETTING}: the ontology file {file} must be a mapping with 'nodes' (and "
            "'relations'), see samples/ontology.yaml"
        )
        raise ConfigError(msg)
    return data


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
