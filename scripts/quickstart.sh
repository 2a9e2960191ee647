#!/usr/bin/env bash
# The quick start: install what is missing, build, and run the main job on a default corpus.
# The main job, on the Debian fortune files by default (short texts, like tweets): `tweetlm
# prepare` (parse, normalize, de-duplicate, split, corpus report), train a byte-level BPE
# tokenizer and tokenize the corpus into shards, train a small Llama for a few minutes on the
# CPU (progress line per step, validation loss and samples as it goes), then generate samples.
#   scripts/quickstart.sh [INPUT...]     # default input: /usr/share/games/fortunes
#   TLM_QUICKSTART_STEPS=N               # training steps (default 600: a few minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only the program: the tests and benchmarks are scripts/test.sh's to build. Ninja's progress
# ([n/N] per file) shows, since a first build takes minutes.
echo "quickstart: building build/src/tweetlm (ninja -C build tweetlm)"
TLM_BUILD_TARGETS=tweetlm scripts/build.sh
echo "quickstart: built build/src/tweetlm"

inputs=("$@")
[ ${#inputs[@]} -gt 0 ] || inputs=(/usr/share/games/fortunes)
out=out/quickstart
echo
echo "== 1. prepare: ${inputs[*]} -> $out"
build/src/tweetlm prepare -i "${inputs[@]}" -o "$out" --near-dup 0.8

echo
echo "== 2. tokenizer: byte-level BPE, vocab 8192, on $out"
build/src/tweetlm tokenizer train -i "$out" -o "$out/tokenizer.json" --vocab 8192

echo
echo "== 3. tokenize: $out -> $out/shards"
build/src/tweetlm tokenize -i "$out" --tokenizer "$out/tokenizer.json" -o "$out/shards"

echo
echo "== a few tweets and their tokens (Ġ is a space)"
/usr/bin/python3 -c 'import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if i == 3: break
    print(json.loads(line)["text"].replace("\n", " "))' "$out/train.jsonl" >"$out/sample.txt"
while IFS= read -r tweet; do
  echo "tweet : $tweet"
  echo "tokens: $(printf '%s\n' "$tweet" | build/src/tweetlm tokenizer encode --tokenizer "$out/tokenizer.json" --tokens)"
  echo "ids   : $(printf '%s\n' "$tweet" | build/src/tweetlm tokenizer encode --tokenizer "$out/tokenizer.json")"
done <"$out/sample.txt"
steps=${TLM_QUICKSTART_STEPS:-600}
echo
echo "== 4. train: a small Llama (C256, 4 layers) for $steps steps on $out/shards -> $out/run"
# --resume: re-running the quick start continues (or just reloads) the last run instead of
# starting over; delete $out/run to train from scratch.
build/src/tweetlm train --data "$out/shards" --tokenizer "$out/tokenizer.json" --out "$out/run" \
  --model small -T 64 -b 16 --lr 2e-3 --steps "$steps" --eval-every 200 --save-every 200 --log-every 25 --resume

echo
echo "== 5. generate: five samples from the trained model"
for seed in 1 2 3 4 5; do
  echo "--- sample $seed"
  build/src/tweetlm generate -m "$out/run" -n 60 --temp 0.8 -s "$seed" 2>/dev/null
  echo
done
echo "--- continuing a prompt: \"The secret of life is\""
build/src/tweetlm generate -m "$out/run" -p "The secret of life is" -n 40 --temp 0.7 -s 7 2>/dev/null
echo

echo
echo "== 6. search: index the corpus (SQLite FTS5 + the model's embeddings in HNSW) and ask it"
# Rebuilt each time: a re-run may have trained the model further, and an index keeps the
# vectors of one model only.
rm -rf "$out/index"
build/src/tweetlm index -i "$out" -m "$out/run" -o "$out/index"
build/src/tweetlm search -x "$out/index" "love and life" -k 3 --mode hybrid

cat <<MSG

Done. The corpus is in $out/{train,val,test}.jsonl (report: $out/report.json), the tokenizer in
$out/tokenizer.json (Hugging Face format), the token shards in $out/shards/, the model's
checkpoints in $out/run/step_*/ (safetensors, HF names) and its metrics in $out/run/metrics.jsonl.
Go further:
  build/src/tweetlm generate -m $out/run -p "Life is" -n 50 --temp 0.8     # more samples
  build/src/tweetlm eval ppl -m $out/run --data $out/shards --split test    # held-out perplexity
  build/src/tweetlm serve -m $out/run --run $out/run          # OpenAI-compatible server + web page:
      # open http://127.0.0.1:8080, or from another shell:
      # curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \\
      #   -d '{"prompt": "Life is", "max_tokens": 40}'
  build/src/tweetlm search -x $out/index "your words" --mode bm25|dense|hybrid   # tweet search
  build/src/tweetlm ads copy -m $out/run --product "a cold brew" --keywords coffee -n 3   # ad copy
  build/src/tweetlm export -m $out/run --format gguf -o model.gguf   # for llama.cpp, ollama, LM Studio
  bench/tweeteval_lm.sh    # train on TweetEval, then: TweetEval probe table, bits/byte on its test tweets
  build/src/tweetlm eval tweeteval -m $out/run --data ../shared/data/tweeteval   # TweetEval (a TweetEval folder)
  build/src/tweetlm serve -m $out/run --index $out/index    # + the Search and Ads tabs of the page
  build/src/tweetlm train --help                                             # all training options
  mpirun -np 2 build/src/tweetlm train --data $out/shards --tokenizer $out/tokenizer.json \
      --out $out/run-dp --model small -T 64 -b 8 --steps 600 --zero 1   # 2 processes (as root: --allow-run-as-root)
  build/src/tweetlm plan --model 7b --tokens 2T --gpus 10000 --gpu h100     # what a big run would cost
  build/src/tweetlm prepare -i tweets.js -o data/mine       # your Twitter archive (or its unpacked folder)
  build/src/tweetlm prepare -i api.jsonl.zst --lang en -o data/en   # API v1.1/v2 JSON, compressed
  build/src/tweetlm tokenizer train -i data/en -o data/en/tokenizer.json --vocab 32000
  scripts/test.sh                                           # the whole test suite
MSG
