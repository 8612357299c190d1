# The GraphRAG platform (CLI now, HTTP API later) on python:3.11-slim, CPU-only torch.
# Built by `docker compose build` (service `api`); models load from files (no hub access).
FROM python:3.11-slim

# The version label follows pyproject.toml: `docker compose build` passes it (compose sets
# GRAPHRAG_VERSION from .env or the shell; default below), e.g.
#   docker build --build-arg GRAPHRAG_VERSION=$(python -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])") .
ARG GRAPHRAG_VERSION=0.1.0
LABEL org.opencontainers.image.title="arango-graphrag-platform" \
      org.opencontainers.image.version="${GRAPHRAG_VERSION}" \
      org.opencontainers.image.description="Knowledge-graph construction and GraphRAG on ArangoDB" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

WORKDIR /app

# The pinned lock (torch==2.13.0+cpu comes from the PyTorch CPU index, never CUDA wheels).
COPY requirements.lock ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock

# The project, installed editable so that aql/ stays next to graphrag/ (queries are files).
COPY pyproject.toml README.md ./
COPY graphrag ./graphrag
COPY pipelines ./pipelines
COPY api ./api
COPY aql ./aql
RUN pip install --no-deps -e . \
    && python -m compileall -q graphrag pipelines api \
    && useradd --create-home --uid 10001 graphrag

USER graphrag
CMD ["graphrag", "--help"]
