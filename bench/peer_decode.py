"""The PyTorch peer of bench/serve: batch-1 prefill and greedy decode of a Llama with a KV cache in
eager PyTorch (no torch.compile), what a user gets from a plain nn.Module and a
`logits = model(ids); next = argmax(logits)` loop under torch.inference_mode().

The model is written here (RMSNorm and RoPE from bench/peer_common.py) as a user writes it: nn.Embedding, L blocks of
[x + o(attention(rope(q), rope(k), v)) on RMSNorm(x); x + down(silu(gate) * up) on RMSNorm(x)],
final RMSNorm, untied nn.Linear head, no biases, qkv and gate/up as one nn.Linear each; RoPE
rotate-half with cos/sin precomputed once. The KV cache is preallocated per layer, [1, H, T, D]
(Hugging Face's StaticCache; no torch.cat per token), and the new rows are written in place.
Attention is causal softmax(Q K^T / sqrt(D) + mask) V: F.scaled_dot_product_attention where the
installed torch has it, else one torch.baddbmm (scale and additive mask folded in) + softmax in
fp32 + bmm (torch 1.13, Debian's, has no SDPA); a decoded row sees the whole cache, so decode
steps need no mask. The greedy loop feeds the argmax tensor straight back and keeps one .item()
per token (the token id, as a generate loop checks for end-of-text); prefill returns only the
last row's logits (as HF's generate does with logits_to_keep=1). Shapes are the benchmark model's;
weights are random (the timing does not depend on their values). --dtype bf16 holds the weights
in bf16 (model.to(torch.bfloat16): oneDNN bf16 matmuls), fp32 is the default bench/serve runs.
Prints one JSON line with prefill and decode tokens/s, best of --repeat runs.

On Debian's torch 1.13 a one-token nn.Linear is an OpenBLAS sgemm with M = 1, which packs the
whole weight matrix (5x slower than torch.mv on the same weights); that is what a user gets
here and it bounds fp32 decode (~90 tokens/s, 2 threads, idle; see docs/training.md, "The
PyTorch peers").

Run by /usr/bin/python3 (Debian python3-torch):
  peer_decode.py --V .. --T .. --C .. --L .. --H .. --F .. [--B 1] --prompt-file IDS.json
                 --decode N [--threads 2] [--dtype fp32|bf16] [--repeat 3]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_common import HAVE_SDPA, RMSNorm, rotate_half, BlockLayers, register_rope_and_mask  # bench/peer_common.py, beside this script


class Block(BlockLayers):
    def __init__(self, C, H, Fdim, T):
        super().__init__(C, H, Fdim)
        self.register_buffer("k_cache", torch.zeros(1, H, T, self.D), persistent=False)
        self.register_buffer("v_cache", torch.zeros(1, H, T, self.D), persistent=False)

    def forward(self, x, p0, cos, sin, mask):
        """x [1, n, C] at positions p0..p0+n-1; cos, sin [n, D]; mask [n, p0+n] or None."""
        _, n, C = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(1, n, 3, self.H, self.D).permute(2, 0, 3, 1, 4)
        q = q * cos + rotate_half(q) * sin
        self.k_cache[:, :, p0:p0 + n] = k * cos + rotate_half(k) * sin
        self.v_cache[:, :, p0:p0 + n] = v
        k, v = self.k_cache[:, :, :p0 + n], self.v_cache[:, :, :p0 + n]
        if HAVE_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.dtype))
        else:
            H, D, S = self.H, self.D, p0 + n
            q = q.reshape(H, n, D)
            kt = k.reshape(H, S, D).transpose(1, 2)
            if mask is None:
                s = torch.bmm(q, kt).mul_(1.0 / math.sqrt(D))
            else:
                s = torch.baddbmm(mask.to(q.dtype), q, kt, alpha=1.0 / math.sqrt(D))
            y = torch.bmm(torch.softmax(s, dim=-1, dtype=torch.float32).to(v.dtype), v.reshape(H, S, D))
        x = x + self.o(y.view(1, self.H, n, self.D).transpose(1, 2).reshape(1, n, C))
        return self.mlp(x)


class Llama(nn.Module):
    def __init__(self, V, T, C, L, H, Fdim, theta=10000.0):
        super().__init__()
        self.embed = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(Block(C, H, Fdim, T) for _ in range(L))
        self.norm = RMSNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        register_rope_and_mask(self, T, C // H, theta)

    def forward(self, ids, p0):
        """ids [1, n] at positions p0..p0+n-1 (the cache holds 0..p0-1); logits [1, V] of the last."""
        n = ids.shape[1]
        cos, sin = self.cos[p0:p0 + n], self.sin[p0:p0 + n]
        mask = self.mask[p0:p0 + n, :p0 + n] if n > 1 else None
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, p0, cos, sin, mask)
        return self.head(self.norm(x[:, -1]))


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
    torch.manual_seed(0)
    with open(a.prompt_file) as f:
        prompt = torch.tensor(json.load(f), dtype=torch.long)[None]  # [1, n]
    n = prompt.shape[1]
    if n + a.decode > a.T:
        raise SystemExit(f"prompt {n} + decode {a.decode} > context {a.T}")
    model = Llama(a.V, a.T, a.C, a.L, a.H, a.F)
    # Weights N(0, 0.02), norms 1, set through weight-sized temporaries as loading a checkpoint
    # does. This matters: glibc's malloc serves a request from its heap (no fresh pages) only up
    # to the largest mapped chunk freed so far and trims the heap past twice that; a real process
    # has freed checkpoint-sized buffers by now, a script that only allocated has not, and then
    # maps and faults in fresh pages for every activation (prefill 850-1050 against 1350-1465
    # tokens per CPU-second here, 1 thread). Same values as p.normal_(0.0, 0.02) in place.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.copy_(torch.empty_like(p).normal_(0.0, 0.02))
    model = model.to(torch.float32 if a.dtype == "fp32" else torch.bfloat16).eval()
    best_prefill = best_decode = 0.0
    with torch.inference_mode():
        for r in range(a.repeat + 1):  # run 0 warms up (allocator, oneDNN kernels)
            t0 = time.perf_counter()
            logits = model(prompt, 0)
            t1 = time.perf_counter()
            # Greedy decode: the first decoded token is fed the prompt's last (as before, the
            # timing is the same whichever id it is), then each argmax goes straight back in.
            ids, pos, tok = prompt[:, -1:], n, 0
            t2 = time.perf_counter()
            for _ in range(a.decode):
                logits = model(ids, pos)
                ids = logits.argmax(-1, keepdim=True)  # [1, 1]
                tok = ids.item()
                pos += 1
            t3 = time.perf_counter()
            if r == 0:
                continue
            best_prefill = max(best_prefill, n / (t1 - t0))
            best_decode = max(best_decode, a.decode / (t3 - t2))
    print(json.dumps({"torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
                      "dtype": a.dtype, "prefill_tokens": n, "prefill_tokens_per_s": best_prefill,
                      "decode_tokens": a.decode, "decode_tokens_per_s": best_decode,
                      "last_token": tok, "finite": bool(math.isfinite(float(logits.float().sum()))),
                      "attention": "scaled_dot_product_attention" if HAVE_SDPA else "baddbmm + softmax + bmm"}))


if __name__ == "__main__":
    main()
