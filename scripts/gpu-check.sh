#!/usr/bin/env bash
# The one prepared GPU check (issue 12): on a machine with an NVIDIA GPU — no Node needed there —
# runs the CUDA tests (kernel parity, whole plans on CPU and CUDA, CUDA graph replay), the vitest CUDA
# suite and a `nasnet train --backend cuda` through a packed Node when one is carried, benchmarks two
# NASNet-A networks against PyTorch on the same GPU, then compute-sanitizer and the whole native suite
# as time allows. Writes gpu-check.log, summary.json and logs.tar.gz under $OUT, in under 8 minutes.
#
#   scripts/gpu-check.sh --prepare        # here, with Node and nvcc: fills .device/ (see below)
#   OUT=/tmp/out scripts/gpu-check.sh     # on the GPU host (or the device tool, carry [".device"])
#   OUT=/tmp/out scripts/gpu-check.sh --profile   # there: ours per kind of node, PyTorch's top kernels
#   OUT=/tmp/out scripts/gpu-check.sh --kernels   # there: Nsight Compute's time per kernel of our step
#
# The networks (IR JSON from `npx tsx bench/step.ts --dump-ir`):
#   mobile  NASNet-A mobile 4@1056 at 224×224, ImageNet stem, batch 64
#   proxy   the CIFAR proxy child N=2, penultimate 768, 32×32, batch 64 (also without CUDA graphs)
#   tiny    N=1, penultimate 48, 32×32 (parity and graph replay, quick)
# Ours: bench/kernels/plan_bench.cc (CUDA graphs on); PyTorch: bench/torch_ir.py --device cuda,
# channels-last, fp32 and bf16 autocast.
#
# Environment: NASNET_CUDA_ARCHS (default 90), NASNET_GPU_BUILD (build folder when the prebuilt
# binaries do not start), CUDNN_PATH (else Python's nvidia.cudnn), NASNET_PYTHON (default python3),
# NASNET_GPU_STEPS (default 20), NASNET_GPU_BUDGET (seconds, default 480), NASNET_GPU_BF16=0 (no bf16
# PyTorch runs), NASNET_GPU_PROFILE=0 (no per-node profile), NASNET_GPU_MEMCHECK=0, NASNET_GPU_EMULATE=1
# (builds against the emulated CUDA device instead: checks this script end to end on a machine
# without a GPU, with tiny networks only).
# Exit status: 0 when the build succeeded and every test and parity check that ran passed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IR_DIR="$ROOT/.device/ir"

if [ "${1:-}" = "--prepare" ]; then
  # Everything the GPU host cannot make for itself goes under .device/ (git-ignored; carry it):
  #   ir/      the graph IRs of the three networks
  #   bin/     nasnet_native_tests and nasnet_plan_bench built here for sm_90 (with libgomp), used
  #            there when they start, else the script builds there
  #   node/    a packed Node (node.xz), the addon built by `npm install` (with the CUDA kernels),
  #            test/engine-cuda.test.ts bundled with vitest-lite (the same tests npm test runs on the
  #            emulated device) and the CLI bundled (nasnet info/train on the device)
  mkdir -p "$IR_DIR" "$ROOT/.device/bin" "$ROOT/.device/node"
  cd "$ROOT" || exit 1
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.device/' >>.git/info/exclude; }
  npx tsx bench/step.ts --dataset imagenet --n 4 --penultimate 1056 --dump-ir "$IR_DIR/mobile.json" &&
    npx tsx bench/step.ts --dataset cifar10 --n 2 --penultimate 768 --dump-ir "$IR_DIR/proxy.json" &&
    npx tsx bench/step.ts --dataset cifar10 --n 1 --penultimate 48 --dump-ir "$IR_DIR/tiny.json" || exit 1
  pre="${NASNET_GPU_PREBUILD:-/tmp/nasnet-gpu-prebuild}"
  cmake -S "$ROOT" -B "$pre" -G Ninja -DNASNET_CUDA=1 -DCMAKE_CUDA_ARCHITECTURES="${NASNET_CUDA_ARCHS:-90}" \
    -DNASNET_BUILD_TESTS=ON -DNASNET_BUILD_BENCH=ON >/dev/null &&
    cmake --build "$pre" -j "$(nproc)" --target nasnet_native_tests nasnet_plan_bench >/dev/null || exit 1
  cp "$pre/nasnet_native_tests" "$pre/nasnet_plan_bench" .device/bin/ &&
    cp "$(g++ -print-file-name=libgomp.so.1)" .device/bin/ || exit 1
  addon="$ROOT/build/Release/nasnet.node"
  node -e "const b=require('$addon'); if(!b.info().cuda.compiled) process.exit(1)" 2>/dev/null ||
    { echo "$addon is missing or was built without CUDA: run npm install where nvcc is"; exit 1; }
  cp "$addon" .device/node/nasnet.node
  banner="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
  npx esbuild test/engine-cuda.test.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --alias:vitest=./scripts/gpu-host/vitest-lite.mjs --external:sharp --banner:js="$banner" \
    --outfile=.device/node/engine-cuda.mjs || exit 1
  printf "import { main } from '../../lib/cli/main.js';\nawait main(process.argv);\n" >.device/node/cli-entry.ts
  npx esbuild .device/node/cli-entry.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --external:sharp --banner:js="$banner" --outfile=.device/node/nasnet-cli.mjs || exit 1
  rm -f .device/node/cli-entry.ts
  [ -f .device/node/node.xz ] || { strip -o /tmp/nasnet-node "$(command -v node)" && xz -9 -T2 -c /tmp/nasnet-node >.device/node/node.xz; } || exit 1
  du -sh .device
  echo "carry .device to the GPU host (the device tool: carry [\".device\"])"
  exit 0
fi

OUT="${OUT:-$ROOT/gpu-check-out}"
EMULATE="${NASNET_GPU_EMULATE:-0}"
BUILD="${NASNET_GPU_BUILD:-/tmp/nasnet-build-$([ "$EMULATE" = 1 ] && echo emu || echo cuda)}"
ARCHS="${NASNET_CUDA_ARCHS:-90}"
JOBS="$(nproc 2>/dev/null || echo 4)"
TEST_LIMIT="${NASNET_GPU_TEST_LIMIT:-240}"
STEPS="${NASNET_GPU_STEPS:-20}"
BUDGET="${NASNET_GPU_BUDGET:-480}"
PY="${NASNET_PYTHON:-python3}"
START=$(date +%s)
# The device tool brings back at most 8 files: the log and summary.json stay in $OUT, every other log
# goes to $LOGS and into $OUT/logs.tar.gz after each stage (so a run cut short still returns them).
LOGS="${NASNET_GPU_LOGS:-/tmp/nasnet-gpu-logs}"
mkdir -p "$OUT" "$LOGS"

say() { printf '%s\n' "$*" | tee -a "$OUT/gpu-check.log"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }  # seconds left of the budget
pack() { tar czf "$OUT/logs.tar.gz" -C "$(dirname "$LOGS")" "$(basename "$LOGS")" 2>/dev/null; }
: >"$OUT/gpu-check.log"

{  # the machine, at the top of the log
  echo "== nvidia-smi"; nvidia-smi 2>&1 || echo "(nvidia-smi failed)"
  echo "== nvcc"; (command -v nvcc >/dev/null && nvcc --version) || /usr/local/cuda/bin/nvcc --version 2>&1
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== c++"; c++ --version 2>&1 | head -1
  echo "== cpu"; grep -m1 'model name' /proc/cpuinfo; nproc
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
# libgomp for the binaries built by --prepare, where the host has none (searched after the system's).
[ -f "$ROOT/.device/bin/libgomp.so.1" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$ROOT/.device/bin"
if [ -n "${CUDNN_PATH:-}" ]; then export CUDNN_PATH; say "cuDNN: CUDNN_PATH=$CUDNN_PATH"; else say "cuDNN: not found (convolutions on our kernels)"; fi

# ---- build (or the binaries --prepare built, when they start here) ----
build_ok=0
if [ "$EMULATE" != 1 ] && [ -x "$ROOT/.device/bin/nasnet_native_tests" ] &&
  "$ROOT/.device/bin/nasnet_native_tests" info_ >"$LOGS/prebuilt.log" 2>&1; then
  BUILD="$ROOT/.device/bin"; build_ok=1
  say "build: the prebuilt binaries from --prepare start here ($BUILD)"
else
  [ -x "$ROOT/.device/bin/nasnet_native_tests" ] && say "prebuilt binaries do not start here ($(tail -1 "$LOGS/prebuilt.log")): building"
  GEN=()
  command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
  if [ "$EMULATE" = 1 ]; then
    CONF=(-DNASNET_CUDA=0 -DNASNET_CUDA_EMULATED=ON)
  else
    CONF=(-DNASNET_CUDA=1 -DCMAKE_CUDA_ARCHITECTURES="$ARCHS")
  fi
  if cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DNASNET_BUILD_TESTS=ON -DNASNET_BUILD_BENCH=ON "${CONF[@]}" \
      >"$LOGS/build.log" 2>&1 &&
    cmake --build "$BUILD" -j "$JOBS" --target nasnet_native_tests nasnet_plan_bench >>"$LOGS/build.log" 2>&1; then
    build_ok=1
    say "build: ok ($([ "$EMULATE" = 1 ] && echo "emulated CUDA device" || echo "sm_$ARCHS"), $BUILD, $(($(date +%s) - START)) s)"
  else
    say "build: FAILED (see build.log)"; tail -30 "$LOGS/build.log" | tee -a "$OUT/gpu-check.log"
  fi
fi
pack

# ---- --profile: where the time goes, ours per kind of node and PyTorch's top kernels, then exit ----
if [ "${1:-}" = "--profile" ] && [ "$build_ok" = 1 ]; then
  for name in proxy mobile; do
    ir="$IR_DIR/$name.json"
    [ -f "$ir" ] || continue
    timeout 120 "$BUILD/nasnet_plan_bench" "$ir" --batch 64 --backend cuda --steps 10 --warmup 2 --profile \
      >"$LOGS/profile-$name-ours.log" 2>&1
    say "profile $name ours: $(head -1 "$LOGS/profile-$name-ours.log")"
    sed -n '2,26p' "$LOGS/profile-$name-ours.log" | tee -a "$OUT/gpu-check.log"
    timeout 150 "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch 64 --steps 10 --warmup 3 --device cuda --channels-last \
      --host-data --profile >"$LOGS/profile-$name-torch.log" 2>&1
    say "pytorch $name fp32 channels-last, batch fed from pinned host memory: $(tail -1 "$LOGS/profile-$name-torch.log")"
    grep -A34 '^torch profile' "$LOGS/profile-$name-torch.log" | cut -c1-200 | tee -a "$OUT/gpu-check.log"
    pack
  done
  exit 0
fi

# ---- --kernels: Nsight Compute's time for every kernel of one proxy training step, summed by name ----
if [ "${1:-}" = "--kernels" ] && [ "$build_ok" = 1 ]; then
  NCU="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)"
  if [ -z "$NCU" ]; then say "kernels: no ncu here"; exit 1; fi
  name="${NASNET_GPU_KERNELS_NET:-proxy}"
  timeout "${NASNET_GPU_KERNELS_LIMIT:-200}" "$NCU" --csv --clock-control none --metrics gpu__time_duration.sum "$BUILD/nasnet_plan_bench" \
    "$IR_DIR/$name.json" --batch 64 --backend cuda --steps 1 --warmup 0 --profile >"$LOGS/ncu-$name.csv" 2>"$LOGS/ncu-$name.err"
  say "kernels ($name, one training step, Nsight Compute gpu__time_duration; rc=$?):"
  "$PY" - "$LOGS/ncu-$name.csv" <<'PYEOF' | tee -a "$OUT/gpu-check.log"
import csv, sys, collections
# The program's own output comes first in the file: the table starts at ncu's header row.
rows = [r for r in csv.reader(open(sys.argv[1], errors="replace")) if len(r) > 10]
at = next((i for i, r in enumerate(rows) if "Kernel Name" in r), None)
if at is None: sys.exit("no ncu table")
head, body = rows[at], rows[at + 1:]
name_i, unit_i, value_i = head.index("Kernel Name"), head.index("Metric Unit"), head.index("Metric Value")
scale = {"ns": 1e-6, "nsecond": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "s": 1e3, "second": 1e3}
total, calls = collections.Counter(), collections.Counter()
for r in body:
    try: v = float(r[value_i].replace(",", "")) * scale.get(r[unit_i], 1.0)
    except ValueError: continue
    k = r[name_i].split("(")[0][:90]
    total[k] += v; calls[k] += 1
all_ms = sum(total.values())
print(f"  {all_ms:.3f} ms in {sum(calls.values())} kernel launches")
for k, v in total.most_common(30):
    print(f"  {v:9.3f} ms {100 * v / all_ms:5.1f}% {calls[k]:6d}x  {k}")
PYEOF
  pack
  exit 0
fi

# ---- native tests: the CUDA ones, then whole-plan parity (tiny) ----
cuda_rc=-1; all_rc=-1; memcheck_rc=-1; parity_rc=-1; node_rc=-1; train_rc=-1
if [ "$build_ok" = 1 ]; then
  timeout "$TEST_LIMIT" "$BUILD/nasnet_native_tests" cuda >"$LOGS/tests-cuda.log" 2>&1; cuda_rc=$?
  say "native tests 'cuda': rc=$cuda_rc — $(tail -1 "$LOGS/tests-cuda.log")"
  grep -E '^(FAIL|  skip)' -A3 "$LOGS/tests-cuda.log" | head -60 | tee -a "$OUT/gpu-check.log"
  pack
  if [ -f "$IR_DIR/tiny.json" ]; then
    timeout "$([ "$EMULATE" = 1 ] && echo 900 || echo 120)" "$BUILD/nasnet_plan_bench" "$IR_DIR/tiny.json" \
      --batch "$([ "$EMULATE" = 1 ] && echo 2 || echo 8)" --backend cuda --parity \
      >"$LOGS/parity.log" 2>&1; parity_rc=$?
    say "plan parity (tiny, cpu vs cuda, graphs vs eager): rc=$parity_rc — $(tail -1 "$LOGS/parity.log")"
    [ "$parity_rc" = 0 ] || tail -20 "$LOGS/parity.log" | tee -a "$OUT/gpu-check.log"
  else
    say "plan parity: skipped (no $IR_DIR/tiny.json: run scripts/gpu-check.sh --prepare where Node is)"
  fi
  pack
fi

# ---- through Node: the vitest CUDA tests (bundled) and the CLI, when --prepare packed them ----
NODE=""
if command -v node >/dev/null 2>&1; then NODE=node
elif [ -f "$ROOT/.device/node/node.xz" ]; then
  NODE=/tmp/nasnet-node
  { xz -dc "$ROOT/.device/node/node.xz" >"$NODE" 2>/dev/null ||
    "$PY" -c 'import lzma,shutil,sys;shutil.copyfileobj(lzma.open(sys.argv[1]),open(sys.argv[2],"wb"))' \
      "$ROOT/.device/node/node.xz" "$NODE"; } && chmod +x "$NODE" || NODE=""
fi
ADDON="$ROOT/.device/node/nasnet.node"
if [ "$EMULATE" != 1 ] && [ -n "$NODE" ] && [ -f "$ADDON" ] && [ -f "$ROOT/.device/node/engine-cuda.mjs" ]; then
  export NASNET_ADDON="$ADDON"
  timeout 240 "$NODE" "$ROOT/.device/node/engine-cuda.mjs" >"$LOGS/node-engine-cuda.log" 2>&1; node_rc=$?
  say "node: test/engine-cuda.test.ts (vitest-lite): rc=$node_rc — $(tail -1 "$LOGS/node-engine-cuda.log")"
  grep -E '^(FAIL|  ok|  skip)' -A2 "$LOGS/node-engine-cuda.log" | head -40 | tee -a "$OUT/gpu-check.log"
  CLI="$ROOT/.device/node/nasnet-cli.mjs"
  "$NODE" "$CLI" info 2>&1 | tee "$LOGS/nasnet-info.log" | sed 's/^/  /' | tee -a "$OUT/gpu-check.log" >/dev/null
  # A user's run: NASNet-A 2@768 (the proxy child's scale) on the embedded Fashion-MNIST, one epoch.
  timeout "$(( $(left) > 90 ? 90 : 30 ))" "$NODE" "$CLI" train --dataset fashion-mnist-mini --n 2 --penultimate 768 \
    --channels 3 --image-size 32 --epochs 1 --batch 64 --backend cuda --json >"$LOGS/nasnet-train-cuda.log" 2>&1; train_rc=$?
  say "nasnet train --backend cuda (2@768, 1 epoch of fashion-mnist-mini): rc=$train_rc"
  tail -c 1500 "$LOGS/nasnet-train-cuda.log" | tee -a "$OUT/gpu-check.log"; echo | tee -a "$OUT/gpu-check.log"
  unset NASNET_ADDON
  pack
else
  say "node: skipped ($([ "$EMULATE" = 1 ] && echo "emulated run" || echo "no node, addon or bundle: run --prepare where Node is"))"
fi

# ---- benchmarks: ours and PyTorch on the same device, one network at a time ----
bench_json="[]"
bench() {  # name ir batch [extra plan_bench flags]
  local name="$1" ir="$2" batch="$3" extra="${4:-}" ours torch32 torch16 strict steps="$STEPS"
  [ -f "$ir" ] || { say "bench $name: skipped (no $ir)"; return; }
  [ "$(left)" -gt 40 ] || { say "bench $name: skipped (out of time)"; return; }
  [ "$EMULATE" = 1 ] && steps=2
  # shellcheck disable=SC2086
  ours="$(timeout "$(left)" "$BUILD/nasnet_plan_bench" "$ir" --batch "$batch" --backend cuda --steps "$steps" \
    --warmup 3 --staged $extra --json "$LOGS/bench-$name-ours.json" 2>>"$LOGS/bench.log" | tail -1)"
  say "bench $name ours${extra:+ ($extra)}: ${ours:-failed}"
  torch32=null; torch16=null; strict=null
  if [ "$EMULATE" != 1 ] && [ -z "$extra" ]; then
    torch32="$(timeout "$(left)" "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch "$batch" --steps "$steps" --warmup 3 \
      --device cuda --channels-last 2>>"$LOGS/bench.log" | tail -1)"
    say "bench $name pytorch fp32 channels-last (convolutions as TF32, PyTorch's default): ${torch32:-failed}"
    strict="$(timeout "$(left)" "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch "$batch" --steps "$steps" --warmup 3 \
      --device cuda --channels-last --no-tf32 2>>"$LOGS/bench.log" | tail -1)"
    say "bench $name pytorch fp32 channels-last, no TF32 (true fp32, as ours): ${strict:-failed}"
    if [ "${NASNET_GPU_BF16:-1}" = 1 ]; then
      torch16="$(timeout "$(left)" "$PY" "$ROOT/bench/torch_ir.py" "$ir" --batch "$batch" --steps "$steps" --warmup 3 \
        --device cuda --channels-last --bf16 2>>"$LOGS/bench.log" | tail -1)"
      say "bench $name pytorch bf16 autocast channels-last: ${torch16:-failed}"
    fi
  fi
  bench_json="$("$PY" - "$bench_json" "$name${extra:+ $extra}" "$batch" "${ours:-null}" "${torch32:-null}" "${torch16:-null}" "${strict:-null}" <<'PYEOF'
import json, sys
rows, name, batch = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def parse(t):
    try: return json.loads(t)
    except Exception: return None
ours, t32, t16, strict = (parse(t) for t in sys.argv[4:8])
row = {"network": name, "batch": batch, "ours": ours, "torch_fp32": t32, "torch_fp32_no_tf32": strict, "torch_bf16": t16}
if ours and t32: row["ratio_fp32"] = ours["imagesPerSecond"] / t32["imagesPerSecond"]
if ours and strict: row["ratio_fp32_no_tf32"] = ours["imagesPerSecond"] / strict["imagesPerSecond"]
if ours and t16: row["ratio_bf16"] = ours["imagesPerSecond"] / t16["imagesPerSecond"]
print(json.dumps(rows + [row]))
PYEOF
)"
  pack
}
if [ "$build_ok" = 1 ]; then
  if [ "$EMULATE" = 1 ]; then
    bench tiny "$IR_DIR/tiny.json" 4
  else
    bench proxy "$IR_DIR/proxy.json" 64
    bench mobile "$IR_DIR/mobile.json" 64
    bench proxy "$IR_DIR/proxy.json" 64 --no-graphs
  fi
fi

# ---- as time allows: where our step's time goes (per kind of node) ----
if [ "$build_ok" = 1 ] && [ "$EMULATE" != 1 ] && [ "${NASNET_GPU_PROFILE:-1}" = 1 ]; then
  for name in proxy mobile; do
    [ -f "$IR_DIR/$name.json" ] && [ "$(left)" -gt 120 ] || continue
    timeout 60 "$BUILD/nasnet_plan_bench" "$IR_DIR/$name.json" --batch 64 --backend cuda --steps 5 --warmup 2 --profile \
      >"$LOGS/profile-$name-ours.log" 2>&1
    say "profile $name ours: $(head -1 "$LOGS/profile-$name-ours.log")"
    sed -n '2,14p' "$LOGS/profile-$name-ours.log" | tee -a "$OUT/gpu-check.log"
  done
  pack
fi

# ---- last, as time allows: compute-sanitizer on the CUDA tests, the whole native suite ----
if [ "$build_ok" = 1 ] && [ "$EMULATE" != 1 ] && [ "${NASNET_GPU_MEMCHECK:-1}" = 1 ] &&
  command -v compute-sanitizer >/dev/null 2>&1 && [ "$(left)" -gt 100 ]; then
  # Every CUDA test (kernels against the CPU, whole plans) under memcheck; the runner names each test
  # as it passes, so a run cut short by the timeout still says how far it got. API errors are not
  # counted: cuda_check_reports_call_error_and_location asks for an impossible allocation on purpose.
  timeout "$(( $(left) - 30 < 240 ? $(left) - 30 : 240 ))" compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 3 \
    "$BUILD/nasnet_native_tests" cuda_ >"$LOGS/memcheck.log" 2>&1; memcheck_rc=$?
  say "compute-sanitizer memcheck (the CUDA tests): rc=$memcheck_rc — $(grep -c '^ok ' "$LOGS/memcheck.log") tests passed under it; $(grep -E 'ERROR SUMMARY' "$LOGS/memcheck.log" | tail -1)"
  pack
fi
if [ "$build_ok" = 1 ] && [ "$(left)" -gt 60 ]; then
  timeout "$(( $(left) - 20 ))" "$BUILD/nasnet_native_tests" >"$LOGS/tests-all.log" 2>&1; all_rc=$?
  say "native tests (all): rc=$all_rc — $(tail -1 "$LOGS/tests-all.log")"
  grep -E '^FAIL' -A3 "$LOGS/tests-all.log" | head -20 | tee -a "$OUT/gpu-check.log"
fi

summ() { # passed failed from the runner's closing line "N passed, N failed[, N skipped]"
  local f="$1"; [ -f "$f" ] && tail -1 "$f" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*$/\1 \2/p'
}
read -r cp cf <<<"$(summ "$LOGS/tests-cuda.log")"
read -r ap af <<<"$(summ "$LOGS/tests-all.log")"
read -r np nf <<<"$(summ "$LOGS/node-engine-cuda.log")"
skips="$(grep -c '^  skip ' "$LOGS/tests-cuda.log" 2>/dev/null || true)"
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
  "node_engine_cuda": {"rc": $node_rc, "passed": ${np:-0}, "failed": ${nf:-0}},
  "node_train_rc": $train_rc,
  "memcheck_rc": $memcheck_rc,
  "bench": $bench_json
}
JSON
pack
cat "$OUT/summary.json"
[ "$build_ok" = 1 ] && [ "$cuda_rc" = 0 ] && { [ "$all_rc" = 0 ] || [ "$all_rc" = -1 ]; } &&
  { [ "$parity_rc" = 0 ] || [ "$parity_rc" = -1 ]; } && { [ "$node_rc" = 0 ] || [ "$node_rc" = -1 ]; }
