#!/usr/bin/env bash
# Set up everything the tests need (Python packages, Debian's chromium and postgresql), then run
# the whole suite: unit tests, store tests on SQLite and a real PostgreSQL server, and real-browser
# tests in JupyterLab and Voila. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
