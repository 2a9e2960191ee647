"""What the two PyTorch peers (peer_train.py, peer_decode.py) share: the plain-PyTorch RMSNorm and
rotate-half RoPE a user writes (with its cos/sin tables and the additive causal mask, built once
as buffers), and whether this torch has scaled_dot_product_attention. The
peers' blocks differ (training: causal batch attention; decoding: a KV cache), so only these
pieces live here. Not tools/torch/llama_torch.py: that is the tests' correctness reference."""
import torch
import torch.nn as nn
import torch.nn.functional as F

HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def register_rope_and_mask(module, T, D, theta=10000.0):
    """Buffers cos, sin [T, D] (rotate-half RoPE) and mask [T, T] (0 on and below the diagonal,
    -inf above), computed once."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    ang = torch.cat((ang, ang), dim=-1)  # [T, D]
    module.register_buffer("cos", ang.cos(), persistent=False)
    module.register_buffer("sin", ang.sin(), persistent=False)
    module.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1), persistent=False)


class BlockLayers(nn.Module):
    """The weights of one Llama block, registered in one order for both peers (fused qkv and
    gate/up, no biases), and its SwiGLU MLP half with the residual. Each peer's Block adds its
    own attention (causal batch or KV cache)."""

    def __init__(self, C, H, Fdim):
        super().__init__()
        self.H, self.D = H, C // H
        self.attn_norm = RMSNorm(C)
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.o = nn.Linear(C, C, bias=False)
        self.mlp_norm = RMSNorm(C)
        self.gateup = nn.Linear(C, 2 * Fdim, bias=False)
        self.down = nn.Linear(Fdim, C, bias=False)

    def mlp(self, x):
        gate, up = self.gateup(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)
