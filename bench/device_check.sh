#!/usr/bin/env bash
# The device check: on a machine with a CUDA GPU, run the CUDA tests and the CUDA benchmarks (the
# operators route up to M = 4 096, the device named in every row) within 8 minutes, and write
#   $OUT/device.txt         the GPU, torch and CUDA versions
#   $OUT/cuda-tests.xml     the tests' JUnit report
#   $OUT/cuda-bench.json    pytest-benchmark's JSON (for bench/RESULTS.md)
# ($OUT defaults to .benchmarks/). Without CUDA it says so and exits 0, having run nothing.
# Usage, from anywhere:  bash bench/device_check.sh        (PYTHON=... to choose the interpreter)
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
OUT_DIR="${OUT:-.benchmarks}"
TESTS_SECONDS=200   # the tests' share of the 8 minutes
BENCH_SECONDS=240   # the benchmarks' share

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "device_check: no CUDA device (or no torch) here; nothing to run"
    exit 0
fi
mkdir -p "$OUT_DIR"
"$PY" -c "import torch; print(f'device: {torch.cuda.get_device_name()}; torch {torch.__version__}; CUDA {torch.version.cuda}')" \
    | tee "$OUT_DIR/device.txt"

status=0
echo "device_check: CUDA tests (VAEBENCH_TEST_DEVICE=cuda, -m cuda), at most ${TESTS_SECONDS} s"
VAEBENCH_TEST_DEVICE=cuda timeout "$TESTS_SECONDS" "$PY" -m pytest tests -m cuda -q -p no:cacheprovider \
    --junitxml "$OUT_DIR/cuda-tests.xml" || status=$?

echo "device_check: CUDA benchmarks (bench/test_training.py, cuda cases), at most ${BENCH_SECONDS} s"
timeout "$BENCH_SECONDS" "$PY" -m pytest bench/test_training.py -k cuda --benchmark-only -q \
    -p no:cacheprovider --benchmark-json "$OUT_DIR/cuda-bench.json" || status=$?

if [ -f "$OUT_DIR/cuda-bench.json" ]; then
    "$PY" - "$OUT_DIR/cuda-bench.json" <<'PYEOF'
import json, sys
rows = json.load(open(sys.argv[1]))["benchmarks"]
for b in rows:
    e = b.get("extra_info", {})
    rate = e.get("model_steps_per_s")
    print(f"{b['name']}: {rate:,.0f} model-steps/s on {e.get('device_name', '?')}" if rate else b["name"])
PYEOF
fi
echo "device_check: done (exit status $status; 124 = a step ran out of its time)"
exit $status
