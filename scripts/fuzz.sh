#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, library instrumented too) into build-fuzz
# and runs each one for SECONDS on a fresh copy of its seed corpus, so runs never write into the
# git tree. Exits non-zero, listing the reproducers, if any target crashes, leaks, times out,
# runs out of memory or fails an invariant.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]        (default 60)
#   build-fuzz/fuzz/<target> <reproducer>       replays one input
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi
build=build-fuzz
targets=(fuzz_json fuzz_csv fuzz_text fuzz_normalize fuzz_detect fuzz_shards fuzz_tokenizer_json fuzz_encode fuzz_safetensors fuzz_gguf fuzz_hf_index fuzz_tweet_length fuzz_campaigns)
# -fno-sanitize-recover: a UBSan report must stop the run, or libFuzzer would not keep the input.
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

CC=clang CXX=clang++ cmake -G Ninja -S . -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLM_FUZZ=ON -DTLM_BUILD_TESTS=OFF -DTLM_BUILD_BENCH=OFF \
  -DTLM_CUDA=OFF -DTLM_NATIVE=OFF -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize" >/dev/null
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
if [[ $compiler != *clang* ]]; then
  echo "fuzz.sh: $build was configured with $compiler, not clang; remove $build and rerun" >&2
  exit 2
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

failed=()
for t in "${targets[@]}"; do
  run="$build/fuzz-runs/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp fuzz/corpus/"$t"/* "$run/corpus/"
  echo "== $t: ${seconds}s"
  status=0
  # Leak checking stays on (the default); -timeout flags inputs that take absurdly long.
  "$build/fuzz/$t" "$run/corpus" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
    -artifact_prefix="$run/artifacts/" -print_final_stats=1 >"$run/log.txt" 2>&1 || status=$?
  grep -E "^Done [0-9]+ runs|^stat::number_of_executed_units|^stat::peak_rss_mb" "$run/log.txt" | tr '\n' ' ' || true
  echo
  shopt -s nullglob
  artifacts=("$run"/artifacts/*)
  shopt -u nullglob
  if [ "$status" -ne 0 ] || [ "${#artifacts[@]}" -gt 0 ]; then
    failed+=("$t")
    echo "!! $t failed (exit status $status); log: $run/log.txt"
    grep -m 5 -E "ERROR:|runtime error:|invariant failed|unexpected exception|SUMMARY:" "$run/log.txt" || true
    for a in "${artifacts[@]}"; do echo "   reproducer: $a   (replay: $build/fuzz/$t $a)"; done
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} target(s) found problems: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s each without finding a problem"
