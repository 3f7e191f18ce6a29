#!/usr/bin/env bash
# The TensorRT headline path on a CUDA GPU: FP32/FP16 engines for nano, S and L, their agreement with
# PyTorch on real frames, end-to-end vs bare-network latency, one streaming.run with the L engine.
#
#   bash benchmarks/gpu_check.sh [--models yolox_nano yolox_s yolox_l] [--runs 100] [--out runs/gpu_check]
#
# Needs an NVIDIA GPU with its driver, a CUDA build of PyTorch and TensorRT 10 or 11 (pip install
# tensorrt), and internet once for the official weights. PYTHON selects the interpreter (default python3).
# Exit codes: 0 all engines agree, 1 an engine disagrees or the stream run failed, 2 no GPU / TensorRT.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

# Fail at once, before any export or download, on a machine without a GPU: that is the common mistake.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU found (nvidia-smi is missing or fails); run this on a machine with a" \
         "CUDA GPU, its driver and TensorRT (pip install tensorrt)" >&2
    exit 2
fi

cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
