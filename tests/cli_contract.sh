#!/usr/bin/env bash
# The command-line contract, checked on the real binary: a user error is exactly one line
# "tweetlm: error: <input>: <problem>" on stderr and exit code 2; help exits 0; a good run
# exits 0; a failed run leaves no partial output behind.
# Usage: cli_contract.sh path/to/tweetlm
set -u
bin=${1:?usage: cli_contract.sh TWEETLM}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect_user_error NAME PATTERN -- ARGS...: exit 2, one stderr line matching PATTERN.
expect_user_error() {
  local name=$1 pattern=$2
  shift 3
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -Eq "^tweetlm: error: .*$pattern" "$tmp/err"; then
    echo "FAIL $name: rc=$rc lines=$lines stderr:"; cat "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok   $name: $(cat "$tmp/err")"
  fi
}

expect_ok() {
  local name=$1
  shift
  if "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; then echo "ok   $name"; else
    echo "FAIL $name: rc=$? stderr:"; cat "$tmp/err"; fails=$((fails + 1)); fi
}

printf '{"id":"1","text":"hello there @bob http://t.co/x","lang":"en"}\n{"id":"2","text":broken}\n{"id":"3","text":"third tweet here","lang":"en"}\n' >"$tmp/t.jsonl"
printf 'id,text\n1,"unterminated\n' >"$tmp/bad.csv"
printf 'id,body\n1,hello\n' >"$tmp/nocol.csv"
printf '\x00\x01\x02binary' >"$tmp/blob.bin"
seq 1 100000 | gzip -c | head -c 2000 >"$tmp/trunc.gz"
: >"$tmp/afile"

expect_ok "help" --help
expect_ok "prepare help" prepare --help
expect_user_error "no subcommand" "subcommand" --
expect_user_error "unknown flag" "--bogus" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --bogus
expect_user_error "missing -i" "input" -- prepare -o "$tmp/o"
expect_user_error "bad threads" "threads" -- -t abc prepare -i "$tmp/t.jsonl" -o "$tmp/o"
expect_user_error "missing input" "nope.jsonl: no such file" -- prepare -i "$tmp/nope.jsonl" -o "$tmp/o"
expect_user_error "bad split" "--split: .*three" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --split 0.5,0.5
expect_user_error "split sum" "--split: .*sums to" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --split 0.5,0.5,0.5
expect_user_error "bad format" "--format: unknown format" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --format xml
expect_user_error "bad near-dup" "--near-dup" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --near-dup 1.5
expect_user_error "binary input" "blob.bin: unrecognized format" -- prepare -i "$tmp/blob.bin" -o "$tmp/o"
expect_user_error "truncated gzip" "trunc.gz: .*gzip" -- prepare -i "$tmp/trunc.gz" -o "$tmp/o"
expect_user_error "csv without text column" "nocol.csv: no column named 'text'" -- prepare -i "$tmp/nocol.csv" -o "$tmp/o"
expect_user_error "output under a file" "afile" -- prepare -i "$tmp/t.jsonl" -o "$tmp/afile/sub"
expect_user_error "prepare bad --since" "--since: 'yesterday' is not a date" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --since yesterday
expect_user_error "prepare empty date range" "--until: '2020-01-01' is before --since" -- prepare -i "$tmp/t.jsonl" -o "$tmp/o" --since 2021-01-01 --until 2020-01-01
expect_user_error "strict malformed" "t.jsonl:2: invalid JSON" -- prepare -i "$tmp/t.jsonl" -o "$tmp/strict" --strict
if ls "$tmp/strict" 2>/dev/null | grep -q .; then
  echo "FAIL strict run left files: $(ls "$tmp/strict")"; fails=$((fails + 1))
fi
# ... and not even the folder it would have made.
[ ! -e "$tmp/strict" ] && echo "ok   strict leaves no folder" || { echo "FAIL strict run left $tmp/strict"; fails=$((fails + 1)); }
expect_user_error "strict truncated csv" "bad.csv:2: unterminated" -- prepare -i "$tmp/bad.csv" -o "$tmp/o2" --strict

# A malformed line without --strict: warning naming file:line, exit 0, the rest kept.
expect_ok "lenient malformed" prepare -i "$tmp/t.jsonl" -o "$tmp/ok" --split 1,0,0
grep -q "t.jsonl:2: invalid JSON" "$tmp/err" || { echo "FAIL no file:line warning"; fails=$((fails + 1)); }
n=$(wc -l <"$tmp/ok/train.jsonl")
[ "$n" -eq 2 ] || { echo "FAIL expected 2 kept tweets, got $n"; fails=$((fails + 1)); }
grep -q '"text":"hello there @user http"' "$tmp/ok/train.jsonl" || { echo "FAIL normalization"; cat "$tmp/ok/train.jsonl"; fails=$((fails + 1)); }
/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['malformed']==1 and r['kept']==2, r" \
  "$tmp/ok/report.json" || { echo "FAIL report.json"; fails=$((fails + 1)); }

# Re-running over an existing output replaces it atomically (no temp files left).
expect_ok "rerun" prepare -i "$tmp/t.jsonl" -o "$tmp/ok"
if ls "$tmp/ok" | grep -q '\.tmp\.'; then echo "FAIL temp files left: $(ls "$tmp/ok")"; fails=$((fails + 1)); fi

# tokenizer: train on the prepared corpus above, encode | decode round trip, errors.
expect_ok "tokenizer train" tokenizer train -i "$tmp/ok" -o "$tmp/tok/tokenizer.json" --vocab 300 --min-frequency 1
[ -s "$tmp/tok/tokenizer_config.json" ] || { echo "FAIL no tokenizer_config.json"; fails=$((fails + 1)); }
printf 'hello there\ncaf\xc3\xa9 \xf0\x9f\x98\x80 <|endoftext|>\n\n  spaces  \n' >"$tmp/lines.txt"
"$bin" tokenizer encode --tokenizer "$tmp/tok/tokenizer.json" "$tmp/lines.txt" >"$tmp/ids.txt" &&
  "$bin" tokenizer decode --tokenizer "$tmp/tok/tokenizer.json" "$tmp/ids.txt" >"$tmp/back.txt" &&
  cmp -s "$tmp/lines.txt" "$tmp/back.txt" && [ "$(wc -l <"$tmp/ids.txt")" -eq 4 ] &&
  echo "ok   tokenizer encode | decode round trip" ||
  { echo "FAIL tokenizer round trip"; fails=$((fails + 1)); }
printf '{"model": {"type": "Unigram"}}' >"$tmp/bad_tok.json"
expect_user_error "tokenizer bad model" "bad_tok.json: model.type: 'Unigram' is not supported" -- tokenizer encode --tokenizer "$tmp/bad_tok.json" "$tmp/lines.txt"
expect_user_error "tokenizer missing file" "nope.json: cannot open" -- tokenizer encode --tokenizer "$tmp/nope.json" "$tmp/lines.txt"
printf '1 2 999999\n' >"$tmp/bad_ids.txt"
expect_user_error "decode bad id" "line 1: token id 999999 is outside" -- tokenizer decode --tokenizer "$tmp/tok/tokenizer.json" "$tmp/bad_ids.txt"
printf '1 two\n' >"$tmp/bad_ids2.txt"
expect_user_error "decode non-number" "line 1: '1 two' is not a list of token ids" -- tokenizer decode --tokenizer "$tmp/tok/tokenizer.json" "$tmp/bad_ids2.txt"
expect_user_error "special token spelled like text" "--special: 'a' is also an ordinary token" -- -q tokenizer train -i "$tmp/ok" -o "$tmp/t3.json" --vocab 300 --special "<|endoftext|>" a
expect_user_error "tokenizer train bad vocab" "--vocab" -- tokenizer train -i "$tmp/ok" -o "$tmp/t2.json" --vocab 10

# tokenize: the tokenizer file is read first, so a missing one is the error even with a good corpus.
expect_user_error "tokenize missing tokenizer" "nope.json: cannot open" -- tokenize -i "$tmp/ok" --tokenizer "$tmp/nope.json" -o "$tmp/shards"
expect_user_error "tokenize missing corpus" "nodir: no such directory" -- tokenize -i "$tmp/nodir" --tokenizer "$tmp/tok/tokenizer.json" -o "$tmp/shards"
expect_user_error "tokenize bad shard size" "--shard-tokens" -- tokenize -i "$tmp/ok" --tokenizer "$tmp/tok/tokenizer.json" -o "$tmp/shards" --shard-tokens 0
mkdir -p "$tmp/badprep" && printf '{"id":"1","text":"fine"}
{"id":"2"}
' >"$tmp/badprep/train.jsonl"
expect_user_error "tokenize line without text" "train.jsonl:2: no \"text\" string" -- tokenize -i "$tmp/badprep" --tokenizer "$tmp/tok/tokenizer.json" -o "$tmp/shards"
expect_ok "tokenize" tokenize -i "$tmp/ok" --tokenizer "$tmp/tok/tokenizer.json" -o "$tmp/shards"
if [ ! -s "$tmp/shards/meta.json" ] || [ ! -s "$tmp/shards/train_000000.bin" ] || ls "$tmp/shards" | grep -q '\.tmp\.'; then
  echo "FAIL tokenize outputs: $(ls "$tmp/shards")"; fails=$((fails + 1)); fi

# train / eval ppl: flag errors are one line and exit 2; a tiny run on the shards above works.
expect_user_error "train without --out" "--out is required" -- train --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "train bad batch" "--batch: Value 0" -- train --out "$tmp/run" -b 0
expect_user_error "train steps and tokens" "--steps excludes --tokens" -- train --out "$tmp/run" --steps 5 --tokens 100
expect_user_error "train bad lr" "--lr: -1 must be above 0" -- train --out "$tmp/run" --lr -1
expect_user_error "train bad model" "--model: unknown size 'huge'" -- train --out "$tmp/run" --model huge --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "train heads" "--heads: 3 does not divide" -- train --out "$tmp/run" --heads 3 --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "train missing shards" "nodir: no such directory" -- train --out "$tmp/run" --data "$tmp/nodir" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "train corpus is not shards" "no meta.json" -- train --out "$tmp/run" --data "$tmp/ok" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "train without tokenizer" "--tokenizer" -- train --out "$tmp/run" --data "$tmp/shards"
expect_user_error "train bad device" "--device: tpu not in" -- train --out "$tmp/run" --device tpu
# Without a GPU (or without CUDA in the build) --device cuda is one clear line, not a crash.
expect_user_error "train cuda without a device" "--device cuda: (no CUDA device|this tweetlm was built without CUDA)" -- train --out "$tmp/run" --device cuda --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json"
if [ -e "$tmp/run" ]; then echo "FAIL refused train runs left $tmp/run behind"; fails=$((fails + 1)); fi
expect_ok "train tiny" -q train --out "$tmp/run" --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json" -T 4 -b 1 \
  --dim 16 --layers 1 --heads 2 --ffn 32 --steps 2 --peak-gflops 10
if [ ! -s "$tmp/run/step_00000002/manifest.json" ] || [ ! -s "$tmp/run/metrics.jsonl" ] || ls -a "$tmp/run" | grep -q '^\.tmp'; then
  echo "FAIL train outputs: $(ls -a "$tmp/run")"; fails=$((fails + 1)); fi
expect_user_error "train over a run" "already holds checkpoints" -- train --out "$tmp/run" --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json"
expect_user_error "resume with another -T" "-T: is 8 but" -- train --out "$tmp/run" --resume -T 8
expect_user_error "train bad --replay" "--replay: .*not DIR:FRACTION" -- train --out "$tmp/run2" --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json" --replay "$tmp/shards"
expect_user_error "train --replay fraction" "--replay: .*in \\(0, 1\\)" -- train --out "$tmp/run2" --data "$tmp/shards" --tokenizer "$tmp/tok/tokenizer.json" --replay "$tmp/shards:1"
expect_user_error "train --init-from a non-model" "t.jsonl" -- train --out "$tmp/run2" --data "$tmp/shards" --init-from "$tmp/t.jsonl"
expect_user_error "train --init-from with model flags" "the model comes from --init-from" -- train --out "$tmp/run2" --data "$tmp/shards" --init-from "$tmp/run" --dim 32
if [ -e "$tmp/run2" ]; then echo "FAIL refused fine-tunes left $tmp/run2 behind"; fails=$((fails + 1)); fi
expect_ok "eval ppl" eval ppl -m "$tmp/run" --data "$tmp/shards" --split train
grep -q "perplexity" "$tmp/out" || { echo "FAIL eval ppl output: $(cat "$tmp/out")"; fails=$((fails + 1)); }
expect_user_error "eval without -m" "--model is required" -- eval ppl --data "$tmp/shards"
expect_user_error "eval bad split" "--split: dev not in" -- eval ppl -m "$tmp/run" --data "$tmp/shards" --split dev
expect_user_error "eval missing checkpoint" "nope: no such model directory" -- eval ppl -m "$tmp/nope" --data "$tmp/shards"
expect_user_error "eval without subcommand" "subcommand" -- eval

# generate: flag errors are one line and exit 2; greedy ids and a prompt file on the tiny run above.
expect_user_error "generate without -m" "--model is required" -- generate
expect_user_error "generate missing model" "nope: no such model directory" -- generate -m "$tmp/nope"
expect_user_error "generate bad temp" "--temp: -1" -- generate -m "$tmp/run" --temp -1
expect_user_error "generate bad top-p" "--top-p: 2" -- generate -m "$tmp/run" --top-p 2
expect_user_error "generate missing prompt file" "nope.txt: no such file" -- generate -m "$tmp/run" -f "$tmp/nope.txt"
expect_user_error "generate -p and -f" "--prompt excludes --file" -- generate -m "$tmp/run" -p hi -f "$tmp/lines.txt"
expect_ok "generate ids" -q generate -m "$tmp/run" -n 3 --temp 0 --ids
grep -Eqx '[0-9]+( [0-9]+){0,2}|' "$tmp/out" || { echo "FAIL generate --ids output: $(cat "$tmp/out")"; fails=$((fails + 1)); }
printf 'hello\n\nthere\n' >"$tmp/prompts.txt"
expect_ok "generate prompt file" -q generate -m "$tmp/run" -f "$tmp/prompts.txt" -n 2 --temp 0
[ "$(wc -l <"$tmp/out")" -eq 3 ] || { echo "FAIL generate -f: expected 3 lines, got: $(cat "$tmp/out")"; fails=$((fails + 1)); }

# export: GGUF of the tiny run; one-line errors, and no output file after a failure.
expect_user_error "export without -o" "--output is required" -- export -m "$tmp/run"
expect_user_error "export missing model" "nope: no such model directory" -- export -m "$tmp/nope" -o "$tmp/x.gguf"
expect_user_error "export bad format" "--format: unknown format 'onnx'" -- export -m "$tmp/run" -o "$tmp/x.gguf" --format onnx
expect_user_error "export bad type" "--type: unknown type 'q4_0'" -- export -m "$tmp/run" -o "$tmp/x.gguf" --type q4_0
[ ! -e "$tmp/x.gguf" ] || { echo "FAIL export left $tmp/x.gguf after errors"; fails=$((fails + 1)); }
expect_ok "export gguf f16" -q export -m "$tmp/run" -o "$tmp/model.gguf" --type f16
[ "$(head -c 4 "$tmp/model.gguf")" = GGUF ] || { echo "FAIL export: $tmp/model.gguf is not GGUF"; fails=$((fails + 1)); }
# export --format hf: a directory that generate loads; a non-empty target is refused in one line.
expect_ok "export hf" -q export -m "$tmp/run" --format hf -o "$tmp/hf" --max-shard-size 10KB
[ -e "$tmp/hf/model.safetensors.index.json" ] || { echo "FAIL export hf: no index in $tmp/hf"; fails=$((fails + 1)); }
expect_ok "generate from hf" -q generate -m "$tmp/hf" -n 2 --temp 0
expect_user_error "export hf non-empty" "hf: exists and is not empty \(use --force" -- export -m "$tmp/run" --format hf -o "$tmp/hf"
expect_user_error "export hf bad type" "--type: unknown type 'q8_0' for hf" -- export -m "$tmp/run" --format hf -o "$tmp/hf2" --type q8_0
expect_user_error "export hf bad size" "--max-shard-size: '5XB': unknown unit" -- export -m "$tmp/run" --format hf -o "$tmp/hf2" --max-shard-size 5XB

# plan: the cost model reads no files; a report (and --json-out) on good flags, one-line errors on bad ones.
expect_ok "plan" plan --model 7b --tokens 2T --gpus 10000 --gpu h100 --json-out "$tmp/plan.json"
grep -q "MFU" "$tmp/out" || { echo "FAIL plan output: $(cat "$tmp/out")"; fails=$((fails + 1)); }
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['model']['params']==6738415616 and j['memory']['fits'], j" \
  "$tmp/plan.json" || { echo "FAIL plan --json-out"; fails=$((fails + 1)); }
expect_user_error "plan without --tokens" "--tokens is required" -- plan --model 7b --gpus 8
expect_user_error "plan bad model" "--model: unknown model 'gpt5'" -- plan --model gpt5 --tokens 1T --gpus 8
expect_user_error "plan bad tokens" "--tokens: '2X' is not a number" -- plan --model 7b --tokens 2X --gpus 8
expect_user_error "plan bad gpus" "--gpus: 0 is out of range" -- plan --model 7b --tokens 1T --gpus 0
expect_user_error "plan bad gpu" "--gpu: unknown GPU 'tpu'" -- plan --model 7b --tokens 1T --gpus 8 --gpu tpu
expect_user_error "plan bad interconnect" "--interconnect: unknown link 'ib999'" -- plan --model 7b --tokens 1T --gpus 8 --interconnect ib999
expect_user_error "plan one-node link" "--interconnect: 'nvlink4' joins the GPUs of one node only" -- plan --model 7b --tokens 1T --gpus 16 --interconnect nvlink4
expect_user_error "plan bad zero" "--zero: Value 2" -- plan --model 7b --tokens 1T --gpus 8 --zero 2
expect_user_error "plan model parallel" "--model-parallel: 8 does not divide --gpus 100" -- plan --model 7b --tokens 1T --gpus 100 --model-parallel 8

# ---- A CLI without traps (issue 16, section 5) ----
root=$(cd "$(dirname "$0")/.." && pwd)
# check NAME CONDITION...: a plain assertion on what the runs above left.
check() {
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# -t means threads in every command, before or after the subcommand; the tokenizer is --tokenizer.
expect_ok "threads: tokenize -t 2" tokenize -i "$tmp/ok" --tokenizer "$tmp/tok/tokenizer.json" -o "$tmp/shards_t" -t 2
check "threads: tokenize -t 2 wrote shards" [ -s "$tmp/shards_t/meta.json" ]
expect_ok "threads: tokenizer encode -t 1" tokenizer encode --tokenizer "$tmp/tok/tokenizer.json" -t 1 "$tmp/lines.txt"
expect_user_error "threads: tokenize -t is not the tokenizer" "--tokenizer is required" -- tokenize -i "$tmp/ok" -t 4 -o "$tmp/shards_x"
expect_user_error "threads: train -t abc" "threads" -- train -t abc --out "$tmp/run_x"
expect_ok "threads: train -t 1 after the command" -q train -t 1 --out "$tmp/run_t1" --data "$tmp/shards" --tokenizer \
  "$tmp/tok/tokenizer.json" -T 4 -b 1 --dim 16 --layers 1 --heads 2 --ffn 32 --steps 1 --peak-gflops 10

# generate: a random seed unless -s, printed on stderr so the run can be repeated (not with -q).
"$bin" generate -m "$tmp/run" -n 4 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --ids >"$tmp/g1.out" 2>"$tmp/g1.err"
"$bin" generate -m "$tmp/run" -n 4 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --ids >"$tmp/g2.out" 2>"$tmp/g2.err"
s1=$(sed -n 's/.*seed \([0-9][0-9]*\) (repeat.*/\1/p' "$tmp/g1.err")
s2=$(sed -n 's/.*seed \([0-9][0-9]*\) (repeat.*/\1/p' "$tmp/g2.err")
check "seed: printed (stderr)" [ -n "$s1" -a -n "$s2" ]
check "seed: random by default" [ "$s1" != "$s2" ]
expect_ok "seed: -s repeats a run" -q generate -m "$tmp/run" -n 4 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --ids -s "${s1:-1}"
check "seed: -s gives the printed run's tokens" cmp -s "$tmp/out" "$tmp/g1.out"
check "seed: -q prints nothing" [ ! -s "$tmp/err" ]
"$bin" -q generate -m "$tmp/run" -n 4 --temp 1.5 --ids -s 7 >"$tmp/s7a" 2>/dev/null
"$bin" -q generate -m "$tmp/run" -n 4 --temp 1.5 --ids -s 7 >"$tmp/s7b" 2>/dev/null
check "seed: an explicit seed is deterministic" cmp -s "$tmp/s7a" "$tmp/s7b"

# -c/--ctx-size (generate, serve) and serve -np (= --parallel). The tiny model's context is 4.
expect_user_error "ctx-size: generate above the model's" "--ctx-size: 5: must be in \[1, 4\]" -- generate -m "$tmp/run" -c 5
expect_user_error "ctx-size: generate 0" "--ctx-size: 0: must be in \[1, 4\]" -- generate -m "$tmp/run" -c 0
expect_ok "ctx-size: generate -c 3" -q generate -m "$tmp/run" -c 3 -n 10 --temp 0 --ids
check "ctx-size: generate -c 3 stops at the cache's end" [ "$(wc -w <"$tmp/out")" -le 3 ]
expect_user_error "ctx-size: serve above the model's" "--ctx-size: 9: must be in \[1, 4\]" -- serve -m "$tmp/run" --port 0 -c 9
expect_user_error "serve -np is --parallel" "--parallel: 0 slots" -- serve -m "$tmp/run" --port 0 -np 0
"$bin" -q serve -m "$tmp/run" --port 0 -np 3 -c 2 >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|^listening on http://.*:\([0-9]*\)$|\1|p' "$tmp/serve.out")
  [ -n "$port" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
models=$(curl -s "http://127.0.0.1:${port:-1}/v1/models" 2>/dev/null || true)
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null
check "serve -np 3 -c 2: three slots of 2 tokens" /usr/bin/python3 -c "import json,sys; m=json.loads(sys.argv[1])['data'][0]['meta']; assert m['slots']==3 and m['n_ctx']==2 and m['n_ctx_train']==4, m" "$models"

# Empty inputs are errors, and leave nothing behind.
printf 'ok\nno\n' >"$tmp/short.txt"
expect_user_error "empty: prepare keeps no tweet" "short.txt: no tweets kept \(2 records read, 2 too short\)" -- prepare -i "$tmp/short.txt" -o "$tmp/empty_prep/sub"
check "empty: prepare left no folder" [ ! -e "$tmp/empty_prep" ]
: >"$tmp/empty.txt"
expect_user_error "empty: tokenizer train on nothing" "empty.txt: no text to train on" -- tokenizer train -i "$tmp/empty.txt" -o "$tmp/empty_tok/tokenizer.json" --vocab 300
check "empty: tokenizer train wrote nothing" [ ! -e "$tmp/empty_tok/tokenizer.json" ]

# Output paths are checked before the work.
expect_user_error "output: tokenizer train -o a directory" "ok: is a directory" -- tokenizer train -i "$tmp/ok" -o "$tmp/ok" --vocab 300
expect_user_error "output: tokenizer train -o under a file" "afile: is not a directory" -- tokenizer train -i "$tmp/ok" -o "$tmp/afile/tok.json" --vocab 300
expect_user_error "output: export gguf -o a directory" "hf: is a directory" -- export -m "$tmp/run" -o "$tmp/hf"
expect_user_error "output: export hf -o a file" "model.gguf: exists and is not a directory" -- export -m "$tmp/run" --format hf -o "$tmp/model.gguf"
expect_user_error "output: export hf before loading" "hf: exists and is not empty" -- export -m "$tmp/nope" --format hf -o "$tmp/hf"

# A --tokenizer of another size than the model's is refused in one line.
expect_ok "mismatch: a smaller tokenizer" -q tokenizer train -i "$tmp/ok" -o "$tmp/tok2/tokenizer.json" --vocab 300 --min-frequency 1 --special "<|endoftext|>"
expect_user_error "mismatch: generate" "tok2/tokenizer.json: [0-9]+ tokens, but the model was trained with a tokenizer of [0-9]+" -- generate -m "$tmp/run" --tokenizer "$tmp/tok2/tokenizer.json" -n 2
expect_user_error "mismatch: serve" "tok2/tokenizer.json: [0-9]+ tokens, but the model was trained with" -- serve -m "$tmp/run" --port 0 --tokenizer "$tmp/tok2/tokenizer.json"
expect_user_error "mismatch: export" "tok2/tokenizer.json: [0-9]+ tokens, but the model was trained with" -- export -m "$tmp/run" -o "$tmp/mm.gguf" --tokenizer "$tmp/tok2/tokenizer.json"
expect_user_error "mismatch: generate from gguf" "tok2/tokenizer.json: [0-9]+ tokens, but the model was trained with" -- generate -m "$tmp/model.gguf" --tokenizer "$tmp/tok2/tokenizer.json" -n 2
expect_ok "mismatch: the model's own tokenizer passes" -q generate -m "$tmp/run" --tokenizer "$tmp/tok/tokenizer.json" -n 2 --temp 0

# Unknown commands name the typo and the nearest command; parser errors are one line too.
expect_user_error "typo: trian" "trian: unknown command \(did you mean 'train'\?\)$" -- trian
expect_user_error "typo: after global options" "trian: unknown command \(did you mean 'train'\?\)" -- -q -t 2 trian --steps 1
expect_user_error "typo: tokenizer encdoe" "tokenizer encdoe: unknown command \(did you mean 'encode'\?\)" -- tokenizer encdoe
expect_user_error "typo: nothing near" "xyzzyq: unknown command \(commands: prepare, " -- xyzzyq
expect_user_error "parser: unknown option" "--bogus: unknown option" -- generate -m "$tmp/run" --bogus
expect_user_error "parser: a value that is no number" "--n-predict" -- generate -m "$tmp/run" -n many

# --json prints JSON to stdout everywhere; files are --json-out.
expect_ok "json: plan --json" plan --model 7b --tokens 2T --gpus 8 --json
check "json: plan --json is JSON on stdout" /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['model']['params']==6738415616, j" "$tmp/out"
check "json: no command takes --json FILE" /bin/sh -c "! grep -n 'add_option(\"--json\"' '$root'/src/cli/*.cpp"

# Progress (rate, ETA) for eval ppl, export and generate -f; -q hides it.
expect_ok "progress: eval ppl" eval ppl -m "$tmp/run" --data "$tmp/shards" --split train
check "progress: eval ppl line" grep -Eq "^eval ppl .*(/s|ETA)" "$tmp/err"
expect_ok "progress: export" export -m "$tmp/run" -o "$tmp/p.gguf"
check "progress: export line" grep -Eq "^export gguf .*(/s|ETA)" "$tmp/err"
expect_ok "progress: generate -f" generate -m "$tmp/run" -f "$tmp/prompts.txt" -n 2 --temp 0
check "progress: generate -f line" grep -Eq "^generate  3 / 3 .*/s" "$tmp/err"
expect_ok "progress: -q hides it" -q eval ppl -m "$tmp/run" --data "$tmp/shards" --split train
check "progress: -q stderr empty" [ ! -s "$tmp/err" ]

# The HF export directory gets mkdir's permissions (0777 & ~umask), not mkdtemp's 0700.
(umask 022 && "$bin" -q export -m "$tmp/run" --format hf -o "$tmp/hf_mode") >/dev/null 2>&1
check "hf export directory is 755 under umask 022" [ "$(stat -c %a "$tmp/hf_mode" 2>/dev/null)" = 755 ]

# The quick start builds the program only (scripts/test.sh builds everything).
check "quickstart builds only tweetlm" grep -q '^TLM_BUILD_TARGETS=tweetlm scripts/build.sh$' "$root/scripts/quickstart.sh"
check "build.sh builds TLM_BUILD_TARGETS" grep -q 'ninja -C build ${TLM_BUILD_TARGETS:-}' "$root/scripts/build.sh"
check "test.sh builds everything" grep -q '^scripts/build.sh$' "$root/scripts/test.sh"

echo "cli_contract: $fails failure(s)"
[ "$fails" -eq 0 ]
