// One flat float buffer holds all parameters (and, with the same layout, their gradients and
// the optimizer moments). ParamLayout lists the tensors in buffer order with their Hugging Face
// Llama names and shapes; for_each_param is the one visitor that allocation, initialisation,
// checkpoint I/O, export, the optimizer and all-reduce use, so they can never disagree.
//
// Per layer the order is input_layernorm, q, k, v, o, post_attention_layernorm, gate, up, down:
// q/k/v are adjacent, so one matmul against the [(H + 2 KVH) D, C] block computes all three,
// and gate/up are adjacent for the same reason (fused SwiGLU input).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"

namespace tlm {

struct ParamInfo {
  std::string name;           // HF name, e.g. "model.layers.3.self_attn.q_proj.weight"
  std::vector<size_t> shape;  // row-major, PyTorch layout
  size_t offset = 0;          // in floats from the start of the buffer
  size_t size = 0;            // product of shape
  bool decay = false;         // AdamW weight decay applies (2-D matrices, not norms/embeddings)
  bool is_norm = false;       // RMSNorm weight (initialised to 1)
};

class ParamLayout {
 public:
  explicit ParamLayout(const ModelConfig& cfg, bool decay_embeddings = false);
  const std::vector<ParamInfo>& params() const { return params_; }
  size_t total() const { return total_; }
  const ParamInfo* find(const std::string& name) const;

 private:
  std::vector<ParamInfo> params_;
  size_t total_ = 0;
};

void for_each_param(const ParamLayout& layout, const std::function<void(const ParamInfo&)>& fn);

// Typed pointers into one buffer laid out by ParamLayout (the parameters or the gradients).
struct LayerWeights {
  float* attn_norm;  // [C]
  float* wqkv;       // [(H + 2 KVH) D, C]: q_proj, k_proj, v_proj rows back to back
  float* wo;         // [C, H D]
  float* mlp_norm;   // [C]
  float* wgateup;    // [2F, C]: gate_proj then up_proj
  float* wdown;      // [C, F]
};

struct Weights {
  float* embed = nullptr;    // [V, C]
  std::vector<LayerWeights> layers;
  float* norm = nullptr;     // [C]
  float* lm_head = nullptr;  // [V, C] (== embed when tied)
};

Weights bind_weights(const ModelConfig& cfg, const ParamLayout& layout, float* base);

// GPT-2/Llama initialisation, reproducible from the seed: normal(0, 0.02) for matrices, the
// residual output projections (o_proj, down_proj) scaled by 1/sqrt(2L), norms 1. Each tensor
// draws from its own Philox stream (its index), so the values do not depend on thread count.
void init_params(const ModelConfig& cfg, const ParamLayout& layout, float* base, uint64_t seed);

}  // namespace tlm
