#!/usr/bin/env bash
# The one prepared GPU check (issue 12): on a machine with an NVIDIA GPU — no Node needed — builds
# the native core for sm_90, runs the CUDA tests (kernel parity, whole plans on CPU and CUDA, CUDA
# graph replay, compute-sanitizer where it works), then benchmarks two NASNet-A networks against
# PyTorch on the same GPU, and writes logs plus summary.json under $OUT, in under 8 minutes.
#
#   scripts/gpu-check.sh --prepare        # here, with Node: dumps the graph IRs into .device/ir/
#   OUT=/tmp/out scripts/gpu-check.sh     # on the GPU host (or the device tool): check and bench
#
# The networks (IR JSON from `npx tsx bench/step.ts --dump-ir`):
#   mobile  NASNet-A mobile 4@1056 at 224×224, ImageNet stem, batch 64
#   proxy   the CIFAR proxy child N=2, penultimate 768, 32×32, batch 64
#   tiny    N=1, penultimate 48, 32×32 (parity and graph replay, quick)
# Ours: bench/kernels/plan_bench.cc (CUDA graphs on); PyTorch: bench/torch_ir.py --device cuda,
# channels-last, fp32 and bf16 autocast.
#
# Environment: NASNET_CUDA_ARCHS (default 90), NASNET_GPU_BUILD (build folder), CUDNN_PATH (else
# Python's nvidia.cudnn), NASNET_PYTHON (default python3), NASNET_GPU_STEPS (default 20),
# NASNET_GPU_EMULATE=1 (builds against the emulated CUDA device instead: checks this script
# end to end on a machine without a GPU, with tiny networks only).
# Exit status: 0 when the build succeeded and every test and parity check passed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IR_DIR="$ROOT/.device/ir"

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$IR_DIR"
  grep -qx '/.device/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.device/' >>"$ROOT/.git/info/exclude"
  cd "$ROOT" || exit 1
  npx tsx bench/step.ts --dataset imagenet --n 4 --penultimate 1056 --dump-ir "$IR_DIR/mobile.json" &&
    npx tsx bench/step.ts --dataset cifar10 --n 2 --penultimate 768 --dump-ir "$IR_DIR/proxy.json" &&
    npx tsx bench/step.ts --dataset cifar10 --n 1 --penultimate 48 --dump-ir "$IR_DIR/tiny.json" || exit 1
  echo "carry .device/ir to the GPU host (the device tool: carry [\".device/ir\"])"
  exit 0
fi

OUT="${OUT:-$ROOT/gpu-check-out}"
EMULATE="${NASNET_GPU_EMULATE:-0}"
BUILD="${NASNET_GPU_BUILD:-/tmp/nasnet-build-$([ "$EMULATE" = 1 ] && echo emu || echo cuda)}"
ARCHS="${NASNET_CUDA_ARCHS:-90}"
JOBS="$(nproc 2>/dev/null || echo 4)"
TEST_LIMIT="${NASNET_GPU_TEST_LIMIT:-240}"
STEPS="${NASNET_GPU_STEPS:-20}"
PY="${NASNET_PYTHON:-python3}"
START=$(date +%s)
mkdir -p "$OUT"

say() { printf '%s\n' "$*" | tee -a "$OUT/gpu-check.log"; }
left() { echo $((480 - ($(date +%s) - START))); }  # seconds left of the 8-minute budget
: >"$OUT/gpu-check.log"

{  # the machine, at the top of the log
  echo "== nvidia-smi"; nvidia-smi 2>&1 || echo "(nvidia-smi failed)"
  echo "== nvcc"; (command -v nvcc >/dev/null && nvcc --version) || /usr/local/cuda/bin/nvcc --version 2>&1
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== c++"; c++ --version 2>&1 | head -1
  echo "== torch"; "$PY" -c 'import torch;print(torch.__version__, torch.cuda.is_available())' 2>&1
} >>"$OUT/gpu-check.log" 2>&1

if [ -z "${CUDNN_PATH:-}" ]; then
  CUDNN_PATH="$("$PY" -c 'import nvidia.cudnn,os;print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
    "$PY" -c 'import nvidia.cudnn as m;print(list(m.__path__)[0])' 2>/dev/null || true)"
fi
# cuDNN 9 opens its sub-libraries (and cuBLAS/NVRTC for some engines) by name: put every lib folder
# of Python's nvidia.* wheels on the loader's path.
NV_LIBS="$("$PY" -c 'import nvidia,os;print(":".join(os.path.join(p,d,"lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p,d,"lib"))))' 2>/dev/null || true)"
[ -n "$NV_LIBS" ] && export LD_LIBRARY_PATH="$NV_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "${CUDNN_PATH:-}" ]; then export CUDNN_PATH; say "cuDNN: CUDNN_PATH=$CUDNN_PATH"; else say "cuDNN: not found (convolutions on our kernels)"; fi

# ---- build ----
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
if [ "$EMULATE" = 1 ]; then
  CONF=(-DNASNET_CUDA=0 -DNASNET_CUDA_EMULATED=ON)
else
  CONF=(-DNASNET_CUDA=1 -DCMAKE_CUDA_ARCHITECTURES="$ARCHS")
fi
build_ok=0
if cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DNASNET_BUILD_TESTS=ON -DNASNET_BUILD_BENCH=ON "${CONF[@]}" \
    >"$OUT/build.log" 2>&1 &&
  cmake --build "$BUILD" -j "$JOBS" --target nasnet_native_tests nasnet_plan_bench >>"$OUT/build.log" 2>&1; then
  build_ok=1
  say "build: ok ($([ "$EMULATE" = 1 ] && echo "emulated CUDA device" || echo "sm_$ARCHS"), $BUILD, $(($(date +%s) - START)) s)"
else
  say "build: FAILED (see build.log)"; tail -30 "$OUT/build.log"
fi

# ---- tests ----
cuda_rc=-1; all_rc=-1; memcheck_rc=-1; parity_rc=-1
if [ "$build_ok" = 1 ]; then
  timeout "$TEST_LIMIT" "$BUILD/nasnet_native_tests" cuda >"$OUT/tests-cuda.log" 2>&1; cuda_rc=$?
  say "native tests 'cuda': rc=$cuda_rc — $(tail -1 "$OUT/tests-cuda.log")"
  grep -E '^(FAIL|  skip)' "$OUT/tests-cuda.log" | head -20 | tee -a "$OUT/gpu-check.log"
  timeout "$TEST_LIMIT" "$BUILD/nasnet_native_tests" >"$OUT/tests-all.log" 2>&1; all_rc=$?
  say "native tests (all): rc=$all_rc — $(tail -1 "$OUT/tests-all.log")"
  if [ -f "$IR_DIR/tiny.json" ]; then
    timeout "$([ "$EMULATE" = 1 ] && echo 900 || echo 120)" "$BUILD/nasnet_plan_bench" "$IR_DIR/tiny.json" \
      --batch "$([ "$EMULATE" = 1 ] && echo 2 || echo 8)" --backend cuda --parity \
      >"$OUT/parity.log" 2>&1; parity_rc=$?
    say "plan parity (tiny, cpu vs cuda, graphs vs eager): rc=$parity_rc — $(tail -1 "$OUT/parity.log")"
  else
    say "plan parity: skipped (no $IR_DIR/tiny.json: run scripts/gpu-check.sh --prepare where Node is)"
  fi
  if [ "$EMULATE" != 1 ] && [ "${NASNET_GPU_MEMCHECK:-1}" = 1 ] && command -v compute-sanitizer >/dev/null 2>&1 &&
    [ "$(left)" -gt 300 ]; then
    timeout 90 compute-sanitizer --tool memcheck --error-exitcode 3 "$BUILD/nasnet_native_tests" cuda_parity \
      >"$OUT/memcheck.log" 2>&1; memcheck_rc=$?
    say "compute-sanitizer memcheck (cuda_parity tests): rc=$memcheck_rc — $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1)"
  fi
fi

# ---- benchmarks: ours and PyTorch on the same device, one network at a time ----
bench_json="[]"
bench() {  # name ir batch
  local name="$1" ir="$2" batch="$3" ours torch32 torch16 steps="$STEPS"
  [ -f "$ir" ] || { say "bench $name: skipped (no $ir)"; return; }
  [ "$(left)" -gt 40 ] || { say "bench $name: skipped (out of time)"; return; }
  [ "$EMULATE" = 1 ] && steps=2
  ours="$(timeout "$(left)" "$BUILD/nasnet_plan_bench" "$ir" --batch "$batch" --backend cuda --steps "$steps" \
    --warmup 3 --json "$OUT/bench-$name-ours.json" 2>>"$OUT/bench.log" | tail -1)"
  say "bench $name ours: ${ours:-failed}"
  torch32=null; torch16=null
  if [ "$EMULATE" != 1 ]; then
    torch32="$(timeout "$(left)" "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch "$batch" --steps "$steps" --warmup 3 \
      --device cuda --channels-last 2>>"$OUT/bench.log" | tail -1)"
    say "bench $name pytorch fp32 channels-last: ${torch32:-failed}"
    torch16="$(timeout "$(left)" "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch "$batch" --steps "$steps" --warmup 3 \
      --device cuda --channels-last --bf16 2>>"$OUT/bench.log" | tail -1)"
    say "bench $name pytorch bf16 autocast channels-last: ${torch16:-failed}"
  fi
  bench_json="$("$PY" - "$bench_json" "$name" "$batch" "${ours:-null}" "${torch32:-null}" "${torch16:-null}" <<'PY'
import json, sys
rows, name, batch = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def parse(t):
    try: return json.loads(t)
    except Exception: return None
ours, t32, t16 = (parse(t) for t in sys.argv[4:7])
row = {"network": name, "batch": batch, "ours": ours, "torch_fp32": t32, "torch_bf16": t16}
if ours and t32: row["ratio_fp32"] = ours["imagesPerSecond"] / t32["imagesPerSecond"]
if ours and t16: row["ratio_bf16"] = ours["imagesPerSecond"] / t16["imagesPerSecond"]
print(json.dumps(rows + [row]))
PY
)"
}
if [ "$build_ok" = 1 ]; then
  if [ "$EMULATE" = 1 ]; then
    bench tiny "$IR_DIR/tiny.json" 4
  else
    bench proxy "$IR_DIR/proxy.json" 64
    bench mobile "$IR_DIR/mobile.json" 64
  fi
fi

summ() { # passed failed from the runner's closing line "N passed, N failed[, N skipped]"
  local f="$1"; [ -f "$f" ] && tail -1 "$f" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*$/\1 \2/p'
}
read -r cp cf <<<"$(summ "$OUT/tests-cuda.log")"
read -r ap af <<<"$(summ "$OUT/tests-all.log")"
skips="$(grep -c '^  skip ' "$OUT/tests-cuda.log" 2>/dev/null || true)"
cat >"$OUT/summary.json" <<JSON
{
  "build_ok": $build_ok,
  "emulated": $EMULATE,
  "archs": "$ARCHS",
  "cudnn_path": "${CUDNN_PATH:-}",
  "seconds": $(($(date +%s) - START)),
  "cuda_tests": {"rc": $cuda_rc, "passed": ${cp:-0}, "failed": ${cf:-0}, "skipped": ${skips:-0}},
  "all_tests": {"rc": $all_rc, "passed": ${ap:-0}, "failed": ${af:-0}},
  "plan_parity_rc": $parity_rc,
  "memcheck_rc": $memcheck_rc,
  "bench": $bench_json
}
JSON
cat "$OUT/summary.json"
[ "$build_ok" = 1 ] && [ "$cuda_rc" = 0 ] && [ "$all_rc" = 0 ] && { [ "$parity_rc" = 0 ] || [ "$parity_rc" = -1 ]; }
