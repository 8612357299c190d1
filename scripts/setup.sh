#!/usr/bin/env bash
# Create .venv and install the pinned dependencies from requirements.lock (idempotent).
#
# - Uses python3.11 (or python3 when it is 3.11).
# - Installs with uv, given the local wheel folder that holds the CPU build of torch 2.13.0
#   (PIP_FIND_LINKS, default /opt/wheels), and compiles bytecode at install time
#   (PYTHONDONTWRITEBYTECODE=1 is set here, so cold imports would otherwise cost ~25 s).
# - Skips everything when .venv/.stamp holds the sha256 of requirements.lock + pyproject.toml.
# - Without a local torch wheel, falls back to plain pip from PyPI (see the warning below).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
PY="$VENV/bin/python"
STAMP="$VENV/.stamp"
WHEELS="${PIP_FIND_LINKS:-/opt/wheels}"
UV_VERSION="0.13.9"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

log() { printf 'setup: %s\n' "$*" >&2; }

pick_python() {
    if command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1 \
        && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo python3
    else
        log "Python 3.11 is required (python3.11, or python3 at version 3.11); install it and retry"
        exit 1
    fi
}

wanted_stamp() {
    cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1
}

want="$(wanted_stamp)"
if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    log "environment is up to date ($VENV matches requirements.lock and pyproject.toml)"
    exit 0
fi

start=$SECONDS
if [[ ! -x "$PY" ]]; then
    python="$(pick_python)"
    log "creating $VENV with $python"
    "$python" -m venv "$VENV"
elif ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    log "$VENV uses $("$PY" --version 2>&1), not Python 3.11; remove $VENV and run this again"
    exit 1
fi

torch_wheel="$(compgen -G "$WHEELS/torch-2.13.0+cpu-*.whl" | head -n 1 || true)"
if [[ -n "$torch_wheel" ]]; then
    if ! "$PY" -m uv --version >/dev/null 2>&1; then
        log "installing uv $UV_VERSION into $VENV"
        "$PY" -m pip install --quiet "uv==$UV_VERSION"
    fi
    log "installing requirements.lock with uv (torch from $torch_wheel)"
    "$PY" -m uv pip install --python "$PY" --find-links "$WHEELS" \
        --index-strategy unsafe-best-match --compile-bytecode -r requirements.lock
    "$PY" -m uv pip install --python "$PY" --no-deps -e .
else
    log "WARNING: no torch-2.13.0+cpu wheel in $WHEELS; falling back to plain pip from PyPI."
    log "WARNING: PyPI serves torch 2.13.0 as the CUDA build (several GB); the lock's"
    log "WARNING: '+cpu' local version is relaxed to torch==2.13.0 for this install."
    relaxed="$(mktemp)"
    trap 'rm -f "$relaxed"' EXIT
    sed 's/^torch==2\.13\.0+cpu$/torch==2.13.0/' requirements.lock >"$relaxed"
    "$PY" -m pip install --quiet -r "$relaxed"
    "$PY" -m pip install --quiet --no-deps -e .
    log "compiling bytecode"
    "$PY" -m compileall -q -j 0 "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
        >/dev/null || true
fi

echo "$want" >"$STAMP"
log "done in $((SECONDS - start)) s; run commands with $VENV/bin/... (e.g. $VENV/bin/graphrag --help)"
