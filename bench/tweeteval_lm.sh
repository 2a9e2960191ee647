#!/usr/bin/env bash
# Trains the model the TweetEval, search and brand-safety numbers are measured with: a Llama on
# the TweetEval train tweets of every task, byte-level BPE vocabulary 8192. Never a test split
# (../shared/data/README.md), and not the val splits either: val selects the probe's (and a
# fine-tune's) settings, so a model that has seen val text scores it too well (irony: 82.7 on
# val, 27.8 on test when val was in pre-training). Then runs the TweetEval benchmark
# (linear probe + TF-IDF baseline) and writes its table and JSON beside the run.
#   bench/tweeteval_lm.sh [OUT] [STEPS] [PRESET]   # default: out/tweeteval-lm 3000 small
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/tweeteval-lm}
steps=${2:-3000}
preset=${3:-small}
data=${TLM_TWEETEVAL:-../shared/data/tweeteval}
bin=build/src/tweetlm
[ -d "$data" ] || { echo "tweeteval_lm.sh: $data is missing (set TLM_TWEETEVAL)" >&2; exit 2; }
mkdir -p "$out"
mapfile -t inputs < <(find "$data" -name 'train_text.txt' | sort)
$bin prepare -i "${inputs[@]}" --format text -o "$out/prep" --split 0.98,0.02,0
$bin tokenizer train -i "$out/prep" -o "$out/tokenizer.json" --vocab 8192
$bin tokenize -i "$out/prep" --tokenizer "$out/tokenizer.json" -o "$out/shards"
$bin train --data "$out/shards" --tokenizer "$out/tokenizer.json" --out "$out/run" --model "$preset" \
  -T 128 -b 16 --lr 2e-3 --warmup 100 --steps "$steps" --eval-every 500 --save-every 500 --log-every 50 --resume
mapfile -t tests < <(find "$data" -name 'test_text.txt' | sort)
cat "${tests[@]}" >"$out/tweeteval_test_text.txt"
$bin eval ppl -m "$out/run" --text "$out/tweeteval_test_text.txt" --json | tee "$out/ppl_test.json"
$bin eval tweeteval -m "$out/run" --data "$data" --features lm+tfidf --json-out "$out/tweeteval.json" | tee "$out/tweeteval.txt"
