#!/usr/bin/env bash
# Second command of the README, and exactly what CI runs: lint, types, the whole test suite.
# Starts what the tests need (MariaDB) when it is not running yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
bash scripts/services.sh
echo "==> ruff" >&2
.venv/bin/ruff check paren_pulse paren_pulse_tests
echo "==> mypy" >&2
.venv/bin/mypy
echo "==> dagster definitions validate" >&2
PAREN_PULSE_HOME="$(mktemp -d)" .venv/bin/dagster definitions validate -w workspace.yaml >/dev/null
echo "==> pytest" >&2
.venv/bin/python -m pytest "$@"
