// ModelConfig: sizes, FLOP counts, validation, HF config.json mapping and the named presets.
#include "model/config.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace tlm {

size_t ModelConfig::num_matmul_params() const {
  size_t C = size_t(dim), per_layer = size_t(qkv_dim()) * C + C * size_t(q_dim()) + 3 * C * size_t(ffn_dim);
  // The lm_head is a product whether or not it shares its weights with the embedding.
  return per_layer * size_t(n_layers) + size_t(vocab_size) * C;
}

size_t ModelConfig::num_params() const {
  size_t C = size_t(dim);
  size_t total = num_matmul_params() + size_t(n_layers) * 2 * C + C;  // + norms
  if (!tied_embeddings) total += size_t(vocab_size) * C;               // embedding table
  return total;
}

double ModelConfig::train_flops_per_token(double mean_keys) const {
  // Forward 2 FLOPs per multiply-add, backward twice the forward: 6 per parameter per token.
  // Attention: QK^T and PV are 2 * 2 * H * D * keys in forward, times 3 for training.
  return 6.0 * double(num_matmul_params()) + 12.0 * n_layers * double(n_heads) * head_dim * mean_keys;
}

void ModelConfig::validate(const std::string& what) const {
  auto positive = [&](int v, const char* name) {
    if (v <= 0) throw user_error(what, "%s must be positive (got %d)", name, v);
  };
  positive(vocab_size, "vocabulary size");
  positive(max_seq_len, "context length");
  positive(dim, "model dimension");
  positive(n_layers, "number of layers");
  positive(n_heads, "number of heads");
  positive(n_kv_heads, "number of KV heads");
  positive(head_dim, "head dimension");
  positive(ffn_dim, "feed-forward dimension");
  if (n_heads % n_kv_heads != 0)
    throw user_error(what, "the number of heads (%d) must be a multiple of the KV heads (%d)", n_heads, n_kv_heads);
  if (head_dim % 2 != 0) throw user_error(what, "head dimension must be even for RoPE (got %d)", head_dim);
  if (!(rope_theta > 0)) throw user_error(what, "rope theta must be positive");
  if (!(norm_eps > 0)) throw user_error(what, "norm epsilon must be positive");
  // Guard the int arithmetic of the ops (rows x columns fit comfortably in 2^31 per row).
  if (vocab_size > (1 << 24) || dim > (1 << 16) || ffn_dim > (1 << 18) || max_seq_len > (1 << 20) ||
      qkv_dim() > (1 << 18))
    throw user_error(what, "dimensions are too large for this build");
}

nlohmann::json ModelConfig::to_hf_json() const {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", vocab_size},
          {"max_position_embeddings", max_seq_len},
          {"hidden_size", dim},
          {"num_hidden_layers", n_layers},
          {"num_attention_heads", n_heads},
          {"num_key_value_heads", n_kv_heads},
          {"head_dim", head_dim},
          {"intermediate_size", ffn_dim},
          {"rope_theta", rope_theta},
          {"rms_norm_eps", norm_eps},
          {"tie_word_embeddings", tied_embeddings},
          {"hidden_act", "silu"},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"torch_dtype", "float32"}};
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) throw user_error(what, "model config is not a JSON object");
  auto get_int = [&](const char* key, bool required, int fallback) -> int {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) throw user_error(what, "model config lacks \"%s\"", key);
      return fallback;
    }
    if (!it->is_number_integer()) throw user_error(what, "model config \"%s\" is not an integer", key);
    auto v = it->get<int64_t>();
    if (v <= 0 || v > (int64_t(1) << 30)) throw user_error(what, "model config \"%s\" is out of range", key);
    return int(v);
  };
  auto get_float = [&](const char* key, float fallback) -> float {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw user_error(what, "model config \"%s\" is not a number", key);
    return it->get<float>();
  };
  ModelConfig c;
  c.vocab_size = get_int("vocab_size", true, 0);
  c.dim = get_int("hidden_size", true, 0);
  c.n_layers = get_int("num_hidden_layers", true, 0);
  c.n_heads = get_int("num_attention_heads", true, 0);
  c.n_kv_heads = get_int("num_key_value_heads", false, c.n_heads);
  c.head_dim = get_int("head_dim", false, c.dim / c.n_heads);
  c.ffn_dim = get_int("intermediate_size", true, 0);
  c.max_seq_len = get_int("max_position_embeddings", false, 2048);
  c.rope_theta = get_float("rope_theta", 10000.0f);
  c.norm_eps = get_float("rms_norm_eps", 1e-6f);
  auto tie = j.find("tie_word_embeddings");
  c.tied_embeddings = tie != j.end() && tie->is_boolean() && tie->get<bool>();
  c.validate(what);
  return c;
}

void apply_dims(ModelConfig& c, const ModelDims& d, bool gated_mlp) {
  const std::pair<int, const char*> given[] = {{d.dim, "--dim"}, {d.layers, "--layers"}, {d.heads, "--heads"},
                                               {d.kv_heads, "--kv-heads"}, {d.ffn, "--ffn"}, {d.head_dim, "--head-dim"}};
  for (const auto& [v, flag] : given)
    if (v < 0) throw user_error(flag, "must be positive, got %d", v);
  if (d.dim) c.dim = d.dim;
  if (d.layers) c.n_layers = d.layers;
  if (d.heads) c.n_heads = d.heads;
  c.n_kv_heads = d.kv_heads ? d.kv_heads : (d.heads ? c.n_heads : c.n_kv_heads);
  if (d.head_dim) {
    c.head_dim = d.head_dim;
  } else if (d.dim || d.heads) {
    if (c.dim % c.n_heads != 0)
      throw user_error("--heads", "%d does not divide --dim %d (give --head-dim to choose the head size)", c.n_heads,
                       c.dim);
    c.head_dim = c.dim / c.n_heads;
  }
  if (d.ffn) c.ffn_dim = d.ffn;
  else if (d.dim) c.ffn_dim = gated_mlp ? (8 * c.dim / 3 + 15) / 16 * 16 : 4 * c.dim;
}

ModelConfig ModelConfig::preset(const std::string& name) {
  ModelConfig c;
  auto set = [&](int T, int C, int L, int H, int F) {
    c.max_seq_len = T, c.dim = C, c.n_layers = L, c.n_heads = H, c.n_kv_heads = H, c.head_dim = C / H, c.ffn_dim = F;
  };
  if (name == "tiny") set(128, 128, 2, 2, 352);
  else if (name == "small") set(128, 256, 4, 4, 688);
  else if (name == "33m") set(256, 512, 8, 8, 1376);
  else if (name == "124m") set(1024, 768, 12, 12, 2048);
  else throw user_error("--model", "unknown preset '%s' (expected tiny, small, 33m or 124m)", name.c_str());
  return c;
}

}  // namespace tlm
