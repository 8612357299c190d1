"""Entry points for servers: ``gunicorn "api.main:app_from_env()"`` and ``graphrag serve``."""

from __future__ import annotations

from fastapi import FastAPI

from graphrag.config import load_settings
from graphrag.runtime import configure_logging


def app_from_env() -> FastAPI:
    """Build the app from the environment and settings file (one call per worker process)."""
    from api.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
