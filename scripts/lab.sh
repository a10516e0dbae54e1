#!/usr/bin/env bash
# Set up, then start JupyterLab on 127.0.0.1 with the quickstart notebook open; the labels go to
# the embedded SQLite store (set CROWDNB_STORE to choose another file or a PostgreSQL URL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
port="${PORT:-8888}"
root_flag=(); [[ $(id -u) -eq 0 ]] && root_flag=(--allow-root)
echo "crowdnb store: $(.venv/bin/python -c 'import crowdnb.store as s; print(s.default_url())')"
echo "Starting JupyterLab on port ${port}."
echo "JupyterLab prints the address to open (with its token) below; open that address in a browser."
cd notebooks
exec ../.venv/bin/jupyter lab "${root_flag[@]}" --no-browser --ip=127.0.0.1 --port="$port" quickstart.ipynb
