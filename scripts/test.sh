#!/usr/bin/env bash
# Installs dependencies, builds with warnings on (-Wall -Wextra -Wpedantic; EEB_WARNINGS_AS_ERRORS=ON
# makes them fatal, as developers build), and runs every test (ctest).
# Tests that need ../shared/data skip with a message when it is absent (EEBENCH_TEST_DATA overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build} bash scripts/build.sh -DEEB_WARNINGS_AS_ERRORS=${EEB_WARNINGS_AS_ERRORS:-OFF}
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 1800
