#!/usr/bin/env bash
# Multi-node training without a cluster: two "hosts" on this machine, network namespaces joined
# by a veth pair (10.231.x.1 and .2). mpirun runs in the first; it starts the rank on the second
# host through an rsh agent that enters that namespace (where ssh would log in), and the ranks
# talk over TCP only (no shared memory). The run must match the same job on one host (-np 2).
#
#   netns_mpirun.sh TWEETLM_BINARY
#
# Needs root and permission to create network namespaces (CI runs as root); elsewhere it says
# why and exits 77 (ctest: skipped).
set -euo pipefail
bin=$(readlink -f "$1")
[ "$(id -u)" -eq 0 ] || { echo "netns_mpirun: skipped: needs root (ip netns)"; exit 77; }
command -v mpirun >/dev/null || { echo "netns_mpirun: FAIL: mpirun not found: install openmpi-bin (scripts/setup.sh)"; exit 1; }
command -v ip >/dev/null || { echo "netns_mpirun: FAIL: ip not found: install iproute2"; exit 1; }

id=$$
net=$((id % 200 + 20))          # 10.231.<net>.0/24, one per concurrent run
ns1=tlm-a-$id ns2=tlm-b-$id v1=tlma$id v2=tlmb$id
h1=10.231.$net.1 h2=10.231.$net.2
tmp=$(mktemp -d)
cleanup() {
  ip netns del "$ns1" 2>/dev/null || true
  ip netns del "$ns2" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! ip netns add "$ns1" 2>"$tmp/err"; then
  echo "netns_mpirun: skipped: cannot create network namespaces here: $(cat "$tmp/err")"
  exit 77
fi
ip netns add "$ns2"
ip link add "$v1" type veth peer name "$v2"
ip link set "$v1" netns "$ns1"
ip link set "$v2" netns "$ns2"
ip -n "$ns1" addr add "$h1/24" dev "$v1"
ip -n "$ns2" addr add "$h2/24" dev "$v2"
for n in "$ns1" "$ns2"; do ip -n "$n" link set lo up; done
ip -n "$ns1" link set "$v1" up
ip -n "$ns2" link set "$v2" up

# The rsh agent: "agent HOST COMMAND..." runs COMMAND in HOST's namespace.
cat >"$tmp/agent.sh" <<EOF
#!/bin/sh
host=\$1; shift
case "\$host" in $h1) ns=$ns1 ;; $h2) ns=$ns2 ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$tmp/agent.sh"

# A small synthetic corpus, tokenizer and shards.
mkdir -p "$tmp/prep"
awk 'BEGIN { srand(7); split("the cat sat on a mat happy day for coffee rain sun we love new music game tonight so good", w, " ");
  for (i = 0; i < 500; i++) { n = 3 + int(rand() * 10); s = ""; for (k = 0; k < n; k++) s = s (k ? " " : "") w[1 + int(rand() * 20)];
    printf "{\"id\": \"%d\", \"text\": \"%s\"}\n", i, s > (i % 10 == 0 ? "'"$tmp"'/prep/val.jsonl" : "'"$tmp"'/prep/train.jsonl") } }'
"$bin" -q tokenizer train -i "$tmp/prep" -o "$tmp/tok.json" --vocab 300 --min-frequency 1 >/dev/null
"$bin" -q tokenize -i "$tmp/prep" --tokenizer "$tmp/tok.json" -o "$tmp/shards" >/dev/null
args=(-q -t 1 train --data "$tmp/shards" --tokenizer "$tmp/tok.json" --model tiny -T 32 -b 2 --steps 6 --eval-every 3
      --sample-every 0 --peak-gflops 100)

common=(--allow-run-as-root --oversubscribe -np 2 -x LSAN_OPTIONS=detect_leaks=0
        --mca btl_vader_single_copy_mechanism none)
mpirun "${common[@]}" "$bin" "${args[@]}" --out "$tmp/local" >"$tmp/local.log" 2>&1 ||
  { echo "netns_mpirun: FAIL: the one-host run failed:"; cat "$tmp/local.log"; exit 1; }
if ! timeout 120 ip netns exec "$ns1" mpirun "${common[@]}" --host "$h1:1,$h2:1" \
    --mca plm_rsh_agent "$tmp/agent.sh" --mca btl tcp,self \
    --mca btl_tcp_if_include "10.231.$net.0/24" --mca oob_tcp_if_include "10.231.$net.0/24" \
    "$bin" "${args[@]}" --out "$tmp/twohosts" >"$tmp/two.log" 2>&1; then
  echo "netns_mpirun: FAIL: the two-host run failed:"; cat "$tmp/two.log"; exit 1
fi

# Same losses and gradient norms, step by step (TCP instead of shared memory changes the
# transport, not the reduction: measured identical; bound 1e-6 relative).
/usr/bin/python3 - "$tmp/local/metrics.jsonl" "$tmp/twohosts/metrics.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
steps = [r for r in a if "loss" in r]
assert len(steps) == 6 and len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for k in ("loss", "grad_norm", "val_loss"):
        if k in x:
            assert abs(x[k] - y[k]) <= 1e-6 * abs(x[k]), (k, x, y)
print("netns_mpirun: ok: 2 hosts over TCP match 1 host, %d steps, final loss %.4f" % (len(steps), steps[-1]["loss"]))
PY
