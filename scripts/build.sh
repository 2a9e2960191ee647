#!/usr/bin/env bash
# Configures (once) and builds tweetlm into build/ (Release, -march=native). Extra arguments go
# to cmake at configure time, e.g. scripts/build.sh -DTLM_NATIVE=OFF. Everything (tests,
# benchmarks) is built unless TLM_BUILD_TARGETS names the targets, e.g. TLM_BUILD_TARGETS=tweetlm.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ] || [ $# -gt 0 ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
# shellcheck disable=SC2086 # a list of targets
ninja -C build ${TLM_BUILD_TARGETS:-}
