"""The PyTorch peer of bench/train_cpu: what a PyTorch user gets training this Llama eagerly on
the CPU. Prints one JSON line with tokens/s.

The model is a plain nn.Module Llama (RMSNorm and RoPE from bench/peer_common.py), written the
way a user writes it (nanoGPT / Hugging Face style): nn.Embedding, L blocks of [x + o(attention(rope(q), rope(k), v))
on RMSNorm(x); x + down(silu(gate) * up) on RMSNorm(x)], final RMSNorm, untied nn.Linear head,
no biases; qkv and gate/up as one nn.Linear each (one larger GEMM instead of three/two, as
nanoGPT and bench/peer_train_cuda.py do). RoPE is rotate-half with cos/sin precomputed once
(buffers [T, D]). Attention is causal softmax(Q K^T / sqrt(D) + mask) V with the scale and the
additive mask folded into one torch.baddbmm, then a plain softmax and a bmm: the fastest attention
torch 1.13 has on the CPU (it has no F.scaled_dot_product_attention; a torch that has it uses it).
The softmax runs in the scores' dtype: fp32, or bf16 under autocast, as nanoGPT's would.

The step is the one train_cpu times for ours: forward, loss, backward,
torch.nn.utils.clip_grad_norm_(params, 1.0), torch.optim.AdamW(foreach=True) (fused AdamW is
CUDA-only in torch 1.x), zero_grad(set_to_none=True); one .item() per step (the loss), no float64.
Batches are random tokens, one document per sequence (train_cpu's carry no end-of-text either),
so causal attention is the same work as ours. Weights are drawn in the order and with the seed
of tools/torch/llama_torch.py (fused rows = q, k, v and gate, up), so for the same tokens the
two give the same losses.

--autocast runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (bf16
matmuls through oneDNN, fp32 weights, gradients and AdamW; logits cast to fp32 for the loss),
the peer of our --dtype bf16.

Why not tools/torch/llama_torch.py, which this script used to train: a correctness reference is
not a speed peer. That file is written to match our arithmetic op by op and to read any config
(per-token positions and document masks built in every forward, a [B,1,T,T] boolean mask,
scores divided and then masked in separate passes over [B,H,T,T], separate q/k/v and gate/up
GEMMs, under autocast RoPE promoted back to fp32 by fp32 cos/sin, AdamW's for-loop
implementation, and the benchmark built a fresh optimizer for the timed steps). It must stay
that way for the tests; the speed peer must instead be the fastest thing a PyTorch user plainly
writes, and must not change speed when the reference changes for correctness. (On this machine
the two run at the same speed within noise; the 148 tokens/s of issue 16 was machine load, see
docs/training.md, "The PyTorch peers".)

Interface (unchanged; bench/bench_model.h run_peer_script, bench/train_cpu.cpp run_peer):
  peer_train.py --V .. --T .. --C .. --L .. --H .. --F .. --B .. [--steps 5] [--warmup 3]
                [--threads 2] [--autocast]
JSON keys: torch, threads, dtype, tokens_per_s, ms_per_step (what train_cpu reads), warmup (the
untimed steps run: --warmup, at least 3), first_loss (step 0), last_loss, attention.
Run by /usr/bin/python3 (Debian python3-torch)."""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from peer_common import HAVE_SDPA, RMSNorm, rotate_half, BlockLayers, register_rope_and_mask  # bench/peer_common.py, beside this script
MIN_WARMUP = 3


class Block(BlockLayers):
    def __init__(self, C, H, Fdim):
        super().__init__(C, H, Fdim)

    def attention(self, q, k, v, mask):
        """q, k, v [B, H, T, D] -> [B, H, T, D], causal."""
        B, H, T, D = q.shape
        if HAVE_SDPA:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        q, k, v = q.reshape(B * H, T, D), k.reshape(B * H, T, D), v.reshape(B * H, T, D)
        s = torch.baddbmm(mask, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(D))  # mask + scale * q k^T
        return torch.bmm(torch.softmax(s, dim=-1), v).view(B, H, T, D)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(B, T, 3, self.H, self.D).permute(2, 0, 3, 1, 4)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        y = self.attention(q, k, v, mask)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, C))
        return self.mlp(x)


class Llama(nn.Module):
    def __init__(self, V, T, C, L, H, Fdim, theta=10000.0):
        super().__init__()
        self.embed = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(Block(C, H, Fdim) for _ in range(L))
        self.norm = RMSNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        register_rope_and_mask(self, T, C // H, theta)

    def forward(self, tokens, targets):
        T = tokens.shape[1]
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    for k in ("V", "T", "C", "L", "H", "F", "B"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=MIN_WARMUP, help="untimed steps first (at least 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--autocast", action="store_true", help="bf16 autocast (CPU mixed precision)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
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
    # Weight decay on the matrices but not the embedding or the norms (ours: ParamLayout::decay).
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("embed.")]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith("embed."))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    params = list(model.parameters())

    def step(tokens, targets):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            loss = model(tokens, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    # Fresh random tokens for every step (never 0, the end-of-text of ours), targets = next token.
    # At least MIN_WARMUP untimed steps: eager PyTorch is not in its steady state after two (glibc
    # malloc is still mapping fresh pages, ~1.3 GB of page faults in step 0, ~0.7 GB in step 1,
    # ~0.3 GB from step 3 on; bf16 forward 3.3 s, 2.3 s, 1.25 s, then 1.1 s a step, 1 thread), and
    # a user's training run lives in the steady state. More warmup only helps the peer.
    warmup = max(a.warmup, MIN_WARMUP)
    data = torch.randint(1, a.V, (warmup + a.steps, a.B, a.T + 1))
    losses = [step(data[i, :, :-1], data[i, :, 1:]) for i in range(warmup)]
    t0 = time.perf_counter()
    for i in range(warmup, warmup + a.steps):
        losses.append(step(data[i, :, :-1], data[i, :, 1:]))
    dt = time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
                      "dtype": "bf16 autocast" if a.autocast else "fp32",
                      "tokens_per_s": a.B * a.T * a.steps / dt, "ms_per_step": 1e3 * dt / a.steps,
                      "warmup": warmup, "first_loss": losses[0], "last_loss": losses[-1],
                      "attention": "scaled_dot_product_attention" if HAVE_SDPA else "baddbmm + softmax + bmm"}))


if __name__ == "__main__":
    main()
