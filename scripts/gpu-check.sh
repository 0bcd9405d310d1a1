#!/usr/bin/env bash
# GPU check for a session that has a CUDA machine (the `device` tool): builds the native core with
# CUDA (sm_90 unless NASNET_CUDA_ARCHS says otherwise), runs the native tests — the CUDA parity tests
# included — under a time limit, optionally compute-sanitizer and the CUDA kernel timings, and writes
# logs plus summary.json under $OUT. Needs no Node: the native test binary stands alone.
#
#   OUT=/tmp/out scripts/gpu-check.sh            # build + tests (+ memcheck of the CUDA tests)
#   NASNET_GPU_BENCH=1 scripts/gpu-check.sh      # also time the CUDA kernels (bench/kernels/cuda)
#
# cuDNN: taken from $CUDNN_PATH, else from Python's nvidia.cudnn package (PyTorch wheels) when present.
# Exit status: 0 when the build succeeded and no test failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/gpu-check-out}"
BUILD="${NASNET_GPU_BUILD:-/tmp/nasnet-build-cuda}"
ARCHS="${NASNET_CUDA_ARCHS:-90}"
JOBS="$(nproc 2>/dev/null || echo 4)"
TEST_LIMIT="${NASNET_GPU_TEST_LIMIT:-240}"
mkdir -p "$OUT"

say() { printf '%s\n' "$*" | tee -a "$OUT/gpu-check.log"; }
: >"$OUT/gpu-check.log"

{  # the machine, at the top of the log
  echo "== nvidia-smi"; nvidia-smi 2>&1 || echo "(nvidia-smi failed)"
  echo "== nvcc"; (command -v nvcc >/dev/null && nvcc --version) || /usr/local/cuda/bin/nvcc --version 2>&1
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== ninja"; ninja --version 2>&1 || echo "(no ninja)"
  echo "== c++"; c++ --version 2>&1 | head -1
} >>"$OUT/gpu-check.log" 2>&1

if [ -z "${CUDNN_PATH:-}" ]; then
  CUDNN_PATH="$(python3 -c 'import nvidia.cudnn,os;print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
    python3 -c 'import nvidia.cudnn as m;print(list(m.__path__)[0])' 2>/dev/null || true)"
fi
# cuDNN 9 opens its sub-libraries (and cuBLAS/NVRTC for some engines) by name: put every lib folder
# of Python's nvidia.* wheels on the loader's path.
NV_LIBS="$(python3 -c 'import nvidia,os;print(":".join(os.path.join(p,d,"lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p,d,"lib"))))' 2>/dev/null || true)"
[ -n "$NV_LIBS" ] && export LD_LIBRARY_PATH="$NV_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "${CUDNN_PATH:-}" ]; then export CUDNN_PATH; say "cuDNN: CUDNN_PATH=$CUDNN_PATH"; else say "cuDNN: not found (the cuDNN test will skip)"; fi

GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
build_ok=0
if cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DNASNET_BUILD_TESTS=ON -DNASNET_CUDA=1 \
    -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" >"$OUT/build.log" 2>&1 &&
  cmake --build "$BUILD" -j "$JOBS" --target nasnet_native_tests >>"$OUT/build.log" 2>&1; then
  build_ok=1
  say "build: ok (sm_$ARCHS, $BUILD)"
else
  say "build: FAILED (see build.log)"; tail -30 "$OUT/build.log"
fi

cuda_rc=-1; all_rc=-1; memcheck_rc=-1; bench_rc=-1
if [ "$build_ok" = 1 ]; then
  # CUDA tests first (the point of this run), then the whole native suite.
  timeout "$TEST_LIMIT" "$BUILD/nasnet_native_tests" cuda >"$OUT/tests-cuda.log" 2>&1; cuda_rc=$?
  say "native tests 'cuda': rc=$cuda_rc — $(tail -1 "$OUT/tests-cuda.log")"
  grep -E '^(FAIL|cuda parity:)' "$OUT/tests-cuda.log" | tee -a "$OUT/gpu-check.log"
  timeout "$TEST_LIMIT" "$BUILD/nasnet_native_tests" >"$OUT/tests-all.log" 2>&1; all_rc=$?
  say "native tests (all): rc=$all_rc — $(tail -1 "$OUT/tests-all.log")"
  if [ "${NASNET_GPU_MEMCHECK:-1}" = 1 ] && command -v compute-sanitizer >/dev/null 2>&1; then
    timeout "$TEST_LIMIT" compute-sanitizer --tool memcheck --error-exitcode 3 "$BUILD/nasnet_native_tests" cuda_ \
      >"$OUT/memcheck.log" 2>&1; memcheck_rc=$?
    say "compute-sanitizer memcheck: rc=$memcheck_rc — $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1)"
  fi
  if [ "${NASNET_GPU_BENCH:-0}" = 1 ]; then
    CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
    if c++ -O2 -std=c++17 -fopenmp -I"$ROOT/native" "$ROOT/bench/kernels/cuda/cuda_bench.cc" \
        -Wl,--start-group "$BUILD/libnasnet_core.a" "$BUILD/libnasnet_cuda.a" -Wl,--end-group \
        -L"$CUDA_HOME/lib64" -lcudart_static -ldl -lrt -lpthread -o "$BUILD/cuda_bench" >"$OUT/bench.log" 2>&1; then
      timeout "$TEST_LIMIT" "$BUILD/cuda_bench" --json "$OUT/bench.json" >>"$OUT/bench.log" 2>&1; bench_rc=$?
    else
      bench_rc=2
    fi
    say "bench: rc=$bench_rc (bench.log, bench.json)"
  fi
fi

summ() { # passed failed from the runner's closing line "N passed, N failed"
  local f="$1"; [ -f "$f" ] && tail -1 "$f" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p'
}
read -r cp cf <<<"$(summ "$OUT/tests-cuda.log")"
read -r ap af <<<"$(summ "$OUT/tests-all.log")"
skips="$(grep -c '^  skip ' "$OUT/tests-cuda.log" 2>/dev/null || echo 0)"
cat >"$OUT/summary.json" <<JSON
{
  "build_ok": $build_ok,
  "archs": "$ARCHS",
  "cudnn_path": "${CUDNN_PATH:-}",
  "cuda_tests": {"rc": $cuda_rc, "passed": ${cp:-0}, "failed": ${cf:-0}, "skipped": $skips},
  "all_tests": {"rc": $all_rc, "passed": ${ap:-0}, "failed": ${af:-0}},
  "memcheck_rc": $memcheck_rc,
  "bench_rc": $bench_rc
}
JSON
cat "$OUT/summary.json"
[ "$build_ok" = 1 ] && [ "$cuda_rc" = 0 ] && [ "$all_rc" = 0 ]
