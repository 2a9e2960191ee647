// The llama.cpp (GGUF) name of each of our parameters, so that GGUF export and import both walk
// the one parameter list, for_each_param (model/params.h), instead of spelling the layer's
// tensors again: "model.layers.3.self_attn.q_proj.weight" <-> "blk.3.attn_q.weight". Q and K
// rows are permuted per head in GGUF (llama.cpp rotates interleaved pairs, we rotate halves,
// as HF does); rope_head_dim says so.
#pragma once

#include <string>

#include "model/config.h"
#include "model/params.h"

namespace tlm {

struct GgufTensorName {
  std::string name;       // "blk.3.attn_q.weight"
  int rope_head_dim = 0;  // > 0: rows permuted per head of this size (Q, K)
  bool vocab_rows = false;  // rows are token ids: only the tokenizer's (padding rows are not written)
};

// The GGUF name of parameter p of a model with config c. A name outside the Llama layout is an
// internal error (the layout only makes these).
GgufTensorName gguf_tensor_name(const ParamInfo& p, const ModelConfig& c);

}  // namespace tlm
