"""The ontology file: loading, lookups, and every bad input as a ConfigError naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.errors import ConfigError
from graphrag.extract.ontology import Ontology, load_ontology, type_key
from tests.unit.extract.conftest import ONTOLOGY

SETTING = "GRAPHRAG_EXTRACTION__ONTOLOGY_PATH"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ontology.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_ontology_loads_with_labels_and_triples() -> None:
    onto = load_ontology(ONTOLOGY)
    assert onto.node("person") is not None
    assert onto.node("PERSON").name == "Person"  # type: ignore[union-attr]  # by label too
    assert onto.node("Structure").entity_type == "FAC"  # type: ignore[union-attr]
    assert ("Organization", "BUILT", "Structure") in onto.allowed_relationships
    assert onto.allows("built", "Organization", "structure")
    assert not onto.allows("BUILT", "Person", "Structure")
    assert onto.relation("studied at").predicate == "studied at"  # type: ignore[union-attr]
    assert onto.has_properties


def test_a_node_without_label_is_stored_under_its_name_in_upper_case() -> None:
    onto = Ontology.model_validate({"nodes": [{"name": "Tidal station"}]})
    assert onto.nodes[0].entity_type == "TIDAL_STATION"
    assert type_key(" Tidal-station ") == "tidal_station"


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=SETTING) as caught:
        load_ontology(tmp_path / "nope.yaml")
    assert "does not exist" in str(caught.value)


def test_no_path_names_the_setting_and_the_example() -> None:
    with pytest.raises(ConfigError, match=SETTING) as caught:
        load_ontology(None)
    assert "samples/ontology.yaml" in str(caught.value)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_ontology(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "nodes: [{name: Person}]\nrelations:\n  - {name: KNOWS, source: Person, target: Persn}",
            "unknown target type 'Persn'",
        ),
        (
            "nodes: [{name: Person}]\nrelations: [{name: R, source: [Person, X], target: Person}]",
            "unknown source type 'X'",
        ),
        ("nodes: [{name: Person}, {name: person}]", "defined twice"),
        ("nodes: []", "nodes"),
        ("nodes: [{name: Person, colour: red}]", "colour"),
        ("relations: []", "nodes"),
        ("- Person\n- Place", "must be a mapping"),
        ("nodes: [{name: Person\n", "not valid YAML"),
    ],
)
def test_invalid_ontologies_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=SETTING) as caught:
        load_ontology(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
