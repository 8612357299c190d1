#!/usr/bin/env bash
# Quick start: set up .venv (idempotent), then build a knowledge graph from the bundled
# sample corpus and answer the sample questions with citations (`graphrag demo`).
# Extra arguments go to `graphrag demo`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

bash scripts/setup.sh
exec .venv/bin/graphrag demo "$@"
