#!/usr/bin/env bash
# Sets up rgym on a Debian/Ubuntu machine: bubblewrap (the sandbox) from apt, then a virtualenv
# in .venv with rgym installed. `./install.sh --dev` adds the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "rgym needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1). Set PYTHON=python3.X." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
"$PY" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# --dev: the browser the `rgym view` tests drive (Debian's chromium; no browser download)
if [ "${1:-}" = "--dev" ]; then command -v chromium >/dev/null || need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
  # TRL's data helpers check `rgym export`'s TRL rows; its trainers (and their multi-GB torch)
  # are not needed for that, so trl comes without its dependencies
  .venv/bin/python -m pip install -q --no-deps "trl>=1.0"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "rgym installed in .venv ($(.venv/bin/rgym --version 2>/dev/null || echo ok))"
