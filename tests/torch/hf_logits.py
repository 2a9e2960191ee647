"""Logits of an exported Hugging Face Llama directory (`tweetlm export --format hf`) from the
PyTorch reference, for tests/test_export_hf.cpp.

    /usr/bin/python3 tests/torch/hf_logits.py DIR TOKENS.json OUT.safetensors

Reads DIR/config.json and the weights: model.safetensors, or the shards that
model.safetensors.index.json lists (each tensor must be in the shard the index names, exactly
once). safetensors is parsed by hand (tools/torch/llama_torch.py: an 8-byte little-endian header
length, the JSON header, raw little-endian data; F16 and BF16 become float32), since Debian has
no transformers or safetensors package. The weights go by their HF names into the plain PyTorch
Llama of tools/torch (the model tests/torch/reference.py checks ours against), which runs TOKENS
(a JSON array of ids, one document) and writes logits [T, V] as F32 to OUT.
Exits non-zero with a one-line message on any problem.
"""
import json
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    sys.exit(f"hf_logits.py: {e.name or e} is not installed for {sys.executable} (apt install python3-torch python3-numpy)")

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "torch"))
import llama_torch as lt  # noqa: E402


def read_weights(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        tensors, _ = lt.read_safetensors(single)
        return tensors
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        index = json.load(f)
    weight_map = index["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        if "/" in shard or ".." in shard:
            sys.exit(f"hf_logits.py: shard name {shard!r} is not a plain file name")
        part, _ = lt.read_safetensors(os.path.join(d, shard))
        for name, a in part.items():
            if weight_map.get(name) != shard:
                sys.exit(f"hf_logits.py: {shard}: tensor {name} is not indexed to this shard")
            if name in tensors:
                sys.exit(f"hf_logits.py: tensor {name} appears twice")
            tensors[name] = a
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        sys.exit(f"hf_logits.py: tensors {missing[:3]} are indexed but in no shard")
    return tensors


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: hf_logits.py DIR TOKENS.json OUT.safetensors")
    d, tokens_path, out_path = sys.argv[1:]
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(2)
    cfg = lt.LlamaConfig.from_json(os.path.join(d, "config.json"))
    with open(os.path.join(d, "config.json")) as f:
        raw_cfg = json.load(f)
    if raw_cfg.get("architectures") != ["LlamaForCausalLM"] or raw_cfg.get("model_type") != "llama":
        sys.exit("hf_logits.py: config.json is not a LlamaForCausalLM")
    model = lt.LlamaTorch(cfg)
    tensors = read_weights(d)
    params = dict(model.named_parameters())
    if set(params) != set(tensors):
        sys.exit(f"hf_logits.py: tensor names differ: missing {sorted(set(params) - set(tensors))[:3]}, "
                 f"extra {sorted(set(tensors) - set(params))[:3]}")
    with torch.no_grad():
        for name, p in params.items():
            a = tensors[name]
            if tuple(a.shape) != tuple(p.shape):
                sys.exit(f"hf_logits.py: {name} has shape {list(a.shape)}, expected {list(p.shape)}")
            p.copy_(torch.from_numpy(a.astype(np.float32)))
        with open(tokens_path) as f:
            ids = json.load(f)
        tokens = torch.tensor([ids], dtype=torch.int64)
        T = tokens.shape[1]
        pos = torch.arange(T)[None]
        doc_start = torch.zeros(1, T, dtype=torch.int64)
        logits = model(tokens, pos, doc_start)[0]
    lt.write_safetensors(out_path, {"logits": logits.numpy().astype(np.float32)})


if __name__ == "__main__":
    main()
