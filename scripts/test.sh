#!/usr/bin/env bash
# Lint, format check, mypy --strict, AQL lint and the whole test suite with a coverage gate
# of 90 % of lines, in one pytest process
# (models load once per session). Extra arguments go to pytest.
# Exits with pytest's exit code; "no tests collected" (5) counts as a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Playwright drives the system's Chromium; it must never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

bash scripts/setup.sh
# Debian's chromium for the web explorer's browser tests, when missing (skipped otherwise).
bash scripts/install_chromium.sh

echo "test: ruff check" >&2
.venv/bin/ruff check .
echo "test: ruff format --check" >&2
.venv/bin/ruff format --check .
echo "test: mypy --strict graphrag pipelines api" >&2
.venv/bin/mypy graphrag pipelines api
echo "test: aql-lint aql/" >&2
if [[ -x ../shared/tools/aql-lint ]]; then
    ../shared/tools/aql-lint aql/ -q
else
    echo "test: ../shared/tools/aql-lint not found; AQL lint skipped" >&2
fi

echo "test: pytest" >&2
set +e
# coverage: at least 90 % of lines (pyproject.toml [tool.coverage]: fail_under, and the
# list of server-only ArangoDB modules that are not counted)
.venv/bin/pytest -q -rs --cov --cov-report=term --cov-report=xml:coverage.xml \
    --cov-fail-under=90 "$@"
rc=$?
set -e

if [[ $rc -eq 5 ]]; then
    echo "test: pytest collected no tests; that is a failure (check the paths and -k filters)" >&2
fi
exit "$rc"
