#!/usr/bin/env bash
# Runs on the lent GPU machine (see device-prep.sh): the GPU figures of
# bench/RESULTS.md, written under $OUT. One device call holds at most ten
# minutes, so the figures come in two parts, each bounded by timeouts:
#
#   bash bench/device.sh kernels   # parity, fp32 and fp64 kernel steps, PyTorch peers
#   bash bench/device.sh bench     # quantfit bench on both backends, the stack trial
#   bash bench/device.sh spatial   # image stacks: the 16 MP step on both backends, the trials on the GPU
#   bash bench/device.sh restore   # restore: parity, bench -restore on both backends
#   bash bench/device.sh look      # looks: parity, the fit of two 12 MP pairs on both backends
#   bash bench/device.sh engine    # issue 28: every GPU test strict, the engine's steps (engine.md)
#   bash bench/device.sh peers     # compare.sh at 64M pixels against PyTorch (compare.md)
#   bash bench/device.sh final     # issue 28 in one call of at most 4 minutes: engine, the
#                                  # buffers' A/B, the driver's placement notes, the peers
#
# Several parts run in one call in order: `bash bench/device.sh engine peers`.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
out=${OUT:-/tmp/out}
mkdir -p "$out"
q=$PWD/.bin/quantfit
# Test binaries run in their package's folder, as go test runs them.
gotest() { (cd "$1" && shift && "$@"); }
# table turns go benchmark lines run with -test.count N into the rows of
# bench/RESULTS.md: min, median and max per benchmark.
table() {
	echo "| benchmark | min | median | max | spread |"
	echo "| --- | --- | --- | --- | --- |"
	awk '/^Benchmark/ && / ns\/op/ { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") v[$1] = v[$1] " " $i }
	END {
		for (k in v) {
			n = split(substr(v[k], 2), a, " ")
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			printf "| %s | %.4f ms | %.4f ms | %.4f ms | %.0f%% |\n", k, a[1] / 1e6, a[int((n + 1) / 2)] / 1e6, a[n] / 1e6, 100 * (a[n] - a[1]) / a[1]
		}
	}' "$@" | sort
}
for part in "${@:-kernels}"; do
case $part in
engine)
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
		# Every GPU test, on a strict debug context: a driver performance
		# message (a buffer moved to host memory) fails the test.
		QUANTFIT_REQUIRE_GPU=1 gotest gpu timeout 150 "$PWD/.bin/gpu.test" -test.v
	} > "$out/engine-tests.txt" 2>&1
	# One -test.bench a pattern: go splits a pattern at its slashes
	# before it reads the alternatives.
	for pat in '^BenchmarkLossGrad$/./n=67108864' 'Histogram' 'StackLossGrad' 'SpatialStep/MP=16' 'RoundTrip'; do
		gotest gpu timeout 100 "$PWD/.bin/gpu.test" -test.run XXX -test.bench "$pat" \
			-test.benchtime 100x -test.count 5
	done > "$out/engine-bench.txt" 2>&1
	table "$out/engine-bench.txt" > "$out/engine.md"
	timeout 150 "$q" bench -restore -backend gpu -pixels 1.6e7 -repeat 50 -o "$out/restore-bench.md" > /dev/null 2> "$out/restore-bench.err"
	;;
peers)
	timeout 200 bash bench/compare.sh 67108864 gpu > "$out/compare.md" 2>&1
	;;
final)
	nvidia-smi --query-gpu=timestamp,pstate,clocks.sm,clocks.mem,utilization.gpu,utilization.memory \
		--format=csv -lms 250 > "$out/clocks.csv" 2>&1 &
	smi=$!
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
		QUANTFIT_REQUIRE_GPU=1 gotest gpu timeout 60 "$PWD/.bin/gpu.test" -test.v
	} > "$out/engine-tests.txt" 2>&1
	for pat in '^BenchmarkLossGrad$/./n=67108864' 'Histogram/./n=67108864' 'StackLossGrad/n=67108864' 'SpatialStep/MP=16' 'Copy' 'RoundTrip'; do
		gotest gpu timeout 40 "$PWD/.bin/gpu.test" -test.run XXX -test.bench "$pat" -test.benchtime 100x -test.count 3
	done > "$out/engine-bench.txt" 2>&1
	table "$out/engine-bench.txt" > "$out/engine.md"
	timeout 90 "$q" bench -restore -backend gpu -pixels 1.6e7 -repeat 50 -o "$out/restore-bench.md" > /dev/null 2> "$out/restore-bench.err"
	PEERS=torch timeout 110 bash bench/compare.sh 67108864 gpu > "$out/compare.md" 2>&1
	# The same steps on glBufferData's buffers, and the driver's notes on
	# where it put each buffer.
	for pat in '^BenchmarkLossGrad$/ste/n=67108864' 'Copy'; do
		QUANTFIT_BENCH_GL=mutable gotest gpu timeout 30 "$PWD/.bin/gpu.test" -test.run XXX -test.bench "$pat" -test.benchtime 100x -test.count 2
	done > "$out/mutable-bench.txt" 2>&1
	QUANTFIT_BENCH_GL=debug gotest gpu timeout 30 "$PWD/.bin/gpu.test" -test.run XXX -test.bench '^BenchmarkLossGrad$/ste/n=67108864' \
		-test.benchtime 10x > "$out/placement.txt" 2>&1
	kill $smi
	;;
kernels)
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
		QUANTFIT_REQUIRE_GPU=1 timeout 120 "$PWD/.bin/gpu.test" -test.run 'Info|Parity|Histogram|Tie|Boundary' -test.v
	} > "$out/gpu.txt" 2>&1
	# The fp32 kernels, then the fp64 ones of commit e47bba5 (gpu64.test), same benchmarks.
	for t in gpu gpu64; do
		gotest gpu timeout 150 "$PWD/.bin/$t.test" -test.run XXX -test.bench 'LossGrad|Histogram|RoundTrip' \
			-test.benchtime 50x -test.count 3 > "$out/gobench-$t.txt" 2>&1
	done
	timeout 240 bash bench/compare.sh 67108864 cpu,gpu > "$out/compare.md" 2>&1
	;;
bench)
	timeout 240 "$q" bench -backend gpu -pixels 1e6,4e6,1.6e7,6.4e7 -surrogate lsq,atan -mode pixel,hist -k 1,256 \
		-repeat 30 -plot "$out/throughput.png" -o "$out/bench-gpu.md" > /dev/null 2> "$out/bench-gpu.err"
	# The CPU's per-pixel 256-candidate scan takes seconds a step at 64M.
	timeout 100 "$q" bench -backend cpu -pixels 1e6,1.6e7,6.4e7 -surrogate lsq,atan -mode pixel,hist -k 1 \
		-repeat 10 -no-auto -o "$out/bench-cpu.md" > /dev/null 2> "$out/bench-cpu.err"
	timeout 100 "$q" bench -backend cpu -pixels 1e6,1.6e7 -surrogate lsq,atan -mode pixel,hist -k 256 \
		-repeat 5 -no-auto -o "$out/bench-cpu-k256.md" > /dev/null 2>> "$out/bench-cpu.err"
	QUANTFIT_REQUIRE_GPU=1 QUANTFIT_ACCURACY=1 QUANTFIT_STACK_TRIALS=40 gotest host/estimate timeout 120 \
		"$PWD/.bin/estimate.test" -test.run 'TestStackOnGPU|TestGPUMatchesCPUOnPhotos' -test.v > "$out/stack-trial.txt" 2>&1
	;;
spatial)
	nvidia-smi --query-gpu=name,driver_version --format=csv > "$out/spatial-bench.txt" 2>&1
	gotest gpu timeout 120 "$PWD/.bin/gpu.test" -test.run XXX -test.bench SpatialStep -test.v \
		-test.benchtime 20x -test.count 3 >> "$out/spatial-bench.txt" 2>&1
	gotest kernels timeout 120 "$PWD/.bin/kernels.test" -test.run XXX -test.bench SpatialStep -test.v \
		-test.benchtime 5x -test.count 3 >> "$out/spatial-bench.txt" 2>&1
	QUANTFIT_REQUIRE_GPU=1 QUANTFIT_ACCURACY=1 QUANTFIT_SPATIAL_TRIALS=${TRIALS:-40} gotest host/estimate \
		timeout 300 "$PWD/.bin/estimate.test" -test.run "${RUN:-TestSpatialStacksOnGPU}" -test.v > "$out/spatial-trials.txt" 2>&1
	;;
restore)
	QUANTFIT_REQUIRE_GPU=1 gotest gpu timeout 120 "$PWD/.bin/gpu.test" -test.run 'Restore|Shrink|Refine|Seeds' -test.v > "$out/restore-parity.txt" 2>&1
	gotest gpu timeout 60 "$PWD/.bin/gpu.test" -test.run XXX -test.bench Seeds -test.benchtime 5x -test.count 3 > "$out/seeds-bench.txt" 2>&1
	timeout 300 "$q" bench -restore -backend cpu,gpu -pixels 1e6,4e6,1.6e7 -repeat 20 -o "$out/restore-bench.md" > /dev/null 2> "$out/restore-bench.err"
	;;
look)
	{
		QUANTFIT_REQUIRE_GPU=1 gotest gpu timeout 120 "$PWD/.bin/gpu.test" -test.run LookParity -test.v
		QUANTFIT_REQUIRE_GPU=1 gotest host/look timeout 120 "$PWD/.bin/look.test" -test.run TestFitOnGPU -test.v
		gotest host/look timeout 300 "$PWD/.bin/look.test" -test.run XXX -test.bench LookFit12MP -test.benchtime 3x
	} > "$out/look.txt" 2>&1
	;;
*)
	echo "device.sh: unknown part $part (kernels, bench, spatial, restore, look, engine or peers)" >&2
	exit 2
	;;
esac
done
ls -l "$out"
