"""``make_extractor``: the tier chosen in the settings, and clear errors for bad setups."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphrag.config import Settings
from graphrag.errors import ConfigError
from graphrag.extract.factory import llm_part, llm_stats
from graphrag.extract.llm_engines import JsonEngine, TransformerEngine
from graphrag.extract.llm_extractor import LLMExtractor
from graphrag.extract.spacy_extractor import SpacyExtractor
from graphrag.extract.tiered import TieredExtractor
from graphrag.llm import ScriptedChatModel
from graphrag.runtime import make_extractor
from tests.unit.extract.conftest import stack, updated


def test_spacy_is_the_default_and_reads_no_ontology(settings: Settings, tmp_path: Path) -> None:
    settings = updated(settings, extraction={"ontology_path": tmp_path / "missing.yaml"})
    extractor = make_extractor(settings)
    assert isinstance(extractor, SpacyExtractor)
    assert llm_part(extractor) is None
    assert llm_stats(extractor) is None


def test_the_llm_tier_without_an_llm_names_the_settings(llm_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="GRAPHRAG_LLM__BASE_URL and GRAPHRAG_LLM__MODEL"):
        make_extractor(llm_settings)


def test_a_missing_ontology_is_reported_before_anything_else(
    llm_settings: Settings, tmp_path: Path
) -> None:
    settings = updated(llm_settings, extraction={"ontology_path": tmp_path / "nope.yaml"})
    with pytest.raises(ConfigError, match="GRAPHRAG_EXTRACTION__ONTOLOGY_PATH"):
        make_extractor(settings)
    unset = updated(llm_settings, extraction={"ontology_path": None})
    with pytest.raises(ConfigError, match="needs an ontology"):
        make_extractor(unset)


def test_the_llm_and_tiered_tiers_with_a_given_model(llm_settings: Settings) -> None:
    model = stack(llm_settings, ScriptedChatModel([]))
    extractor = make_extractor(llm_settings, llm=model)
    assert isinstance(extractor, LLMExtractor)
    assert isinstance(extractor.engine, JsonEngine)
    assert extractor.model is model
    assert llm_stats(extractor) is extractor.stats

    tiered = updated(llm_settings, extraction={"tier": "tiered", "llm_engine": "transformer"})
    built = make_extractor(tiered, llm=model)
    assert isinstance(built, TieredExtractor)
    assert isinstance(built.llm.engine, TransformerEngine)
    assert llm_part(built) is built.llm


def test_a_configured_endpoint_builds_the_stack_without_a_request(llm_settings: Settings) -> None:
    settings = updated(
        llm_settings, llm={"base_url": "http://127.0.0.1:9/v1", "model": "gemma-3-270m"}
    )
    extractor = make_extractor(settings)  # port 9 (discard) is never contacted
    assert isinstance(extractor, LLMExtractor)
    assert extractor.model.model_name == "gemma-3-270m"
    assert extractor.meter is not None
    assert extractor.meter.totals().calls == 0
