#!/usr/bin/env bash
# First command of the README: set everything up and run the main job on the embedded default.
# Idempotent: re-running reuses the virtualenv and rebuilds the demo warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
export PAREN_PULSE_HOME="${PAREN_PULSE_HOME:-$PWD/.paren_pulse}"
echo "==> building the demo warehouse under $PAREN_PULSE_HOME" >&2
.venv/bin/paren-pulse demo >&2
echo "==> materializing the latest complete week" >&2
.venv/bin/paren-pulse snapshot --text
