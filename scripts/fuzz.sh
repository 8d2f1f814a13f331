#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, cmake/fuzz.cmake) in build-fuzz with clang, ASan and UBSan,
# writes a seed corpus (fuzz/make_corpus.cpp; heads of ../shared/data when present) under
# /tmp/eeb-fuzz, and runs every target in turn.
#
#   scripts/fuzz.sh [SECONDS]    fuzz each target for SECONDS (default 20)
#   scripts/fuzz.sh --runs [N]   run each target on N mutated inputs (default 1000) after its seeds
#
# EEB_FUZZ_TARGETS="gguf sst2" picks targets; EEBENCH_TEST_DATA points at the shared data;
# EEB_JOBS sets ninja's parallelism (default 2). A finding leaves its input in /tmp/eeb-fuzz/artifacts/
# (replay: build-fuzz/fuzz_<target> FILE) and makes the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=time secs=20 runs=1000
case "${1:-}" in
  --runs) mode=runs runs="${2:-1000}" ;;
  "") ;;
  *) secs="$1" ;;
esac

build=build-fuzz work=/tmp/eeb-fuzz
data="${EEBENCH_TEST_DATA:-$PWD/../shared/data}"
targets=(${EEB_FUZZ_TARGETS:-safetensors hf_config gguf llama2c sst2 mmlu generation run_spec task_spec template tokenizer_json})

# Until CMakeLists.txt includes cmake/fuzz.cmake itself, inject it right after project().
inject=()
grep -q 'cmake/fuzz.cmake' CMakeLists.txt || inject=(-DCMAKE_PROJECT_INCLUDE="$PWD/cmake/fuzz.cmake")
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DEEB_FUZZ=ON -DEEB_CUDA=OFF -DEEB_BENCH=OFF -DEEB_TESTS=OFF "${inject[@]}" >/dev/null
ninja -C "$build" -j "${EEB_JOBS:-2}" eeb_fuzz_corpus "${targets[@]/#/fuzz_}"

rm -rf "$work/seeds"
mkdir -p "$work/artifacts"
"$build/eeb_fuzz_corpus" "$work/seeds" "$data"

export UBSAN_OPTIONS=print_stacktrace=1
failed=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t" log="$work/$t.log"
  mkdir -p "$corpus"
  if [ "$mode" = runs ]; then  # the inputs already in the corpus run first and count as runs
    known=$(find "$corpus" "$work/seeds/$t" -type f | wc -l)
    limit=(-runs=$((runs + known)))
  else
    limit=(-max_total_time="$secs")
  fi
  if "$build/fuzz_$t" "$corpus" "$work/seeds/$t" "${limit[@]}" -timeout=5 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1; then
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$t: ok, $n inputs"
  else
    echo "fuzz_$t: FINDING (log $log):"
    grep -m3 -E 'ERROR|runtime error|terminate|Error|deadly|timeout|out-of-memory' "$log" | sed 's/^/  /' || true
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "findings in: ${failed[*]}"; exit 1; }
