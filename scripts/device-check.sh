#!/usr/bin/env bash
# The GPU checks of the CUDA backend (issue 6) as one prepared run for the device machine (one
# H200, ~15 minutes of device time per session). Two halves:
#
#   scripts/device-check.sh pack   here: builds the CUDA test programs, `tweetlm`, and the
#                                  benchmark (Release, sm_90 + PTX), a small TweetEval corpus,
#                                  and packs them with the shared libraries the device image
#                                  lacks into .devcarry/pack.tar.gz (git-ignored)
#   scripts/device-check.sh run    there, with $OUT set (the device tool's run, carry
#                                  [".devcarry"]): the CUDA op and model tests, a GPU training
#                                  run resumed on the CPU, and bench/train_cuda against
#                                  torch.compile; logs and JSON under $OUT, within ~8 minutes
#
# Why build here: the device image has nvcc, CMake and PyTorch but none of our Debian libraries
# (simdjson, OpenBLAS, oneDNN, GoogleTest, ...). Binaries from this Debian (glibc 2.36) run on the
# device's newer userland; the CUDA runtime, cuBLASLt and NCCL are taken from its own CUDA 13.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

pack() {
  local build=build-device stage=.devcarry/stage
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTLM_CUDA=ON -DTLM_NATIVE=OFF \
    -DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed >/dev/null
  local tests=()
  for f in tests/cuda/test_*.cpp; do tests+=("$(basename "$f" .cpp)"); done
  ninja -C "$build" tweetlm train_cuda "${tests[@]}"
  rm -rf .devcarry && mkdir -p "$stage/bin" "$stage/lib" "$stage/data"
  for t in "${tests[@]}"; do cp "$build/tests/$t" "$stage/bin/"; done
  cp "$build/src/tweetlm" "$build/bench/train_cuda" "$stage/bin/"
  cp bench/peer_train_cuda.py "$stage/"
  # Shared libraries outside glibc, libstdc++ and CUDA's own (the device has those).
  for exe in "$stage"/bin/*; do
    ldd "$exe" | awk '/=> \// {print $3}'
  done | sort -u | grep -Ev '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libnccl|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
  # A small real corpus: the TweetEval training tweets of two tasks (train/val text only).
  local tw=../shared/data/tweeteval
  "$stage/bin/tweetlm" -q prepare -i "$tw/hate/train_text.txt" "$tw/offensive/train_text.txt" -o "$stage/data/prep"
  "$stage/bin/tweetlm" -q tokenizer train -i "$stage/data/prep" -o "$stage/data/tokenizer.json" --vocab 4096
  "$stage/bin/tweetlm" -q tokenize -i "$stage/data/prep" --tokenizer "$stage/data/tokenizer.json" -o "$stage/data/shards"
  rm -rf "$stage/data/prep"
  tar -C .devcarry -czf .devcarry/pack.tar.gz stage
  rm -rf "$stage"
  du -h .devcarry/pack.tar.gz
  echo "device-check: packed; on the device: scripts/device-check.sh run (carry .devcarry)"
}

run() {
  : "${OUT:?run on the device machine, where OUT is set}"
  local s=/tmp/tweetlm-stage fail=0
  rm -rf "$s" && mkdir -p "$s" && tar -C "$s" --strip-components=1 -xzf .devcarry/pack.tar.gz
  export LD_LIBRARY_PATH="$s/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export TLM_TEST_BINARY="$s/bin/tweetlm"  # the tests' tweetlm, moved here
  exec > >(tee "$OUT/device-check.log") 2>&1
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  echo "== 1. CUDA op and model tests"
  for t in "$s"/bin/test_cuda_*; do
    timeout 240 "$t" --gtest_brief=1 >"$OUT/$(basename "$t").log" 2>&1 && r=passed || { r=FAILED; fail=1; }
    echo "$(basename "$t"): $r ($(grep -Eo '[0-9]+ tests? from [0-9]+ test suites? ran' "$OUT/$(basename "$t").log" | head -1))"
  done
  echo "== 2. train on the GPU, resume on the CPU (same checkpoint format)"
  local run=/tmp/tweetlm-run
  rm -rf "$run"
  timeout 180 "$s/bin/tweetlm" train --device cuda --data "$s/data/shards" --tokenizer "$s/data/tokenizer.json" \
    --out "$run" --model small -b 16 -T 128 --steps 200 --eval-every 100 --log-every 50 --stop-after 150 || fail=1
  timeout 120 "$s/bin/tweetlm" train --device cuda --out "$run" --resume --log-every 25 || fail=1
  timeout 120 "$s/bin/tweetlm" train --device cpu --out "$run" --resume --steps 210 --log-every 5 || fail=1
  cp "$run/metrics.jsonl" "$OUT/gpu_run_metrics.jsonl" || true
  echo "== 3. benchmark: tweetlm vs torch.compile"
  timeout 330 "$s/bin/train_cuda" --peer-script "$s/peer_train_cuda.py" --json "$OUT/train_cuda.json" || fail=1
  echo "device-check: $([ $fail = 0 ] && echo all passed || echo FAILURES, see the logs)"
  return $fail
}

case "$mode" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: scripts/device-check.sh pack|run (see the comment at the top)" >&2; exit 2 ;;
esac
