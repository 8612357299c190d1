"""HTTP routers of the API, one module per area; all mounted under ``/v1``."""
