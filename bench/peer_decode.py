"""The PyTorch peer of bench/serve: batch-1 prefill and greedy decode of a Llama with a KV cache in
eager PyTorch (no torch.compile), the way a plain `model(x, past_key_values)` loop runs. Shapes are
the benchmark model's (full multi-head attention, SwiGLU MLP, RMSNorm, RoPE, untied LM head);
weights are random (the timing does not depend on their values). Prints one JSON line with
prefill and decode tokens/s, best of --repeat runs.

Run by /usr/bin/python3 (Debian python3-torch):
  peer_decode.py --V .. --T .. --C .. --L .. --H .. --F .. [--B 1] --prompt-file IDS.json
                 --decode N [--threads 2] [--dtype fp32|bf16] [--repeat 3]
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


class Model:
    def __init__(self, V, T, C, L, H, Fd, dtype):
        g = torch.Generator().manual_seed(0)

        def w(*shape):
            return (torch.randn(*shape, generator=g) * 0.02).to(dtype)

        self.V, self.T, self.C, self.L, self.H, self.D = V, T, C, L, H, C // H
        self.embed = w(V, C)
        self.layers = [dict(attn_norm=torch.ones(C, dtype=dtype), wqkv=w(3 * C, C), wo=w(C, C),
                            mlp_norm=torch.ones(C, dtype=dtype), wgateup=w(2 * Fd, C), wdown=w(C, Fd))
                       for _ in range(L)]
        self.norm = torch.ones(C, dtype=dtype)
        self.lm_head = w(V, C)
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.D, 2, dtype=torch.float32) / self.D))
        ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        self.cos, self.sin = ang.cos().to(dtype), ang.sin().to(dtype)
        # KV cache [L][2] of [1, H, T, D], filled up to self.len.
        self.k = [torch.zeros(1, H, T, self.D, dtype=dtype) for _ in range(L)]
        self.v = [torch.zeros(1, H, T, self.D, dtype=dtype) for _ in range(L)]
        self.len = 0

    @staticmethod
    def rmsnorm(x, w, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(self, x, pos):  # x [1, H, n, D], rotate pairs (HF rotate_half convention)
        cos, sin = self.cos[pos][None, None], self.sin[pos][None, None]
        x1, x2 = x[..., : self.D // 2], x[..., self.D // 2:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def forward(self, ids):
        """ids [n] appended at positions len..len+n-1; returns the logits of the last one."""
        n, H, D, p0 = ids.shape[0], self.H, self.D, self.len
        pos = torch.arange(p0, p0 + n)
        x = self.embed[ids][None]  # [1, n, C]
        for l, lw in enumerate(self.layers):
            h = self.rmsnorm(x, lw["attn_norm"])
            q, k, v = F.linear(h, lw["wqkv"]).split(self.C, dim=-1)
            q = self.rope(q.view(1, n, H, D).transpose(1, 2), pos)
            k = self.rope(k.view(1, n, H, D).transpose(1, 2), pos)
            self.k[l][:, :, p0:p0 + n] = k
            self.v[l][:, :, p0:p0 + n] = v.view(1, n, H, D).transpose(1, 2)
            kk, vv = self.k[l][:, :, :p0 + n], self.v[l][:, :, :p0 + n]
            # Plain softmax attention (Debian's torch 1.13 has no scaled_dot_product_attention);
            # causal over the new rows, a single decoded row sees the whole cache.
            s = (q @ kk.transpose(-1, -2)) * (1.0 / math.sqrt(D))
            if n > 1:
                s = s.masked_fill(~torch.ones(n, p0 + n, dtype=torch.bool).tril(p0), float("-inf"))
            a = torch.softmax(s, dim=-1) @ vv
            x = x + F.linear(a.transpose(1, 2).reshape(1, n, self.C), lw["wo"])
            gate, up = F.linear(self.rmsnorm(x, lw["mlp_norm"]), lw["wgateup"]).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, lw["wdown"])
        self.len += n
        return F.linear(self.rmsnorm(x[:, -1], self.norm), self.lm_head)[0]


def main():
    ap = argparse.ArgumentParser()
    for k in ("V", "T", "C", "L", "H", "F"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--B", type=int, default=1, help="ignored: batch 1 (accepted for bench_model.h)")
    ap.add_argument("--prompt-file", required=True, help="JSON array of token ids")
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    prompt = torch.tensor(json.load(open(a.prompt_file)), dtype=torch.long)
    if prompt.numel() + a.decode > a.T:
        raise SystemExit(f"prompt {prompt.numel()} + decode {a.decode} > context {a.T}")
    m = Model(a.V, a.T, a.C, a.L, a.H, a.F, dtype)
    best_prefill = best_decode = 0.0
    with torch.inference_mode():
        for r in range(a.repeat + 1):  # run 0 warms up (allocator, oneDNN kernels)
            m.len = 0
            t0 = time.perf_counter()
            logits = m.forward(prompt)
            t1 = time.perf_counter()
            tok = int(prompt[-1])
            t2 = time.perf_counter()
            for _ in range(a.decode):
                logits = m.forward(torch.tensor([tok]))
                tok = int(torch.argmax(logits))
            t3 = time.perf_counter()
            if r == 0:
                continue
            best_prefill = max(best_prefill, prompt.numel() / (t1 - t0))
            best_decode = max(best_decode, a.decode / (t3 - t2))
    print(json.dumps({"torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
                      "dtype": a.dtype, "prefill_tokens": prompt.numel(), "prefill_tokens_per_s": best_prefill,
                      "decode_tokens": a.decode, "decode_tokens_per_s": best_decode,
                      "last_token": tok, "finite": bool(math.isfinite(float(logits.float().sum())))}))


if __name__ == "__main__":
    main()
