#!/usr/bin/env bash
# Installs dependencies, builds with warnings on (-Wall -Wextra -Wpedantic; EEB_WARNINGS_AS_ERRORS=ON
# makes them fatal, as developers build), and runs every test (ctest).
# Tests that need ../shared/data skip with a message when it is absent (EEBENCH_TEST_DATA overrides).
# Then a short libFuzzer run over every parser (scripts/fuzz.sh --runs 1000; EEB_SKIP_FUZZ=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build} bash scripts/build.sh -DEEB_WARNINGS_AS_ERRORS=${EEB_WARNINGS_AS_ERRORS:-OFF}
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 1800
cd ..
# A short fuzzing run (ASan + UBSan, 1000 mutated inputs per parser after its seeds; docs/FUZZING.md).
if command -v clang++ >/dev/null && [ "${EEB_SKIP_FUZZ:-0}" != 1 ]; then
  bash scripts/fuzz.sh --runs 1000
else
  echo "test.sh: fuzzing skipped (no clang++, or EEB_SKIP_FUZZ=1)"
fi
