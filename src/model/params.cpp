// ParamLayout (names, shapes, offsets in buffer order), bind_weights and init_params.
#include "model/params.h"

#include <cmath>

#include "core/check.h"
#include "core/rng.h"

namespace tlm {

ParamLayout::ParamLayout(const ModelConfig& cfg, bool decay_embeddings) {
  size_t V = cfg.vocab_size, C = cfg.dim, F = cfg.ffn_dim, Q = cfg.q_dim(), KV = cfg.kv_dim();
  auto add = [&](std::string name, std::vector<size_t> shape, bool decay, bool is_norm) {
    ParamInfo p;
    p.name = std::move(name);
    p.shape = std::move(shape);
    p.size = 1;
    for (size_t s : p.shape) p.size *= s;
    p.offset = total_;
    p.decay = decay;
    p.is_norm = is_norm;
    total_ += p.size;
    params_.push_back(std::move(p));
  };
  add("model.embed_tokens.weight", {V, C}, decay_embeddings, false);
  for (int l = 0; l < cfg.n_layers; l++) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    add(pre + "input_layernorm.weight", {C}, false, true);
    add(pre + "self_attn.q_proj.weight", {Q, C}, true, false);
    add(pre + "self_attn.k_proj.weight", {KV, C}, true, false);
    add(pre + "self_attn.v_proj.weight", {KV, C}, true, false);
    add(pre + "self_attn.o_proj.weight", {C, Q}, true, false);
    add(pre + "post_attention_layernorm.weight", {C}, false, true);
    add(pre + "mlp.gate_proj.weight", {F, C}, true, false);
    add(pre + "mlp.up_proj.weight", {F, C}, true, false);
    add(pre + "mlp.down_proj.weight", {C, F}, true, false);
  }
  add("model.norm.weight", {C}, false, true);
  if (!cfg.tied_embeddings) add("lm_head.weight", {V, C}, true, false);
}

const ParamInfo* ParamLayout::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

void for_each_param(const ParamLayout& layout, const std::function<void(const ParamInfo&)>& fn) {
  for (const auto& p : layout.params()) fn(p);
}

Weights bind_weights(const ModelConfig& cfg, const ParamLayout& layout, float* base) {
  auto at = [&](const std::string& name) {
    const ParamInfo* p = layout.find(name);
    TLM_CHECK(p, "parameter %s missing from the layout", name.c_str());
    return base + p->offset;
  };
  Weights w;
  w.embed = at("model.embed_tokens.weight");
  for (int l = 0; l < cfg.n_layers; l++) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.attn_norm = at(pre + "input_layernorm.weight");
    lw.wqkv = at(pre + "self_attn.q_proj.weight");
    lw.wo = at(pre + "self_attn.o_proj.weight");
    lw.mlp_norm = at(pre + "post_attention_layernorm.weight");
    lw.wgateup = at(pre + "mlp.gate_proj.weight");
    lw.wdown = at(pre + "mlp.down_proj.weight");
    // The fused products rely on adjacency; the layout guarantees it, this keeps it honest.
    TLM_CHECK(at(pre + "self_attn.v_proj.weight") + size_t(cfg.kv_dim()) * cfg.dim ==
                  lw.wqkv + size_t(cfg.qkv_dim()) * cfg.dim, "q/k/v not adjacent");
    TLM_CHECK(at(pre + "mlp.up_proj.weight") == lw.wgateup + size_t(cfg.ffn_dim) * cfg.dim, "gate/up not adjacent");
    w.layers.push_back(lw);
  }
  w.norm = at("model.norm.weight");
  w.lm_head = cfg.tied_embeddings ? w.embed : at("lm_head.weight");
  return w;
}

void init_params(const ModelConfig& cfg, const ParamLayout& layout, float* base, uint64_t seed) {
  const float std_dev = 0.02f;
  const float residual_std = std_dev / std::sqrt(2.0f * float(cfg.n_layers));
  const auto& ps = layout.params();
  for (size_t i = 0; i < ps.size(); i++) {
    const ParamInfo& p = ps[i];
    float* x = base + p.offset;
    if (p.is_norm) {
      for (size_t k = 0; k < p.size; k++) x[k] = 1.0f;
      continue;
    }
    bool residual_out = p.name.ends_with("o_proj.weight") || p.name.ends_with("down_proj.weight");
    float s = residual_out ? residual_std : std_dev;
    Rng rng(seed, i);  // one stream per tensor: values independent of order and threads
    for (size_t k = 0; k < p.size; k++) x[k] = s * rng.normal();
  }
}

}  // namespace tlm
