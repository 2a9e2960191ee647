"""The PyTorch peer of bench/train_cuda: the same Llama (RMSNorm, RoPE "rotate half", fused
qkv and gate/up projections, SwiGLU, untied head, no biases) trained in bf16 autocast on a CUDA
GPU, with attention through F.scaled_dot_product_attention (FlashAttention kernels; causal, one
document per sequence like our benchmark batches), the whole step compiled with torch.compile,
and fused AdamW with fp32 master weights. Prints one JSON line with tokens/s.

This is the strongest plain-PyTorch setup for this model (what nanoGPT does), not the slow
eager reference of tools/torch used by the correctness tests."""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, C, H, Fdim):
        super().__init__()
        self.H, self.D = H, C // H
        self.n1 = torch.nn.RMSNorm(C, eps=1e-5)
        self.qkv = torch.nn.Linear(C, 3 * C, bias=False)
        self.o = torch.nn.Linear(C, C, bias=False)
        self.n2 = torch.nn.RMSNorm(C, eps=1e-5)
        self.gateup = torch.nn.Linear(C, 2 * Fdim, bias=False)
        self.down = torch.nn.Linear(Fdim, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.qkv(self.n1(x)).view(B, T, 3, self.H, self.D).permute(2, 0, 3, 1, 4)

        def rope(t):
            t1, t2 = t[..., : self.D // 2], t[..., self.D // 2:]
            return t * cos + torch.cat((-t2, t1), dim=-1) * sin

        y = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, C))
        g, u = self.gateup(self.n2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(g) * u)


class Llama(torch.nn.Module):
    def __init__(self, V, T, C, L, H, Fdim):
        super().__init__()
        self.embed = torch.nn.Embedding(V, C)
        self.blocks = torch.nn.ModuleList(Block(C, H, Fdim) for _ in range(L))
        self.norm = torch.nn.RMSNorm(C, eps=1e-5)
        self.head = torch.nn.Linear(C, V, bias=False)
        D = C // H
        inv = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float32) / D)
        ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        ang = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    for k in ("V", "T", "C", "L", "H", "F", "B"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = "cuda"
    model = Llama(a.V, a.T, a.C, a.L, a.H, a.F).to(dev)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)

    def step(tokens, targets):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(tokens, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    if not a.no_compile:
        model = torch.compile(model)
    data = torch.randint(1, a.V, (a.warmup + a.steps, a.B, a.T + 1), device=dev)
    loss = None
    for i in range(a.warmup):
        loss = step(data[i, :, :-1], data[i, :, 1:])
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        loss = step(data[i, :, :-1], data[i, :, 1:])
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch " + torch.__version__ + (" eager" if a.no_compile else " torch.compile"),
                      "tokens_per_s": a.B * a.T * a.steps / dt, "step_ms": 1e3 * dt / a.steps,
                      "last_loss": float(loss), "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30}))


if __name__ == "__main__":
    main()
