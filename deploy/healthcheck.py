"""Container health check: exit 0 when the API answers ``GET /healthz`` with 200.

Used by the Dockerfile's HEALTHCHECK and docker-compose.yml (the slim image has no curl).
``/healthz`` only says the process is alive; readiness (store reachable, models loaded) is
``/readyz``, checked by operators and load balancers. The URL comes from ``HEALTHCHECK_URL``,
else ``http://127.0.0.1:$PORT/healthz`` (``PORT`` defaults to 8000).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Probe the URL once; print why it failed."""
    port = os.environ.get("PORT", "8000")
    url = os.environ.get("HEALTHCHECK_URL") or f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (fixed URL)
            status = response.status
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"unhealthy: {url}: {exc}\n")
        return 1
    if status != 200:
        sys.stderr.write(f"unhealthy: {url}: HTTP {status}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
