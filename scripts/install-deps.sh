#!/usr/bin/env bash
# Installs the Debian packages eebench builds against. Idempotent and non-interactive.
# The CUDA toolkit is optional: when nvcc + cuBLAS are present the CUDA backend is built too.
set -euo pipefail
PKGS=(cmake ninja-build g++ pkg-config git
      libopenblas-dev libsentencepiece-dev nlohmann-json3-dev libcli11-dev liblinear-dev
      libsqlite3-dev sqlite3 libxxhash-dev catch2 libbenchmark-dev
      libcurl4-openssl-dev libssl-dev libboost-dev libboost-filesystem-dev libpugixml-dev libtomlplusplus-dev libyaml-cpp-dev
      libpcre2-dev libutf8proc-dev libdnnl-dev libhwy-dev
      chromium clang libclang-rt-14-dev libomp-dev python3 slurm-wlm munge)
# chromium: the report layout test (tests/reports); clang + compiler-rt + libomp: the libFuzzer
# targets (scripts/fuzz.sh, run briefly by scripts/test.sh); python3: the fake hub of tests/hub;
# slurm-wlm + munge: the one-node Slurm cluster tests/slurm/run_slurm_test.sh starts.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
