#!/usr/bin/env bash
# The smoke experiment on a CUDA GPU with the reference engine (engine=hf engine.device=cuda):
# fails unless torch sees CUDA, the smoke run succeeds, evaluation ran with hf on cuda and every
# stage's energy includes NVML counters (measured:nvml); prints F1, time, energy, engine, device.
#
#   scripts/gpu_check.sh [--dry-run] [--out DIR] [extra Hydra overrides...]
#   PYTHON=.venv/bin/python scripts/gpu_check.sh      # which python (default: python)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
OUT=build/gpu_check
DRY_RUN=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --out) OUT="$2"; shift ;;
    *) EXTRA+=("$1") ;;
  esac
  shift
done

SMOKE=("$PYTHON" -m pipeline.smoke --out "$OUT" engine=hf engine.device=cuda ${EXTRA[@]+"${EXTRA[@]}"})
CHECK=("$PYTHON" scripts/gpu_check_metrics.py "$OUT/metrics" --engine hf --device cuda --energy measured:nvml)

if [ "$DRY_RUN" = 1 ]; then
  echo "would run: ${SMOKE[*]}"
  echo "then check: ${CHECK[*]}"
  exit 0
fi

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: gpu_check.sh needs a CUDA GPU, and torch sees none" \
       "(CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}); nothing was run" >&2
  exit 2
fi
"$PYTHON" -c 'import torch; print("cuda:", torch.cuda.get_device_name(0), "torch", torch.__version__)'

rm -rf "$OUT/metrics"   # stale metrics from an earlier run must not pass the check
"${SMOKE[@]}"
"${CHECK[@]}"
