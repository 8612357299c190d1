#!/usr/bin/env bash
# Lint, format check and the whole test suite with coverage, in one pytest process
# (models load once per session). Extra arguments go to pytest.
# Exits with pytest's exit code; "no tests collected" (5) counts as a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

bash scripts/setup.sh

echo "test: ruff check" >&2
.venv/bin/ruff check .
echo "test: ruff format --check" >&2
.venv/bin/ruff format --check .

echo "test: pytest" >&2
set +e
.venv/bin/pytest -q -rs --cov --cov-report=term --cov-report=xml:coverage.xml "$@"
rc=$?
set -e

if [[ $rc -eq 5 ]]; then
    echo "test: pytest collected no tests; that is a failure (check the paths and -k filters)" >&2
fi
exit "$rc"
