#!/usr/bin/env bash
# Runs on the lent GPU machine (see device-prep.sh): every GPU figure of
# bench/RESULTS.md in one call, written under $OUT.
set -euo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
out=${OUT:-/tmp/out}
mkdir -p "$out"
q=./.bin/quantfit
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
QUANTFIT_REQUIRE_GPU=1 ./.bin/gpu.test -test.run 'Info|Parity|Histogram|StackParity' -test.v 2>&1 | tail -5 >> "$out/gpu.txt"
$q bench -backend cpu,gpu -pixels 1e6,4e6,1.6e7,6.4e7 -surrogate lsq,atan -mode pixel,hist -k 1,256 -repeat 50 \
	-plot "$out/throughput.png" -o "$out/bench.md" > "$out/bench-stdout.md"
bash bench/compare.sh 67108864 cpu,gpu > "$out/compare.md" 2>&1 || true
./.bin/gpu.test -test.run XXX -test.bench 'StackLossGrad|LossGrad/ste|Histogram' -test.benchtime 50x > "$out/gobench.txt" 2>&1 || true
# the stack trial, 40 draws, on the GPU backend
QUANTFIT_REQUIRE_GPU=1 QUANTFIT_ACCURACY=1 QUANTFIT_STACK_TRIALS=40 timeout 400 ./.bin/estimate.test -test.run TestStackOnGPU -test.v \
	> "$out/stack-trial.txt" 2>&1 || true
ls -l "$out"
