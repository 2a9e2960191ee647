"""PyTorch reference for tests/test_model_torch.cpp.

    /usr/bin/python3 tests/torch/reference.py DIR

DIR (written by the C++ test) holds config.json (HF Llama fields), model.safetensors (weights,
HF names), batch.safetensors (I32 tokens, targets, pos, doc_start, each [B, T]) and opt.json
(lr, betas, eps, wd, clip, steps). Writes DIR/out.safetensors, all float32:
  logits [B*T, V], loss [1], grad.<HF name> for every parameter (of the mean loss at the given
  weights), curve [steps] (losses of `steps` AdamW steps on the same batch, each before its
  update) and grad_norm [steps] (global gradient norm before clipping, each step).
Exits non-zero with a one-line message if torch or numpy is missing.
"""
import json
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    sys.exit(f"reference.py: {e.name or e} is not installed for {sys.executable} (apt install python3-torch python3-numpy)")

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "torch"))
import llama_torch as lt  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reference.py DIR")
    d = sys.argv[1]
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(2)

    cfg = lt.LlamaConfig.from_json(os.path.join(d, "config.json"))
    model = lt.LlamaTorch(cfg).load_safetensors(os.path.join(d, "model.safetensors"))
    batch, _ = lt.read_safetensors(os.path.join(d, "batch.safetensors"))
    with open(os.path.join(d, "opt.json")) as f:
        opt = json.load(f)
    tokens, targets, pos, doc_start = (torch.from_numpy(batch[k].astype(np.int64))
                                       for k in ("tokens", "targets", "pos", "doc_start"))
    B, T = tokens.shape
    # The C++ side's document bookkeeping must be what the mask below assumes.
    idx = torch.arange(T)[None].expand(B, T)
    assert torch.equal(pos, idx - doc_start), "pos != index - doc_start"
    assert bool((doc_start <= idx).all()) and bool((doc_start >= 0).all()), "doc_start out of range"

    logits = model(tokens, pos, doc_start)
    loss = lt.loss_fn(logits, targets)
    loss.backward()
    out = {"logits": logits.detach().reshape(B * T, cfg.vocab_size), "loss": loss.detach().reshape(1)}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach()
    model.zero_grad(set_to_none=True)

    curve, norms = lt.train(model, [(tokens, targets, pos, doc_start)], steps=int(opt["steps"]), lr=opt["lr"],
                            betas=opt["betas"], eps=opt["eps"], weight_decay=opt["wd"], clip=opt["clip"])
    out["curve"] = np.array(curve, dtype=np.float32)
    out["grad_norm"] = np.array(norms, dtype=np.float32)
    out = {k: (v.numpy() if isinstance(v, torch.Tensor) else v).astype(np.float32) for k, v in out.items()}
    lt.write_safetensors(os.path.join(d, "out.safetensors"), out)


if __name__ == "__main__":
    main()
