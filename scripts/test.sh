#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest: unit, op, end-to-end
# and CLI tiers), then a short fuzzing smoke run of every parser.
#   scripts/test.sh              # everything
#   TLM_FUZZ_SECONDS=0 scripts/test.sh   # skip the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
jobs=$(nproc)
(cd build && ctest --output-on-failure -j "$jobs")
fuzz_seconds=${TLM_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
echo "test.sh: all tests passed"
