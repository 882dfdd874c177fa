#!/usr/bin/env bash
# Installs what the test suite needs into .venv and runs all of it: lint, types, tests.
# Tests use real PostgreSQL: HOTLINE_TEST_DATABASE_URL when set, else an embedded server.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
