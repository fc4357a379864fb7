#!/usr/bin/env bash
# The GPU check of lookahead-burn, in one command, on a machine with an NVIDIA GPU.
#
# Prepare on any x86-64 Linux machine (no GPU or CUDA toolkit needed to build):
#     cargo xtask gpu-check          # builds `experiments` with cuda + vulkan, strips it, and
#                                    # puts it with this script in target/gpu-check/
# Copy target/gpu-check/ to the GPU machine and run there:
#     ./gpu-check.sh                 # output on stdout, figures as JSON in ./gpu-check-out/
#
# It runs, each step timed and allowed to fail without stopping the others:
#   (a) CUDA: CIFAR ResNet-18 training steps on generated CIFAR-shaped data, batch 128,
#       SGD-momentum and Lookahead(SGD), images/s side by side, in f32 and then in bf16 mixed
#       precision (f32 master weights);
#   (b) PyTorch on the same GPU, the same steps (fp32; channels-last; AMP; both), when
#       `python3 -c "import torch"` works;
#   (c) the `quick` suite end to end on CUDA (embedded data, report in gpu-check-out/quick/);
#   (d) the same training steps as (a) through the Vulkan backend on that GPU.
# Environment: BIN (default ./experiments), OUT (default gpu-check-out), STEPS (default 50),
# BATCH (default 128), CUDA_BACKEND / VULKAN_BACKEND (default cuda / vulkan; set both to flex
# to rehearse the script on a CPU), PYTHON (default python3), TORCH_DEVICE (default cuda), SUITE
# (default quick; a suite file for a shorter rehearsal).
set -uo pipefail
cd "$(dirname "$0")"
BIN=${BIN:-./experiments}
OUT=${OUT:-gpu-check-out}
STEPS=${STEPS:-50}
BATCH=${BATCH:-128}
CUDA_BACKEND=${CUDA_BACKEND:-cuda}
VULKAN_BACKEND=${VULKAN_BACKEND:-vulkan}
PYTHON=${PYTHON:-python3}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
SUITE=${SUITE:-quick}
mkdir -p "$OUT"
# Vulkan loader brought along by `cargo xtask gpu-check` when the build machine had one.
if [ -d vulkan-lib ]; then export LD_LIBRARY_PATH="$PWD/vulkan-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
status=0
step() {
    local name=$1; shift
    echo "== $name"
    local start=$SECONDS
    if "$@"; then echo "-- $name: ok ($((SECONDS - start)) s)"; else echo "-- $name: FAILED ($((SECONDS - start)) s)"; status=1; fi
}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
"$BIN" backends
throughput() {
    "$BIN" throughput --backend "$1" --model resnet18-cifar --batch-size "$BATCH" --warmup 5 \
        --steps "$STEPS" --rounds 3 --no-dashboard --json "$OUT/$2.json" --precision "${3:-f32}" \
        --optimizer "sgd(momentum=0.9)" --optimizer "lookahead(sgd(momentum=0.9), k=5, alpha=0.5)"
}
torch() {
    if ! "$PYTHON" -c "import torch" 2>/dev/null; then echo "no torch for $PYTHON"; return 1; fi
    for flags in "" "--channels-last" "--amp" "--channels-last --amp"; do
        # shellcheck disable=SC2086
        "$PYTHON" torch_resnet18.py --batch "$BATCH" --steps "$STEPS" --device "$TORCH_DEVICE" $flags \
            | sed "s/^/torch ${flags:-fp32}: /" || return 1
    done
}
step "(a) $CUDA_BACKEND: CIFAR ResNet-18 training steps" throughput "$CUDA_BACKEND" a-"$CUDA_BACKEND"
step "(a) $CUDA_BACKEND: the same steps in bf16 mixed precision" throughput "$CUDA_BACKEND" a-"$CUDA_BACKEND"-bf16 bf16
step "(b) PyTorch on $TORCH_DEVICE: the same steps" torch
step "(c) $SUITE suite on $CUDA_BACKEND" "$BIN" compare "$SUITE" --backend "$CUDA_BACKEND" --out "$OUT/quick" --no-dashboard
step "(d) $VULKAN_BACKEND: the same steps as (a)" throughput "$VULKAN_BACKEND" d-"$VULKAN_BACKEND"
exit $status
