#!/usr/bin/env bash
# The quick start: install what is missing, build, and run the main job on a default corpus.
# Today the main job is `tweetlm prepare` on the Debian fortune files (short texts, like tweets):
# parse, normalize, de-duplicate, split, and print the corpus report. Later stages (tokenizer,
# train, generate) extend this script as they land.
#   scripts/quickstart.sh [INPUT...]     # default input: /usr/share/games/fortunes
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
echo "quickstart: built build/src/tweetlm"

inputs=("$@")
[ ${#inputs[@]} -gt 0 ] || inputs=(/usr/share/games/fortunes)
out=out/quickstart
echo
echo "== 1. prepare: ${inputs[*]} -> $out"
build/src/tweetlm prepare -i "${inputs[@]}" -o "$out" --near-dup 0.8

echo
echo "== corpus sample ($out/train.jsonl)"
head -n 3 "$out/train.jsonl"
cat <<MSG

Done. The corpus is in $out/{train,val,test}.jsonl, the full report in $out/report.json.
Go further:
  build/src/tweetlm prepare --help                      # all options
  build/src/tweetlm prepare -i tweets.js -o data/mine     # your Twitter archive (or its unpacked folder)
  build/src/tweetlm prepare -i api.jsonl.zst --lang en -o data/en   # API v1.1/v2 JSON, compressed
  scripts/test.sh                                         # the whole test suite
MSG
