"""HTTP API (FastAPI): arrives with the API issue; see docs/architecture.md."""
