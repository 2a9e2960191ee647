#!/usr/bin/env bash
# The quick start: install what is missing, build, and run the main job on a default corpus.
# Today the main job is: `tweetlm prepare` on the Debian fortune files (short texts, like
# tweets: parse, normalize, de-duplicate, split, print the corpus report), then train a
# byte-level BPE tokenizer on the corpus and tokenize it into shards. Later stages (train,
# generate) extend this script as they land.
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
echo "== 2. tokenizer: byte-level BPE, vocab 8192, on $out"
build/src/tweetlm tokenizer train -i "$out" -o "$out/tokenizer.json" --vocab 8192

echo
echo "== 3. tokenize: $out -> $out/shards"
build/src/tweetlm tokenize -i "$out" -t "$out/tokenizer.json" -o "$out/shards"

echo
echo "== a few tweets and their tokens (Ġ is a space)"
/usr/bin/python3 -c 'import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if i == 3: break
    print(json.loads(line)["text"].replace("\n", " "))' "$out/train.jsonl" >"$out/sample.txt"
while IFS= read -r tweet; do
  echo "tweet : $tweet"
  echo "tokens: $(printf '%s\n' "$tweet" | build/src/tweetlm tokenizer encode -t "$out/tokenizer.json" --tokens)"
  echo "ids   : $(printf '%s\n' "$tweet" | build/src/tweetlm tokenizer encode -t "$out/tokenizer.json")"
done <"$out/sample.txt"
cat <<MSG

Done. The corpus is in $out/{train,val,test}.jsonl (report: $out/report.json), the tokenizer in
$out/tokenizer.json (Hugging Face format), the token shards in $out/shards/.
Go further:
  build/src/tweetlm prepare --help                        # all options
  build/src/tweetlm prepare -i tweets.js -o data/mine       # your Twitter archive (or its unpacked folder)
  build/src/tweetlm prepare -i api.jsonl.zst --lang en -o data/en   # API v1.1/v2 JSON, compressed
  build/src/tweetlm tokenizer train -i data/en -o data/en/tokenizer.json --vocab 32000
  echo "hello @user" | build/src/tweetlm tokenizer encode -t $out/tokenizer.json --tokens
  scripts/test.sh                                           # the whole test suite
MSG
