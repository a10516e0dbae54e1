#!/usr/bin/env bash
# Set up crowdnb on a fresh Debian machine: a virtualenv in .venv with the package installed.
#   scripts/setup.sh            the package, JupyterLab, Voila and the sample data
#   scripts/setup.sh --test     also what the test suite needs: Debian's chromium, postgresql,
#                               fonts-noto-cjk (Korean/Japanese/Chinese in screenshots) and Node.js
set -euo pipefail
cd "$(dirname "$0")/.."

extras="notebook,postgres,server"
if [[ "${1:-}" == "--test" ]]; then
  extras="test"
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  [[ -d /usr/share/fonts/opentype/noto ]] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need+=(fonts-noto-cjk)
  command -v node >/dev/null || need+=(nodejs)
  if ((${#need[@]})); then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

python="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extras}]"
