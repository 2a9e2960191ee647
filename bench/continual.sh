#!/usr/bin/env bash
# Continued pre-training on new tweets, measured (issue 17 §2): does a model stay current
# without forgetting, at a fraction of a re-train's compute?
#   corpus 1 (old): the Debian fortune files (short texts, like tweets);
#   corpus 2 (new): the TweetEval train tweets of every task (a real shift: 2010s Twitter).
# Four runs of one small Llama, one tokenizer (trained on corpus 1, as a model that predates the
# new data has):
#   base      on corpus 1                                         BASE_STEPS
#   update    --init-from base on corpus 2 (re-warm, re-decay)    UPDATE_STEPS
#   replay    the same with --replay corpus1:REPLAY               UPDATE_STEPS
#   scratch   from scratch on corpus 1 + 2                        SCRATCH_STEPS
# and one table of held-out (val) perplexity on both corpora, with each run's training tokens.
# Goals: with replay, corpus-1 perplexity rises <= 2% over the base, and corpus-2 perplexity
# ends within 2% of the scratch model's, with UPDATE_STEPS <= 40% of SCRATCH_STEPS.
#   bench/continual.sh [OUT]        # default out/continual; env: CORPORA (fortunes | topics)
#                                   # BASE_STEPS UPDATE_STEPS SCRATCH_STEPS REPLAY LR TLM_TWEETEVAL
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/continual}
base_steps=${BASE_STEPS:-600}
update_steps=${UPDATE_STEPS:-800}
scratch_steps=${SCRATCH_STEPS:-2000}
replay=${REPLAY:-0.25}
lr=${LR:-2e-3}
data=${TLM_TWEETEVAL:-../shared/data/tweeteval}
fortunes=${FORTUNES:-/usr/share/games/fortunes}
bin=build/src/tweetlm
[ -d "$data" ] || { echo "continual.sh: $data is missing (set TLM_TWEETEVAL)" >&2; exit 2; }
[ "${CORPORA:-fortunes}" != fortunes ] || [ -d "$fortunes" ] || { echo "continual.sh: $fortunes is missing (apt install fortunes)" >&2; exit 2; }
mkdir -p "$out"

# The corpora: val splits are held out of every run; no TweetEval test text is read.
# CORPORA=fortunes (default): corpus 1 the fortune files, corpus 2 every TweetEval task's train
# tweets. CORPORA=topics: both from Twitter, split by topic: corpus 1 the emoji task's tweets
# (everyday tweets), corpus 2 the emotion, hate, irony, offensive and stance tasks' tweets.
case ${CORPORA:-fortunes} in
  fortunes)
    c1_inputs=("$fortunes"); c1_format=auto
    mapfile -t c2_inputs < <(find "$data" -name 'train_text.txt' | sort) ;;
  topics)
    c1_inputs=("$data/emoji/train_text.txt"); c1_format=text
    mapfile -t c2_inputs < <(find "$data" -name 'train_text.txt' -not -path '*/emoji/*' | sort) ;;
  *) echo "continual.sh: CORPORA must be fortunes or topics" >&2; exit 2 ;;
esac
[ -f "$out/c1/report.json" ] || $bin -q prepare -i "${c1_inputs[@]}" --format "$c1_format" -o "$out/c1" --split 0.95,0.05,0
[ -f "$out/c2/report.json" ] || $bin -q prepare -i "${c2_inputs[@]}" --format text -o "$out/c2" --split 0.95,0.05,0
if [ ! -f "$out/c12/train.jsonl" ]; then  # corpus 1 + 2 with the same splits
  mkdir -p "$out/c12"
  for s in train val; do cat "$out/c1/$s.jsonl" "$out/c2/$s.jsonl" >"$out/c12/$s.jsonl"; done
fi
[ -f "$out/tokenizer.json" ] || $bin -q tokenizer train -i "$out/c1" -o "$out/tokenizer.json" --vocab 2048
for c in c1 c2 c12; do
  [ -f "$out/$c.shards/meta.json" ] || $bin -q tokenize -i "$out/$c" --tokenizer "$out/tokenizer.json" -o "$out/$c.shards"
done

common=(-T 64 -b 16 --eval-every 0 --save-every 0 --log-every 100 --sample-every 0 --lr "$lr" --resume)
model=(--dim 192 --layers 4 --heads 4)
$bin train --data "$out/c1.shards" --tokenizer "$out/tokenizer.json" --out "$out/base" "${model[@]}" \
  --steps "$base_steps" "${common[@]}"
$bin train --data "$out/c2.shards" --init-from "$out/base" --out "$out/update" --steps "$update_steps" "${common[@]}"
$bin train --data "$out/c2.shards" --init-from "$out/base" --out "$out/replay" --steps "$update_steps" \
  --replay "$out/c1.shards:$replay" "${common[@]}"
$bin train --data "$out/c12.shards" --tokenizer "$out/tokenizer.json" --out "$out/scratch" "${model[@]}" \
  --steps "$scratch_steps" "${common[@]}"

for run in base update replay scratch; do
  $bin -q eval ppl -m "$out/$run" --data "$out/c1.shards" --data "$out/c2.shards" --split val --json >"$out/$run.ppl.jsonl"
done

/usr/bin/python3 - "$out" "$base_steps" "$update_steps" "$scratch_steps" "$replay" <<'EOF'
import json, os, platform, sys
out, base, update, scratch, replay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
tokens_per_step = 64 * 16
def ppl(run):
    rows = [json.loads(l) for l in open(os.path.join(out, run + ".ppl.jsonl"))]
    return rows[0]["perplexity"], rows[1]["perplexity"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
runs = [("base (corpus 1)", "base", base), ("update on corpus 2", "update", update),
        (f"update + replay {replay}", "replay", update), ("scratch on 1 + 2", "scratch", scratch)]
res = {name: dict(zip(("c1_ppl", "c2_ppl"), ppl(run)), steps=steps, tokens=steps * tokens_per_step) for name, run, steps in runs}
print(f"continual pre-training ({os.environ.get('CORPORA', 'fortunes')}), {cpu}, {os.cpu_count()} threads; val perplexity (lower is better)")
print(f"{'model':<24} {'corpus 1 ppl':>12} {'corpus 2 ppl':>12} {'train tokens':>13}")
for name, r in res.items():
    print(f"{name:<24} {r['c1_ppl']:>12.3f} {r['c2_ppl']:>12.3f} {r['tokens']:>13,}")
b, rp, sc = res["base (corpus 1)"], res[f"update + replay {replay}"], res["scratch on 1 + 2"]
goals = {
    "corpus-1 rise with replay (goal <= 2%)": rp["c1_ppl"] / b["c1_ppl"] - 1,
    "corpus-2 gap to scratch with replay (goal <= 2%)": rp["c2_ppl"] / sc["c2_ppl"] - 1,
    "update compute / scratch compute (goal <= 40%)": rp["tokens"] / sc["tokens"],
}
for k, v in goals.items():
    print(f"{k}: {100 * v:+.1f}%")
json.dump({"cpu": cpu, "corpora": os.environ.get("CORPORA", "fortunes"), "runs": res, "goals": goals}, open(os.path.join(out, "continual.json"), "w"), indent=2)
EOF
