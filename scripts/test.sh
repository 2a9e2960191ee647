#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. ctest in build/ (Release): unit, end-to-end and CLI-contract tiers;
#   2. the same ctest under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/);
#   3. the server's tests against a ThreadSanitizer build of the server (build-tsan/);
#   4. a short libFuzzer run of every parser (scripts/fuzz.sh, build-fuzz/).
#   TLM_SANITIZE_TESTS=0 scripts/test.sh   # skip steps 2 and 3
#   TLM_FUZZ_SECONDS=0 scripts/test.sh     # skip step 3 (default: 10 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
jobs=$(nproc)
echo "== tests (Release)"
(cd build && ctest --output-on-failure -j "$jobs")

if [ "${TLM_SANITIZE_TESTS:-1}" != 0 ]; then
  echo "== tests (ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLM_SANITIZE=address,undefined \
    -DTLM_BUILD_BENCH=OFF -DTLM_CUDA=OFF >/dev/null
  ninja -C build-asan
  (cd build-asan && ctest --output-on-failure -j "$jobs")
fi

if [ "${TLM_SANITIZE_TESTS:-1}" != 0 ]; then
  echo "== server tests (ThreadSanitizer): 64-client load test, hang-ups, full queue"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLM_SANITIZE=thread \
    -DTLM_BUILD_BENCH=OFF -DTLM_CUDA=OFF >/dev/null
  ninja -C build-tsan tweetlm test_serve
  # One OpenMP and BLAS thread: libgomp is not instrumented, so its barriers would read as races
  # between the model's worker threads; the server's own threads (HTTP pool, engine) are what
  # this run checks. halt_on_error: a race stops the server, and the tests fail. The
  # suppressions cover only Debian's uninstrumented cpp-httplib library (tests/tsan.supp says why).
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
    build-tsan/tests/test_serve
fi

fuzz_seconds=${TLM_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzz smoke run (${fuzz_seconds}s per target)"
  scripts/fuzz.sh "$fuzz_seconds"
fi
echo "test.sh: all tests passed"
