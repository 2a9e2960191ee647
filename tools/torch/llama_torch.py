"""A plain PyTorch Llama, identical in arithmetic to tweetlm's CPU model, for reference tests
(tests/torch/reference.py) and the training benchmark (bench/peer_train.py).

Same architecture and conventions as src/model and src/ops: token embedding, L blocks of
[x + o_proj(attention(rope(q), rope(k), v)) on RMSNorm(x); x + down(silu(gate(h)) * up(h)) on
RMSNorm(x)], final RMSNorm, lm_head (tied to embed_tokens when the file has no lm_head.weight).
Parameter names are the Hugging Face Llama ones, so a tweetlm safetensors file loads as is.

Packed tweets: every token carries its position within its document (pos, RoPE restarts at each
tweet) and the index of its document's first token (doc_start); query i sees key j iff
doc_start[i] <= j <= i. RoPE is HF's rotate_half with inv_freq = 1 / theta^(2i/D).

No dependency beyond torch and numpy: safetensors is read and written here with struct + json
(the format is an 8-byte little-endian header length, a JSON header, raw little-endian data).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --- safetensors ---

_NP_DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8", "U8": "u1", "F64": "<f8"}
_TO_ST = {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16", np.dtype("<i4"): "I32", np.dtype("<i8"): "I64",
          np.dtype("u1"): "U8", np.dtype("<f8"): "F64"}


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata dict). BF16 tensors come back as float32."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", None) or {}
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        buf = raw[base + begin:base + end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(buf, dtype=_NP_DTYPES[e["dtype"]])
        out[name] = a.reshape(e["shape"]).copy()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: numpy array or torch tensor}, written in the given order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        b = a.tobytes()
        header[name] = {"dtype": _TO_ST[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# --- config ---

class LlamaConfig:
    """The Hugging Face config.json fields tweetlm writes (ModelConfig::to_hf_json)."""

    def __init__(self, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads=None,
                 head_dim=None, intermediate_size=None, rope_theta=10000.0, rms_norm_eps=1e-5,
                 tie_word_embeddings=False, max_position_embeddings=256, **_ignored):
        self.vocab_size = int(vocab_size)
        self.hidden_size = int(hidden_size)
        self.num_hidden_layers = int(num_hidden_layers)
        self.num_attention_heads = int(num_attention_heads)
        self.num_key_value_heads = int(num_key_value_heads or num_attention_heads)
        self.head_dim = int(head_dim or hidden_size // num_attention_heads)
        self.intermediate_size = int(intermediate_size)
        self.rope_theta = float(rope_theta)
        self.rms_norm_eps = float(rms_norm_eps)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.max_position_embeddings = int(max_position_embeddings)
        assert self.num_attention_heads % self.num_key_value_heads == 0, "KV heads must divide heads"
        assert self.head_dim % 2 == 0, "RoPE needs an even head_dim"

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls(**json.load(f))


# --- model ---

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # As HF LlamaRMSNorm (in float32): x * rsqrt(mean(x^2) + eps) * weight.
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(pos, head_dim, theta):
    """cos, sin [B, 1, T, D] for per-token positions pos [B, T]."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = pos.to(torch.float32)[..., None] * inv_freq  # [B, T, D/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[:, None], emb.sin()[:, None]


def document_mask(doc_start):
    """[B, 1, T, T] bool: query i sees key j iff doc_start[i] <= j <= i."""
    T = doc_start.shape[1]
    j = torch.arange(T)
    i = j[:, None]
    return ((j[None, None, :] <= i[None]) & (j[None, None, :] >= doc_start[:, :, None].long()))[:, None]


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, H, KVH, D = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.H, self.KVH, self.D = H, KVH, D
        self.q_proj = nn.Linear(C, H * D, bias=False)
        self.k_proj = nn.Linear(C, KVH * D, bias=False)
        self.v_proj = nn.Linear(C, KVH * D, bias=False)
        self.o_proj = nn.Linear(H * D, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.KVH, self.D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.KVH, self.D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Grouped-query attention: query head h reads KV head h // (H / KVH).
        rep = self.H // self.KVH
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.D)
        scores = scores.masked_fill(~mask, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # [B, H, T, D]
        return self.o_proj(att.transpose(1, 2).reshape(B, T, self.H * self.D))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, Fd = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(C, Fd, bias=False)
        self.up_proj = nn.Linear(C, Fd, bias=False)
        self.down_proj = nn.Linear(Fd, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class _Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaTorch(nn.Module):
    """named_parameters() gives the HF names (model.layers.0.self_attn.q_proj.weight, ...)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = _Backbone(cfg)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(self, tokens, pos, doc_start):
        """tokens, pos, doc_start: int tensors [B, T]. Returns logits [B, T, V]."""
        cos, sin = rope_cos_sin(pos, self.cfg.head_dim, self.cfg.rope_theta)
        mask = document_mask(doc_start)
        x = self.model.embed_tokens(tokens.long())
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return x @ w.t()

    def load_safetensors(self, path):
        """Loads every parameter by HF name (F32/F16/BF16 converted); missing or extra tensors
        and shape mismatches raise ValueError naming the file and tensor."""
        tensors, _ = read_safetensors(path)
        params = dict(self.named_parameters())
        for name, p in params.items():
            if name not in tensors:
                raise ValueError(f"{path}: tensor {name} is missing")
            a = tensors[name]
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"{path}: tensor {name} has shape {list(a.shape)}, expected {list(p.shape)}")
            with torch.no_grad():
                p.copy_(torch.from_numpy(a.astype(np.float32)))
        extra = sorted(set(tensors) - set(params))
        if extra:
            raise ValueError(f"{path}: unexpected tensors {extra}")
        return self


def loss_fn(logits, targets):
    """Mean cross-entropy over targets >= 0 (negative targets carry no loss)."""
    V = logits.shape[-1]
    t = targets.reshape(-1).long()
    t = torch.where(t < 0, torch.full_like(t, -1), t)
    return F.cross_entropy(logits.reshape(-1, V), t, ignore_index=-1)


def decayed(name, param, decay_embeddings=False):
    """tweetlm's rule (ParamLayout): weight decay for 2-D matrices, not norms, and not the
    embedding unless asked (a tied lm_head is the embedding)."""
    if name == "model.embed_tokens.weight":
        return decay_embeddings
    return param.dim() == 2


def make_optimizer(model, lr, betas, eps, weight_decay, decay_embeddings=False, decay_names=None):
    """torch.optim.AdamW with two groups: weight decay for the names in decay_names (default:
    tweetlm's rule, `decayed`), none for the rest."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        d = name in decay_names if decay_names is not None else decayed(name, p, decay_embeddings)
        (decay if d else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps)


def train(model, batches, steps, lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, clip=0.0,
          decay_embeddings=False, decay_names=None, autocast=False):
    """`steps` AdamW steps; step k uses batches[k % len(batches)], each a (tokens, targets, pos,
    doc_start) tuple of [B, T] tensors. Returns (losses, grad_norms): step k's loss is computed
    before step k's update; grad_norm is the global norm before clipping (clip <= 0: none).
    autocast: forward and loss under torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's CPU
    mixed precision (bf16 matmuls, fp32 parameters and optimizer), the peer of `--dtype bf16`."""
    opt = make_optimizer(model, lr, betas, eps, weight_decay, decay_embeddings, decay_names)
    losses, norms = [], []
    for k in range(steps):
        tokens, targets, pos, doc_start = batches[k % len(batches)]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model(tokens, pos, doc_start), targets)
        loss.backward()
        if clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        else:
            norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters() if p.grad is not None))
        opt.step()
        losses.append(float(loss))
        norms.append(float(norm))
    return losses, norms
