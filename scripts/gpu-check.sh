#!/usr/bin/env bash
# The CUDA backend's GPU check in one command: build (Release), run test_cuda, bench_cuda and the
# PyTorch baseline, and write the results to a folder.
#
#   bash scripts/gpu-check.sh [OUT_DIR]     on the GPU machine (OUT_DIR: default $OUT, else gpu-results)
#   bash scripts/gpu-check.sh bundle        on a machine with the C++ build dependencies
#
# On the GPU machine the script builds in build-gpu/ when CMake finds every dependency there;
# otherwise it unpacks build-gpu/bundle.tar.xz, made beforehand by the `bundle` mode: test_cuda and
# bench_cuda built here, the shared libraries they need that a CUDA image may lack (OpenBLAS,
# sentencepiece, Google Benchmark, ...; never the CUDA libraries, found on the GPU machine) and the
# shared sst-lm-12L test model. Carry build-gpu/bundle.tar.xz to the GPU machine with the checkout.
#
# Results in OUT_DIR: env.txt (nvidia-smi, nvcc, how the binaries were obtained), test_cuda.txt,
# bench_cuda.txt, bench_cuda.json, torch_baseline.json, summary.txt. Exit status: non-zero when the
# build or a test failed (the bench and the baseline still run); 77 when there is no CUDA device
# (tests skipped, benchmarks not run).
# Environment: BUILD_DIR (default build-gpu), JOBS (default nproc), SKIP_BENCH=1, SKIP_TORCH=1,
# EEB_BENCH_LAYERS / EEB_BENCH_TOKENS / EEB_BENCH_DTYPE (passed to bench_cuda).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
BUNDLE="$BUILD_DIR/bundle.tar.xz"

# Hash of the sources a bundle is built from (to flag a stale bundle).
source_stamp() {
  find core model tokenizer backends bench tests harness strategies tasks results reports CMakeLists.txt -type f \
    \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name CMakeLists.txt \) \
    2>/dev/null | LC_ALL=C sort | xargs sha1sum | sha1sum | cut -c1-16
}

configure_and_build() {  # $1: log file
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEEB_CUDA=ON >"$1" 2>&1 &&
    grep -q "eebench: CUDA backend ON" "$1" &&
    ninja -C "$BUILD_DIR" -j"$JOBS" test_cuda bench_cuda eebench >>"$1" 2>&1
}

if [[ "${1:-}" == "bundle" ]]; then
  log="$BUILD_DIR/bundle-build.log"
  mkdir -p "$BUILD_DIR"
  configure_and_build "$log" || { tail -30 "$log"; echo "gpu-check bundle: build failed ($log)"; exit 1; }
  stage="$BUILD_DIR/bundle"
  rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib"
  cp "$BUILD_DIR/test_cuda" "$BUILD_DIR/bench_cuda" "$BUILD_DIR/eebench" "$stage/bin/"
  # Shared libraries except the C runtime and CUDA's own (the GPU machine's driver and toolkit).
  skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libnvidia)'
  for b in "$stage/bin/"*; do
    ldd "$b" | awk '$3 ~ /^\// {print $1, $3}'
  done | sort -u | while read -r name path; do
    [[ "$name" =~ $skip ]] || cp -L "$path" "$stage/lib/$name"
  done
  data=${EEBENCH_TEST_DATA:-../shared/data}
  if [[ -f "$data/SOURCES.md" && -d "$data/models/sst-lm-12L" ]]; then
    mkdir -p "$stage/data/models"
    cp "$data/SOURCES.md" "$stage/data/"
    cp -r "$data/models/sst-lm-12L" "$stage/data/models/"
  fi
  source_stamp >"$stage/SOURCE_STAMP"
  tar -C "$BUILD_DIR" -cJf "$BUNDLE" bundle
  echo "gpu-check bundle: $BUNDLE ($(du -h "$BUNDLE" | cut -f1)); libraries: $(ls "$stage/lib" | tr '\n' ' ')"
  exit 0
fi

OUT_DIR=${1:-${OUT:-gpu-results}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
summary="$OUT_DIR/summary.txt"
: >"$summary"
say() { echo "== $*" | tee -a "$summary"; }
{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git rev-parse HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | wc -l) changed files"
  nvidia-smi 2>&1 || true
  nvcc --version 2>&1 || /usr/local/cuda/bin/nvcc --version 2>&1 || true
} >"$OUT_DIR/env.txt"

# 1. Binaries: built here, or from the bundle.
BIN="$BUILD_DIR"
if command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="$PATH:/usr/local/cuda/bin"
fi
if configure_and_build "$OUT_DIR/build.log"; then
  say "built test_cuda and bench_cuda in $BUILD_DIR (Release)"
elif [[ -f "$BUNDLE" ]]; then
  say "local build failed (see build.log: missing dependencies?); using $BUNDLE"
  rm -rf "$BUILD_DIR/bundle" && tar -C "$BUILD_DIR" -xJf "$BUNDLE" || { say "FAILED: cannot unpack $BUNDLE"; exit 1; }
  BIN="$BUILD_DIR/bundle/bin"
  if [[ "$(cat "$BUILD_DIR/bundle/SOURCE_STAMP" 2>/dev/null)" != "$(source_stamp)" ]]; then
    say "WARNING: the bundle was built from other sources than this checkout (rebuild it with: bash scripts/gpu-check.sh bundle)"
  fi
  export LD_LIBRARY_PATH="$ROOT/$BUILD_DIR/bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [[ -z "${EEBENCH_TEST_DATA:-}" && ! -f ../shared/data/SOURCES.md && -d "$BUILD_DIR/bundle/data" ]]; then
    export EEBENCH_TEST_DATA="$ROOT/$BUILD_DIR/bundle/data"
  fi
else
  say "FAILED: build failed and there is no $BUNDLE (make one with: bash scripts/gpu-check.sh bundle)"
  tail -40 "$OUT_DIR/build.log"
  exit 1
fi

# 2. CUDA libraries the binaries cannot find (e.g. cuBLAS from the pip wheels next to PyTorch).
missing=$(ldd "$BIN/test_cuda" "$BIN/bench_cuda" 2>/dev/null | awk '/not found/ {print $1}' | sort -u)
if [[ -n "$missing" ]]; then
  dirs="/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib /usr/lib /opt"
  dirs="$dirs $(python3 -c 'import site; print(*site.getsitepackages())' 2>/dev/null)"
  for lib in $missing; do
    # shellcheck disable=SC2086
    hit=$(find $dirs -name "$lib" 2>/dev/null | head -1)
    if [[ -n "$hit" ]]; then
      export LD_LIBRARY_PATH="$(dirname "$hit")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    else
      say "WARNING: $lib not found on this machine"
    fi
  done
fi
echo "binaries: $BIN; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}; EEBENCH_TEST_DATA=${EEBENCH_TEST_DATA:-}" >>"$OUT_DIR/env.txt"
ldd "$BIN/test_cuda" >>"$OUT_DIR/env.txt" 2>&1

# 3. Tests (durations and every WARN line: the skips, the bf16 errors, the device info).
status=0
"$BIN/test_cuda" --durations yes 2>&1 | tee "$OUT_DIR/test_cuda.txt"
test_rc=${PIPESTATUS[0]}
if [[ $test_rc -eq 0 ]]; then say "test_cuda: passed"; else say "test_cuda: FAILED (exit $test_rc)"; status=1; fi
# No device (a machine without a GPU, or a driver older than the runtime): the build and the skips
# are what can be checked here; the benchmarks have nothing to run on. Exit 77 = skipped.
if grep -q "SKIPPED: .*no CUDA device" "$OUT_DIR/test_cuda.txt"; then
  say "test_cuda: SKIPPED, $(grep -m1 -o 'no CUDA device.*' "$OUT_DIR/test_cuda.txt")"
  [[ $status -eq 0 ]] && status=77
  SKIP_BENCH=1
fi

# 4. Benchmark.
if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
  "$BIN/bench_cuda" --benchmark_out="$OUT_DIR/bench_cuda.json" --benchmark_out_format=json 2>&1 |
    tee "$OUT_DIR/bench_cuda.txt"
  bench_rc=${PIPESTATUS[0]}
  [[ $bench_rc -eq 0 ]] || { say "bench_cuda: FAILED (exit $bench_rc)"; status=1; }
  grep -E "^(device|model|cuBLAS|device-to-device|prefill|decode|no CUDA device)" \
    "$OUT_DIR/bench_cuda.txt" >>"$summary"
  # The same figures through the CLI (side-by-side ceilings in one process).
  if [[ -x "$BIN/eebench" ]]; then
    "$BIN/eebench" bench --backend cuda --shape 7b --tokens "${EEB_BENCH_TOKENS:-2048}" \
      ${EEB_BENCH_LAYERS:+--layers "$EEB_BENCH_LAYERS"} >"$OUT_DIR/eebench_bench.txt" 2>&1 ||
      { say "eebench bench: FAILED"; status=1; }
    cat "$OUT_DIR/eebench_bench.txt" | tee -a "$summary"
  fi
fi

# 5. PyTorch / transformers baseline, same shapes.
if [[ "${SKIP_TORCH:-0}" != 1 ]]; then
  PYTHONUNBUFFERED=1 python3 scripts/torch_decode_baseline.py \
    --tokens "${EEB_BENCH_TOKENS:-2048}" --layers "${EEB_BENCH_LAYERS:-32}" \
    >"$OUT_DIR/torch_baseline.json" 2>"$OUT_DIR/torch_baseline.err" || true
  say "torch baseline: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d.get(k) for k in ("prefill","decode","error") if k in d}))' "$OUT_DIR/torch_baseline.json" 2>/dev/null)"
  [[ -s "$OUT_DIR/torch_baseline.err" ]] || rm -f "$OUT_DIR/torch_baseline.err"
fi

say "results in $OUT_DIR"
exit $status
