"""The PyTorch peer of bench/train_cpu: trains tools/torch/llama_torch.py (the same model as ours,
the one the reference tests compare against) eagerly in fp32 on random tokens, one document per
sequence, with the same step as ours (forward, backward, global-norm clip 1.0, AdamW), and prints
one JSON line with tokens/s. --autocast runs forward and loss under torch.autocast("cpu",
dtype=torch.bfloat16) (bf16 matmuls, fp32 master weights and AdamW), the peer of our bf16 path.
Run by /usr/bin/python3 (Debian python3-torch)."""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch"))
from llama_torch import LlamaConfig, LlamaTorch, train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    for k in ("V", "T", "C", "L", "H", "F", "B"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--autocast", action="store_true", help="bf16 autocast (CPU mixed precision)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=a.V, hidden_size=a.C, num_hidden_layers=a.L, num_attention_heads=a.H,
                      intermediate_size=a.F, max_position_embeddings=a.T)
    model = LlamaTorch(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)

    def batch():
        tokens = torch.randint(1, a.V, (a.B, a.T + 1), dtype=torch.int32)
        pos = torch.arange(a.T, dtype=torch.int32).repeat(a.B, 1)
        return tokens[:, :-1], tokens[:, 1:], pos, torch.zeros(a.B, a.T, dtype=torch.int32)

    batches = [batch() for _ in range(max(a.steps, a.warmup))]
    train(model, batches, a.warmup, lr=1e-3, weight_decay=0.1, clip=1.0, autocast=a.autocast)
    t0 = time.perf_counter()
    losses, _ = train(model, batches, a.steps, lr=1e-3, weight_decay=0.1, clip=1.0, autocast=a.autocast)
    dt = time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
                      "dtype": "bf16 autocast" if a.autocast else "fp32",
                      "tokens_per_s": a.B * a.T * a.steps / dt, "ms_per_step": 1e3 * dt / a.steps,
                      "last_loss": losses[-1]}))


if __name__ == "__main__":
    main()
