"""Settings of the HTTP API service (``GRAPHRAG_API__*``), a section of :class:`Settings`.

Secrets (the JWT secret) are :class:`~pydantic.SecretStr`: never printed, never logged. The
checks that depend on ``environment`` (a placeholder or short secret is refused outside
development) run when the service starts (:func:`api.security.tokens.check_settings`), so the
CLI's other commands do not need API secrets.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Environment(StrEnum):
    """Where the service runs; ``development`` relaxes the secret checks (never in production)."""

    PRODUCTION = "production"
    DEVELOPMENT = "development"


class JwtAlgorithm(StrEnum):
    """JWT signature algorithms the service accepts (one per deployment)."""

    HS256 = "HS256"
    RS256 = "RS256"
    ES256 = "ES256"


class ApiSettings(BaseModel):
    """The question-answering HTTP API: authentication, workspaces, audit, limits."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    jwt_algorithm: JwtAlgorithm = Field(
        default=JwtAlgorithm.HS256,
        description="JWT signature algorithm: HS256 (shared secret), RS256 or ES256 (public key).",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret (at least 32 characters; a secret: set it in the environment).",
    )
    jwt_public_key_file: Path | None = Field(
        default=None, description="PEM public key file for RS256/ES256 tokens."
    )
    jwt_issuer: str = Field(default="graphrag", description="Required 'iss' claim of tokens.")
    jwt_audience: str = Field(default="graphrag-api", description="Required 'aud' claim.")
    token_ttl_minutes: int = Field(
        default=60, ge=1, le=60 * 24 * 30, description="Lifetime of tokens `graphrag token` mints."
    )
    workspaces_dir: Path = Field(
        default=Path("workspaces"),
        description="Embedded store: folder holding one SQLite file per workspace.",
    )
    default_workspace: str = Field(
        default="default", description="Workspace of tokens that name none."
    )
    spool_dir: Path = Field(
        default=Path("workspaces/uploads"),
        description="Uploaded files of ingest jobs until the job is done (shared by workers).",
    )
    audit_log: str = Field(
        default="-", description="Audit log: a file path (JSON lines) or '-' for stdout."
    )
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest request body (uploads included)."
    )
    max_upload_files: int = Field(default=100, ge=1, description="Most files in one upload.")
    rate_limit: str = Field(
        default="120/minute",
        description="Requests per API key or token subject (slowapi/limits syntax).",
    )
    rate_limit_storage: SecretStr = Field(
        default=SecretStr("memory://"),
        description="Where rate-limit counters live: memory:// (per worker process) or "
        "redis://[:password@]host:6379 (shared by all workers; a secret when it holds a password).",
    )
    request_timeout: float = Field(
        default=120.0, gt=0, description="Seconds a request may take (jobs run in background)."
    )
    cpu_workers: int = Field(
        default=2, ge=1, le=64, description="Threads for CPU work (embedding, PageRank)."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty: none)."
    )
    ui: bool = Field(default=True, description="Serve the web explorer at /ui.")
    eval_dir: Path | None = Field(
        default=Path("docs/eval"),
        description="Folder of `graphrag eval --out` results the web explorer shows: one "
        "results folder, or a folder of them (missing: the view says how to add results).",
    )
