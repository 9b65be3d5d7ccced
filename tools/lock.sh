#!/usr/bin/env bash
# Regenerate constraints.txt: resolve the pins in settings.ini in a throwaway virtualenv and freeze it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e ".[dev]"
{ head -2 constraints.txt; "$tmp/venv/bin/pip" freeze | grep -v -e '^-e' -e '^l2s_nb' | sed 's/+cpu//'; } > "$tmp/c.txt"
mv "$tmp/c.txt" constraints.txt
