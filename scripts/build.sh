#!/usr/bin/env bash
# Configures (once) and builds tweetlm into build/ (Release, -march=native). Extra arguments go
# to cmake at configure time, e.g. scripts/build.sh -DTLM_NATIVE=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ] || [ $# -gt 0 ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
ninja -C build
