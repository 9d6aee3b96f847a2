#!/usr/bin/env bash
# Set up and run lm-eval-mdlm on a fresh machine.
#   ./run.sh main   install, then run the main job (see README)
#   ./run.sh test   install, then run the test suite
# Installs into ./.venv (override with VENV=...). torch: where no NVIDIA GPU is visible, the pinned
# torch==2.13.0 (a CPU wheel where the local index has one; set TORCH_INDEX to a CPU wheel index
# elsewhere); with a GPU, pip's default torch build. Set TORCH_SPEC to choose another version.
set -euo pipefail
cd "$(dirname "$0")"
job=${1:-}
case "$job" in main|test) ;; *) echo "usage: ./run.sh main|test" >&2; exit 2 ;; esac

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$PY" -m pip install -q "${TORCH_SPEC:-torch>=2.2}"
  else
    "$PY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
  fi
fi
"$PY" -m pip install -q -e ".[test]"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} TOKENIZERS_PARALLELISM=false

if [ "$job" = test ]; then
  "$PY" -m ruff check .
  exec "$PY" -m pytest -q tests
fi
exec "$PY" -m lm_eval_mdlm.main_job
