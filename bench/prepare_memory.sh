#!/usr/bin/env bash
# Peak memory of `tweetlm prepare` on 10 million distinct tweets (the issue's bound: < 2 GB),
# with exact and near-duplicate removal on, so both de-duplication sets hold every tweet.
# Prints a table and writes JSON.
#   bench/prepare_memory.sh [TWEETS] [--json FILE]     (default 10000000, prepare_memory.json)
# Inputs are synthetic: random 8-16 word sequences over a 50k-word vocabulary (awk, fixed seed),
# so almost nothing is a duplicate or near-duplicate and the sets reach full size.
set -euo pipefail
cd "$(dirname "$0")/.."
n=10000000
json=prepare_memory.json
while [ $# -gt 0 ]; do
  case $1 in
    --json) json=$2; shift 2 ;;
    *) n=$1; shift ;;
  esac
done
bin=build/src/tweetlm
[ -x "$bin" ] || { echo "prepare_memory: build first (scripts/build.sh)" >&2; exit 1; }
dir=${TMPDIR:-/tmp}/tweetlm-bench
mkdir -p "$dir"
input=$dir/distinct-$n.txt
if [ ! -s "$input" ]; then
  echo "generating $n tweets -> $input"
  awk -v n="$n" 'BEGIN { srand(1); for (i = 0; i < n; i++) { k = 8 + int(rand() * 9); s = "w" int(rand() * 50000);
    for (j = 1; j < k; j++) s = s " w" int(rand() * 50000); print s } }' >"$input"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/time -f "%M %e" -o "$out/time" "$bin" -q prepare -i "$input" -o "$out/corpus" --near-dup 0.8 --format text >/dev/null
read -r rss_kb seconds <"$out/time"
/usr/bin/python3 - "$out/corpus/report.json" "$rss_kb" "$seconds" "$n" "$json" <<'PY'
import json, sys
rep, rss_kb, secs, n, path = json.load(open(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
peak_mb = rss_kb / 1024
rows = {"tweets_read": rep["records"], "kept": rep["kept"], "near_duplicates": rep["dropped"]["near_duplicate"],
        "duplicates": rep["dropped"]["duplicate"], "dedup_sets_mb": rep["dedup_memory_bytes"] / 2**20,
        "peak_rss_mb": peak_mb, "seconds": secs, "budget_mb": 2048, "pass": peak_mb < 2048}
print("| tweets | kept | dedup sets (MB) | peak RSS (MB) | budget (MB) | seconds |")
print("| ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| {rows['tweets_read']} | {rows['kept']} | {rows['dedup_sets_mb']:.0f} | {peak_mb:.0f} | 2048 | {secs:.1f} |")
print(("PASS" if rows["pass"] else "FAIL") + f": peak {peak_mb:.0f} MB for {n} tweets with --near-dup 0.8 (bound: 2 GB)")
json.dump(rows, open(path, "w"), indent=2)
print("results:", path)
PY
